package siem_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
)

// A receiver verifies the signature over the raw body before it decodes
// anything.
func ExampleVerifySignature() {
	secret := []byte("whsec-example-secret-of-32-bytes-or-more")
	body := []byte(`{"id":"0190a8e4-0000-7000-8000-000000000001"}` + "\n")
	key := "5eddd5a143ee76e45c2a977126790dd3" // the request's Idempotency-Key
	sent := time.Unix(1780315200, 0)
	header, _ := siem.Sign(secret, sent, key, body) // what the sink puts in Trailmark-Signature
	fmt.Println(header)

	fmt.Println(siem.VerifySignature(secret, header, key, body, sent.Add(time.Minute), 0))
	fmt.Println(siem.VerifySignature(secret, header, key, body, sent.Add(time.Hour), 0))
	fmt.Println(siem.VerifySignature(secret, header, "a-fresh-key", body, sent, 0))
	fmt.Println(siem.VerifySignature([]byte("short"), header, key, body, sent, 0))
	// Output:
	// t=1780315200,v2=62ecaa57f8e6a6ea2a570bd206e56d9384dc9603eaaf0acb0672e56d48616d30
	// <nil>
	// audit: siem: signature timestamp outside tolerance
	// audit: siem: signature does not match
	// audit: siem: the secret must be at least 32 bytes
}

// The Logger writes to the memory store through a Tee, which streams the
// records it accepted to a SIEM collector (here a local receiver that
// verifies and prints them).
func ExampleNewTee() {
	secret := []byte("whsec-example-secret-of-32-bytes-or-more")
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if err := siem.VerifySignature(secret, r.Header.Get(siem.SignatureHeader), r.Header.Get(siem.IdempotencyHeader), raw, time.Now(), 0); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		zr, _ := gzip.NewReader(bytes.NewReader(raw))
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			var rec audit.Record
			_ = json.Unmarshal(sc.Bytes(), &rec)
			fmt.Println("collector got", rec.Action, rec.UserID)
		}
	}))
	defer collector.Close()

	sink, _ := siem.NewHTTP(collector.URL, &siem.HTTPOptions{Secret: secret})
	defer sink.Close(context.Background())
	tee, _ := siem.NewTee(memory.New(nil), []siem.Stream{{Name: "siem", Sink: sink}}, nil)
	logger, _ := audit.New(tee, &audit.Options{NoLifecycleEvents: true})

	ctx := audit.WithActor(context.Background(), audit.Actor{UserID: "u-42"})
	_ = logger.Log(ctx, audit.Event{Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: "u-42", Status: audit.StatusSuccess})

	_ = logger.Close(ctx) // writes what the Logger has queued
	_ = tee.Close(ctx)    // then sends what the streams have queued
	st := tee.Stats().Streams[0]
	fmt.Println("sent", st.Sent, "dropped", len(st.Dropped))
	// Output:
	// collector got user.login u-42
	// sent 1 dropped 0
}

// A durable stream keeps its position in the store: a Tee closed before
// its collector came back leaves the records in the store, and the next
// Tee over the same store (after a restart, in a real service) sends
// them by itself.
func ExampleTeeOptions_positions() {
	var up atomic.Bool
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			var rec audit.Record
			_ = json.Unmarshal(sc.Bytes(), &rec)
			fmt.Println("collector got", rec.Action, rec.ResourceID)
		}
	}))
	defer collector.Close()
	sink, _ := siem.NewHTTP(collector.URL, &siem.HTTPOptions{NoGzip: true})
	defer sink.Close(context.Background())

	store := memory.New(nil) // SQLite or PostgreSQL keep the position across restarts
	streams := []siem.Stream{{Name: "siem", Sink: sink}}
	opts := &siem.TeeOptions{Positions: store}
	ctx := context.Background()

	tee, _ := siem.NewTee(store, streams, opts)
	logger, _ := audit.New(tee, &audit.Options{NoLifecycleEvents: true})
	_ = logger.Log(ctx, audit.Event{Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: "u-42", Status: audit.StatusSuccess})
	_ = logger.Close(ctx)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	fmt.Println("first Tee closed:", tee.Close(short) != nil) // the collector is down: not delivered
	cancel()

	up.Store(true)
	tee, _ = siem.NewTee(store, streams, opts) // resumes from the saved position
	_ = tee.Close(ctx)                         // a last walk, to the end
	fmt.Println("sent", tee.Stats().Streams[0].Sent)
	// Output:
	// first Tee closed: true
	// collector got user.login u-42
	// sent 1
}
