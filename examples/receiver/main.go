// Command receiver is a tiny stream receiver: it verifies the signature of
// each batch a siem.HTTPSink sends — over the Idempotency-Key and the
// body — drops batches whose key it has already seen, and prints the
// records, one JSON line each.
//
//	export STREAM_SECRET=$(openssl rand -hex 32)
//	go run ./examples/receiver -addr 127.0.0.1:9000
//	STREAM_URL=http://127.0.0.1:9000/ go run ./examples/service
//
// STREAM_SECRET must be at least 32 bytes (siem.MinSecretLen); a
// shorter one is refused. Without STREAM_SECRET it accepts unsigned
// batches (and says so): anyone can then send it anything, under any key.
// It keeps the keys it has seen in memory, without bound: a demo.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/trailmark/audit/siem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	flag.Parse()
	secret := []byte(os.Getenv("STREAM_SECRET"))
	switch {
	case len(secret) == 0:
		fmt.Fprintln(os.Stderr, "STREAM_SECRET is not set: accepting unsigned batches")
	case len(secret) < siem.MinSecretLen:
		fmt.Fprintf(os.Stderr, "STREAM_SECRET must be at least %d bytes\n", siem.MinSecretLen)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "receiving on http://%s/\n", *addr)
	srv := &http.Server{Addr: *addr, Handler: newHandler(secret, os.Stdout, os.Stderr), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// newHandler verifies, dedupes and prints batches: records to out, notes
// to log. With a secret, the key it dedupes on is the Idempotency-Key the
// signature covers: a captured batch sent again under a fresh key fails
// verification, and under its own key is a duplicate.
func newHandler(secret []byte, out, log io.Writer) http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		key := r.Header.Get(siem.IdempotencyHeader)
		if len(secret) > 0 {
			// Verify the key and the raw bytes before decoding anything.
			if err := siem.VerifySignature(secret, r.Header.Get(siem.SignatureHeader), key, raw, time.Now(), 0); err != nil {
				fmt.Fprintln(log, "rejected:", err)
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
		}
		mu.Lock()
		dup := seen[key]
		seen[key] = true
		mu.Unlock()
		if dup {
			fmt.Fprintln(log, "duplicate batch", key, "ignored")
			w.WriteHeader(http.StatusOK)
			return
		}
		var body io.Reader = bytes.NewReader(raw)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(body)
			if err != nil {
				http.Error(w, "bad gzip", http.StatusBadRequest)
				return
			}
			body = zr
		}
		var lines bytes.Buffer
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			lines.Write(sc.Bytes())
			lines.WriteByte('\n')
		}
		if err := sc.Err(); err != nil {
			mu.Lock()
			delete(seen, key) // let a retry through
			mu.Unlock()
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		out.Write(lines.Bytes())
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
}
