package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/trailmark/audit/chain/witness"
)

// witnessKeyFile is what witness-keygen writes and witness reads: the
// witness's name and its Ed25519 private key (64 bytes, base64).
type witnessKeyFile struct {
	Name       string `json:"name"`
	PrivateKey []byte `json:"private_key"`
}

// maxWitnessKeyFile bounds what readWitnessKey reads.
const maxWitnessKeyFile = 64 << 10

// witnessKeygen writes a new witness key file and prints the witness's
// verifier key, which logs and verifiers configure.
func (c cli) witnessKeygen(_ context.Context, args []string) error {
	fs := c.flags("witness-keygen")
	name := fs.String("name", "", "the witness's name, a key name of C2SP signed-note such as example.com/witness (required)")
	out := fs.String("o", "", "write the key file here, created with mode 0600; refuses to overwrite (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *out == "" {
		return errors.New("witness-keygen needs -name and -o")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	vkey, err := witness.VerifierKey(*name, pub)
	if err != nil {
		return fmt.Errorf("-name: %w", err)
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(witnessKeyFile{Name: *name, PrivateKey: priv}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, vkey)
	return nil
}

// readWitnessKey reads a witness key file, warning when others may read it.
// Its errors never quote the file's content.
func (c cli) readWitnessKey(path string) (witnessKeyFile, error) {
	var k witnessKeyFile
	f, err := os.Open(path)
	if err != nil {
		return k, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(c.stderr, "auditctl: warning: witness key file %s has mode %04o: its group or others may read the key; run chmod 600 %s\n",
			path, fi.Mode().Perm(), path)
	}
	if err := json.NewDecoder(io.LimitReader(f, maxWitnessKeyFile)).Decode(&k); err != nil {
		return k, fmt.Errorf("witness key file %s: not a witness key file (auditctl witness-keygen writes one)", path)
	}
	if k.Name == "" || len(k.PrivateKey) != ed25519.PrivateKeySize {
		return k, fmt.Errorf("witness key file %s: needs a name and a 64-byte Ed25519 private key", path)
	}
	// an Ed25519 private key is its seed, then the seed's public key:
	// another public half would cosign what its vkey does not verify
	if !bytes.Equal(ed25519.NewKeyFromSeed(k.PrivateKey[:ed25519.SeedSize]), k.PrivateKey) {
		return k, fmt.Errorf("witness key file %s: the private key's public half is not its seed's", path)
	}
	return k, nil
}

// logFlags is the repeatable -log flag: a log's verifier key.
type logFlags []string

func (l *logFlags) String() string     { return strings.Join(*l, ",") }
func (l *logFlags) Set(v string) error { *l = append(*l, v); return nil }

// witness runs a witness (C2SP tlog-witness) until ctx ends: it cosigns
// the checkpoints of the logs given by -log, each only with a valid
// consistency proof from the last one it cosigned.
func (c cli) witness(ctx context.Context, args []string) error {
	fs := c.flags("witness")
	keyPath := fs.String("key", "", "the witness key file (auditctl witness-keygen) (required)")
	state := fs.String("state", "", "the witness's state file: the last tree it cosigned of each log (required; keep it: a witness that forgets can be forked)")
	addr := fs.String("addr", "127.0.0.1:7380", "listen address")
	var logs logFlags
	fs.Var(&logs, "log", "a log to witness, by its verifier key (`origin+hash+key`, as Sealer checkpoints are signed; repeat for more)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyPath == "" || *state == "" || len(logs) == 0 {
		return errors.New("witness needs -key, -state and at least one -log")
	}
	k, err := c.readWitnessKey(*keyPath)
	if err != nil {
		return err
	}
	var wl []witness.Log
	for _, vkey := range logs {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return fmt.Errorf("-log %q is not a verifier key (origin+hash+key): %w", vkey, err)
		}
		wl = append(wl, witness.Log{Origin: v.Name(), Verifier: v})
	}
	w, err := witness.New(k.Name, ed25519.PrivateKey(k.PrivateKey), wl, *state,
		&witness.Options{OnError: func(err error) { fmt.Fprintln(c.stderr, "auditctl: witness:", err) }})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "witness %s listening on http://%s/add-checkpoint; its verifier key:\n%s\n", k.Name, ln.Addr(), w.VerifierKey())
	srv := &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	}
}
