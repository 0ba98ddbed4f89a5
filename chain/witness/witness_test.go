package witness

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/internal/tlogtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// testLog is a log: a tree and a key that signs its checkpoints.
type testLog struct {
	origin   string
	signer   note.Signer
	verifier note.Verifier
	tree     tlogtest.Tree
}

func newTestLog(t testing.TB, origin string, seed byte) *testLog {
	t.Helper()
	s, err := checkpoint.NewSigner(origin, key(seed))
	if err != nil {
		t.Fatal(err)
	}
	v, err := checkpoint.NewVerifier(origin, key(seed).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{origin: origin, signer: s, verifier: v}
}

// signed returns the log's checkpoint at size, signed by its key.
func (l *testLog) signed(t testing.TB, size int64) []byte {
	t.Helper()
	msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: l.origin, Size: size, Hash: l.tree.Root(size)}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func (l *testLog) prove(_ context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
	return l.tree.ProveTree(newSize, oldSize), nil
}

func (l *testLog) entry() Log { return Log{Origin: l.origin, Verifier: l.verifier} }

// fixedClock is a clock that reads 2026-12-07T05:00:00Z.
func fixedClock() time.Time { return time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC) }

// testWitness is a witness served over loopback HTTP.
type testWitness struct {
	w        *Witness
	srv      *httptest.Server
	client   *Client
	verifier note.Verifier
	path     string
	errs     *errorList
}

type errorList struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorList) add(err error) { e.mu.Lock(); e.errs = append(e.errs, err); e.mu.Unlock() }
func (e *errorList) len() int      { e.mu.Lock(); defer e.mu.Unlock(); return len(e.errs) }

func newTestWitness(t testing.TB, name string, seed byte, path string, logs ...*testLog) *testWitness {
	t.Helper()
	var entries []Log
	for _, l := range logs {
		entries = append(entries, l.entry())
	}
	errs := &errorList{}
	w, err := New(name, key(seed), entries, path, &Options{Now: fixedClock, OnError: errs.add, MaxRequestSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	v, err := NewVerifier(w.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(srv.URL, v, &ClientOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return &testWitness{w: w, srv: srv, client: c, verifier: v, path: path, errs: errs}
}

// post sends a raw add-checkpoint body and returns the status, the
// Content-Type and the body of the answer.
func (tw *testWitness) post(t *testing.T, body []byte) (int, string, string) {
	t.Helper()
	resp, err := tw.srv.Client().Post(tw.srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestAddCheckpoint follows a growing log over HTTP: the first checkpoint
// without a proof, the next ones with proofs from the last, and checks
// each cosignature against the specification by hand and with x/mod's
// note.
func TestAddCheckpoint(t *testing.T) {
	t.Parallel()
	log := newTestLog(t, "example.com/audit", 1)
	tw := newTestWitness(t, "witness.example/w1", 9, filepath.Join(t.TempDir(), "state.json"), log)
	ctx := t.Context()
	old := int64(0)
	for _, size := range []int64{0, 1, 2, 3, 255, 256, 257, 1000, 1000, 4097} {
		log.tree.AppendN("record", int(size-log.tree.Size()))
		signed := log.signed(t, size)
		lines, err := tw.client.AddCheckpoint(ctx, old, log.tree.ProveTree(size, old), signed)
		if err != nil {
			t.Fatalf("size %d from %d: %v", size, old, err)
		}
		cosigned := append(append([]byte(nil), signed...), lines...)
		c, err := VerifyCosignatures(cosigned, log.origin, log.verifier, []note.Verifier{tw.verifier}, 1)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if c.Size != size {
			t.Fatalf("cosigned size %d, want %d", c.Size, size)
		}
		checkCosignatureBySpec(t, lines, signed, "witness.example/w1", key(9).Public().(ed25519.PublicKey))
		old = size
	}
	if n := tw.errs.len(); n != 0 {
		t.Fatalf("OnError was told %d errors on an honest log", n)
	}
}

// checkCosignatureBySpec checks one cosignature line with nothing of this
// package: the key ID and message layout of C2SP tlog-cosignature.
func checkCosignatureBySpec(t *testing.T, line, signed []byte, name string, pub ed25519.PublicKey) {
	t.Helper()
	s := strings.TrimSuffix(string(line), "\n")
	if strings.Count(string(line), "\n") != 1 || !strings.HasPrefix(s, "— "+name+" ") {
		t.Fatalf("cosignature line %q", line)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "— "+name+" "))
	if err != nil || len(raw) != 4+8+64 {
		t.Fatalf("cosignature of %d bytes (%v), want 76", len(raw), err)
	}
	h := sha256.Sum256(append([]byte(name+"\n\x04"), pub...))
	if !bytes.Equal(raw[:4], h[:4]) {
		t.Fatalf("key ID %x, want %x", raw[:4], h[:4])
	}
	ts := binary.BigEndian.Uint64(raw[4:12])
	if ts != uint64(fixedClock().Unix()) {
		t.Fatalf("timestamp %d, want %d", ts, fixedClock().Unix())
	}
	body, _ := checkpoint.Text(signed)
	msg := "cosignature/v1\ntime " + strconv.FormatUint(ts, 10) + "\n" + string(body)
	if !ed25519.Verify(pub, []byte(msg), raw[12:]) {
		t.Fatal("the cosignature does not verify over the message of the specification")
	}
}

// TestRefusals sends hostile and wrong requests over HTTP and checks the
// status codes of C2SP tlog-witness.
func TestRefusals(t *testing.T) {
	t.Parallel()
	log := newTestLog(t, "example.com/audit", 1)
	log.tree.AppendN("record", 20)
	stranger := newTestLog(t, "stranger.example/log", 2)
	stranger.tree.AppendN("x", 3)
	impostor := newTestLog(t, "example.com/audit", 3) // the log's name, another key
	impostor.tree.AppendN("record", 20)
	tw := newTestWitness(t, "witness.example/w1", 9, filepath.Join(t.TempDir(), "state.json"), log)
	// The witness has cosigned size 10.
	if _, err := tw.client.AddCheckpoint(t.Context(), 0, nil, log.signed(t, 10)); err != nil {
		t.Fatal(err)
	}
	good := log.signed(t, 20)
	proof := log.tree.ProveTree(20, 10)
	bad := append(tlog.TreeProof(nil), proof...)
	bad[0][0] ^= 1
	otherKey, _ := checkpoint.NewSigner("other.example/k", key(4))
	onlyOther, _ := checkpoint.Sign(checkpoint.Checkpoint{Origin: log.origin, Size: 20, Hash: log.tree.Root(20)}, otherKey)
	tooMany := make(tlog.TreeProof, 64)

	tests := []struct {
		name   string
		body   []byte
		status int
	}{
		{"unknown origin", formatRequest(0, nil, stranger.signed(t, 3)), http.StatusNotFound},
		{"signed by an impostor key", formatRequest(10, proof, impostor.signed(t, 20)), http.StatusForbidden},
		{"no signature by the log", formatRequest(10, proof, onlyOther), http.StatusForbidden},
		{"tampered size", formatRequest(10, proof, bytes.Replace(good, []byte("\n20\n"), []byte("\n21\n"), 1)), http.StatusForbidden},
		{"old size above the checkpoint", formatRequest(21, nil, good), http.StatusBadRequest},
		{"empty body", nil, http.StatusBadRequest},
		{"no old line", []byte("\n" + string(good)), http.StatusBadRequest},
		{"old with leading zero", []byte("old 010\n\n" + string(good)), http.StatusBadRequest},
		{"old negative", []byte("old -1\n\n" + string(good)), http.StatusBadRequest},
		{"proof line not base64", []byte("old 10\n!!!!\n\n" + string(good)), http.StatusBadRequest},
		{"proof line too short", []byte("old 10\nAAAA\n\n" + string(good)), http.StatusBadRequest},
		{"no blank line", []byte("old 10\n"), http.StatusBadRequest},
		{"64 proof lines", formatRequest(10, tooMany, good), http.StatusBadRequest},
		{"checkpoint not a note", formatRequest(10, proof, []byte("example.com/audit\n20\n")), http.StatusBadRequest},
		{"control characters", formatRequest(10, proof, append([]byte("example.com/audit\x00"), good...)), http.StatusBadRequest},
		{"stale old size", formatRequest(5, log.tree.ProveTree(20, 5), good), http.StatusConflict},
		{"old size 0 on a known log", formatRequest(0, nil, good), http.StatusConflict},
		{"bad proof", formatRequest(10, bad, good), http.StatusUnprocessableEntity},
		{"no proof", formatRequest(10, nil, good), http.StatusUnprocessableEntity},
		{"proof for another size", formatRequest(10, log.tree.ProveTree(20, 11), good), http.StatusUnprocessableEntity},
		{"same size, other root", formatRequest(10, nil, impostorSigned(t, log, 10, tlog.RecordHash([]byte("fork")))), http.StatusUnprocessableEntity},
		{"same size, root and a proof", formatRequest(10, proof[:1], log.signed(t, 10)), http.StatusUnprocessableEntity},
		{"too large", append(formatRequest(10, proof, good), bytes.Repeat([]byte("x"), 20<<10)...), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, body := tw.post(t, tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%q), want %d", status, body, tt.status)
			}
			if status == http.StatusConflict && (ctype != "text/x.tlog.size" || body != "10\n") {
				t.Fatalf("409 with Content-Type %q and body %q, want text/x.tlog.size and \"10\\n\"", ctype, body)
			}
		})
	}
	// A new log's empty checkpoint must carry the empty tree's root.
	fresh := newTestLog(t, "fresh.example/log", 5)
	tw2 := newTestWitness(t, "witness.example/w2", 8, filepath.Join(t.TempDir(), "state.json"), fresh)
	wrongEmpty, _ := checkpoint.Sign(checkpoint.Checkpoint{Origin: fresh.origin, Size: 0, Hash: tlog.RecordHash(nil)}, fresh.signer)
	if status, _, body := tw2.post(t, formatRequest(0, nil, wrongEmpty)); status != http.StatusUnprocessableEntity {
		t.Fatalf("empty tree with a wrong root: status %d (%q), want 422", status, body)
	}
	fresh.tree.AppendN("r", 4)
	if status, _, body := tw2.post(t, formatRequest(0, fresh.tree.ProveTree(4, 2), fresh.signed(t, 4))); status != http.StatusUnprocessableEntity {
		t.Fatalf("a proof from size 0: status %d (%q), want 422", status, body)
	}
	// Methods.
	resp, err := tw.srv.Client().Get(tw.srv.URL + "/add-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /add-checkpoint: status %d, want 405", resp.StatusCode)
	}
	// After all that, the witness still holds size 10 and goes on.
	if _, err := tw.client.AddCheckpoint(t.Context(), 10, proof, good); err != nil {
		t.Fatalf("the honest next checkpoint: %v", err)
	}
}

// impostorSigned signs, with the log's own key, a checkpoint of size
// with an arbitrary root: what an operator holding the key can do.
func impostorSigned(t *testing.T, log *testLog, size int64, root tlog.Hash) []byte {
	t.Helper()
	msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: log.origin, Size: size, Hash: root}, log.signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestRewrittenHistory is the attack a witness exists for: an operator
// who holds the log's key rewrites a record the witness has already
// covered, then tries every way to get the new history cosigned. The
// witness refuses each, tells OnError, and still cosigns the honest
// history; a reader who kept the old checkpoint sees the fork too.
func TestRewrittenHistory(t *testing.T) {
	t.Parallel()
	honest := newTestLog(t, "example.com/audit", 1)
	honest.tree.AppendN("record", 100)
	tw := newTestWitness(t, "witness.example/w1", 9, filepath.Join(t.TempDir(), "state.json"), honest)
	ctx := t.Context()
	oldCosig, err := tw.client.AddCheckpoint(ctx, 0, nil, honest.signed(t, 100))
	if err != nil {
		t.Fatal(err)
	}
	oldCheckpoint := append(honest.signed(t, 100), oldCosig...)

	// The rewritten history: record 50 changed, then grown to 150, all
	// signed with the log's real key.
	forged := &testLog{origin: honest.origin, signer: honest.signer, verifier: honest.verifier}
	for i := range 150 {
		e := fmt.Sprintf("record %d", i)
		if i == 50 {
			e = "record 50, rewritten"
		}
		forged.tree.Append([]byte(e))
	}
	attempts := []struct {
		name string
		old  int64
		p    tlog.TreeProof
		size int64
		want error
	}{
		{"proof from 100 in the rewritten tree", 100, forged.tree.ProveTree(150, 100), 150, ErrInconsistent},
		{"the honest proof from 100", 100, nil, 150, ErrInconsistent},
		{"same size 100, rewritten root", 100, nil, 100, ErrInconsistent},
		{"as if the witness were new", 0, nil, 150, &ConflictError{}},
		{"a smaller tree", 0, nil, 60, &ConflictError{}},
	}
	for i, a := range attempts {
		p := a.p
		if a.name == "the honest proof from 100" {
			honest.tree.AppendN("record", 150-int(honest.tree.Size()))
			p = honest.tree.ProveTree(150, 100)
		}
		_, err := tw.client.AddCheckpoint(ctx, a.old, p, forged.signed(t, a.size))
		var conflict *ConflictError
		if _, isConflict := a.want.(*ConflictError); isConflict {
			if !errors.As(err, &conflict) || conflict.Size != 100 {
				t.Fatalf("%s: got %v, want a conflict at size 100", a.name, err)
			}
			continue
		}
		if !errors.Is(err, a.want) {
			t.Fatalf("%s: got %v, want %v", a.name, err, a.want)
		}
		if n := tw.errs.len(); n != i+1 {
			t.Fatalf("%s: OnError told of %d refusals, want %d", a.name, n, i+1)
		}
	}
	// Cosign, with its retry, cannot get there either.
	if _, _, err := tw.client.Cosign(ctx, forged.signed(t, 150), 0, forged.prove); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("Cosign of the rewritten history: got %v, want ErrInconsistent", err)
	}
	// A reader who kept the cosigned checkpoint at 100 rejects the
	// rewritten one: no consistency proof exists.
	oc, err := VerifyCosignatures(oldCheckpoint, honest.origin, honest.verifier, []note.Verifier{tw.verifier}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(forged.tree.ProveTree(150, 100), 150, forged.tree.Root(150), oc.Size, oc.Hash); err == nil {
		t.Fatal("the rewritten tree proved consistent with the reader's old checkpoint")
	}
	// And the honest log is still cosigned.
	if _, err := tw.client.AddCheckpoint(ctx, 100, honest.tree.ProveTree(150, 100), honest.signed(t, 150)); err != nil {
		t.Fatalf("the honest history after the attack: %v", err)
	}
}

// TestKOfN collects cosignatures from three witnesses over HTTP and
// counts them with VerifyCosignatures.
func TestKOfN(t *testing.T) {
	t.Parallel()
	log := newTestLog(t, "example.com/audit", 1)
	log.tree.AppendN("record", 42)
	dir := t.TempDir()
	var ws []*testWitness
	var vs []note.Verifier
	for i := range 3 {
		w := newTestWitness(t, fmt.Sprintf("witness.example/w%d", i+1), byte(10+i), filepath.Join(dir, fmt.Sprintf("w%d.json", i)), log)
		ws = append(ws, w)
		vs = append(vs, w.verifier)
	}
	signed := log.signed(t, 42)
	cosigned := append([]byte(nil), signed...)
	for _, w := range ws[:2] { // the third witness is down
		lines, size, err := w.client.Cosign(t.Context(), signed, 0, log.prove)
		if err != nil || size != 42 {
			t.Fatalf("Cosign = %d, %v", size, err)
		}
		cosigned = append(cosigned, lines...)
	}
	// A cosignature by a witness no one trusts is ignored.
	rogue, _ := NewSigner("witness.example/rogue", key(66), fixedClock)
	body, _ := checkpoint.Text(signed)
	sig, _ := rogue.Sign(body)
	cosigned = append(cosigned, signatureLines([]note.Signature{{Name: rogue.Name(), Hash: rogue.KeyHash(), Base64: sigBase64(rogue.KeyHash(), sig)}})...)

	tests := []struct {
		name      string
		msg       []byte
		witnesses []note.Verifier
		k         int
		want      error
	}{
		{"2 of 3", cosigned, vs, 2, nil},
		{"1 of 3", cosigned, vs, 1, nil},
		{"0 of 3", cosigned, vs, 0, nil},
		{"3 of 3", cosigned, vs, 3, ErrTooFewCosignatures},
		{"a key listed twice counts once", cosigned, []note.Verifier{vs[0], vs[0], vs[2]}, 2, ErrTooFewCosignatures},
		{"no cosignature at all", signed, vs, 1, ErrTooFewCosignatures},
		{"cosignatures without the log's signature", cosignedWithoutLog(t, cosigned), vs, 1, checkpoint.ErrUnverified},
		{"a tampered cosignature", tamperLast(t, cosigned, ws[0].w.VerifierKey()), vs, 1, checkpoint.ErrUnverified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyCosignatures(tt.msg, log.origin, log.verifier, tt.witnesses, tt.k)
			if tt.want == nil {
				if err != nil || c.Size != 42 {
					t.Fatalf("got %+v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := VerifyCosignatures(cosigned, log.origin, log.verifier, vs, 4); err == nil {
		t.Fatal("k above the number of witnesses accepted")
	}
	if _, err := VerifyCosignatures(cosigned, "other.example", log.verifier, vs, 1); err == nil {
		t.Fatal("another origin accepted")
	}
	if _, err := VerifyCosignatures(cosigned, log.origin, log.verifier, []note.Verifier{log.verifier}, 0); err == nil {
		t.Fatal("the log's key accepted as a witness")
	}
}

// cosignedWithoutLog drops the log's signature line from a note.
func cosignedWithoutLog(t *testing.T, msg []byte) []byte {
	t.Helper()
	var out []string
	for _, l := range strings.SplitAfter(string(msg), "\n") {
		if !strings.HasPrefix(l, "— example.com/audit ") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}

// tamperLast flips a bit in the signature of the line of vkey's witness.
func tamperLast(t *testing.T, msg []byte, vkey string) []byte {
	t.Helper()
	name, _, _ := strings.Cut(vkey, "+")
	lines := strings.SplitAfter(string(msg), "\n")
	for i, l := range lines {
		if rest, ok := strings.CutPrefix(l, "— "+name+" "); ok {
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
			raw[len(raw)-1] ^= 1
			lines[i] = "— " + name + " " + base64.StdEncoding.EncodeToString(raw) + "\n"
			return []byte(strings.Join(lines, ""))
		}
	}
	t.Fatalf("no line of %s", name)
	return nil
}

// TestRestartKeepsState restarts a witness on its state file: it still
// knows the size it cosigned and refuses a fork at that size.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	log := newTestLog(t, "example.com/audit", 1)
	log.tree.AppendN("record", 30)
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	first := newTestWitness(t, "witness.example/w1", 9, path, log)
	if _, err := first.client.AddCheckpoint(t.Context(), 0, nil, log.signed(t, 30)); err != nil {
		t.Fatal(err)
	}
	first.srv.Close()

	again := newTestWitness(t, "witness.example/w1", 9, path, log)
	var conflict *ConflictError
	if _, err := again.client.AddCheckpoint(t.Context(), 0, nil, log.signed(t, 30)); !errors.As(err, &conflict) || conflict.Size != 30 {
		t.Fatalf("after a restart: got %v, want a conflict at 30", err)
	}
	if _, err := again.client.AddCheckpoint(t.Context(), 30, nil, impostorSigned(t, log, 30, tlog.RecordHash([]byte("fork")))); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("a fork after a restart: got %v, want ErrInconsistent", err)
	}
	log.tree.AppendN("record", 5)
	if _, err := again.client.AddCheckpoint(t.Context(), 30, log.tree.ProveTree(35, 30), log.signed(t, 35)); err != nil {
		t.Fatal(err)
	}
	// The monitoring endpoint serves the last cosigned checkpoint.
	resp, err := again.srv.Client().Get(again.srv.URL + "/" + originHash(log.origin) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if c, err := VerifyCosignatures(kept, log.origin, log.verifier, []note.Verifier{again.verifier}, 1); err != nil || c.Size != 35 {
		t.Fatalf("monitoring endpoint: %d %q: %+v, %v", resp.StatusCode, kept, c, err)
	}
	resp, err = again.srv.Client().Get(again.srv.URL + "/" + originHash("nobody") + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown log on the monitoring endpoint: %d, want 404", resp.StatusCode)
	}
	// No temporary file is left behind.
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 1 {
		t.Fatalf("state directory holds %v, want only state.json", names)
	}
	// A corrupt state file stops the witness from starting.
	if err := os.WriteFile(path, []byte(`{"logs":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New("witness.example/w1", key(9), []Log{log.entry()}, path, nil); err == nil {
		t.Fatal("New started on a corrupt state file")
	}
}

// TestConcurrentSubmissions races submissions of one checkpoint: exactly
// one is cosigned, the others learn the new size.
func TestConcurrentSubmissions(t *testing.T) {
	t.Parallel()
	log := newTestLog(t, "example.com/audit", 1)
	log.tree.AppendN("record", 10)
	tw := newTestWitness(t, "witness.example/w1", 9, filepath.Join(t.TempDir(), "state.json"), log)
	signed := log.signed(t, 10)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = tw.client.AddCheckpoint(t.Context(), 0, nil, signed) })
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		var c *ConflictError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &c) && c.Size == 10:
			conflicts++
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	if ok != 1 || conflicts != 7 {
		t.Fatalf("%d cosigned, %d conflicts; want 1 and 7", ok, conflicts)
	}
}

// TestCosignRecovers: a log that does not know the witness's size
// learns it from the 409 and proves from there.
func TestCosignRecovers(t *testing.T) {
	t.Parallel()
	log := newTestLog(t, "example.com/audit", 1)
	log.tree.AppendN("record", 7)
	tw := newTestWitness(t, "witness.example/w1", 9, filepath.Join(t.TempDir(), "state.json"), log)
	if _, _, err := tw.client.Cosign(t.Context(), log.signed(t, 7), 0, log.prove); err != nil {
		t.Fatal(err)
	}
	log.tree.AppendN("record", 300)
	lines, size, err := tw.client.Cosign(t.Context(), log.signed(t, 307), 0, log.prove)
	if err != nil || size != 307 || len(lines) == 0 {
		t.Fatalf("Cosign = %q, %d, %v", lines, size, err)
	}
}

// TestResubmitCosigned: a checkpoint that already carries the witness's
// cosignature gets a fresh one back, not the old one again.
func TestResubmitCosigned(t *testing.T) {
	t.Parallel()
	log := newTestLog(t, "example.com/audit", 1)
	log.tree.AppendN("record", 3)
	var tick atomic.Int64
	tick.Store(fixedClock().Unix())
	w, err := New("witness.example/w1", key(9), []Log{log.entry()}, filepath.Join(t.TempDir(), "state.json"),
		&Options{Now: func() time.Time { return time.Unix(tick.Add(1), 0) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	defer srv.Close()
	v, _ := NewVerifier(w.VerifierKey())
	c, _ := NewClient(srv.URL, v, &ClientOptions{HTTPClient: srv.Client()})
	signed := log.signed(t, 3)
	first, err := c.AddCheckpoint(t.Context(), 0, nil, signed)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.AddCheckpoint(t.Context(), 3, nil, append(append([]byte(nil), signed...), first...))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, again) {
		t.Fatal("the client returned the old cosignature")
	}
	n, err := note.Open(append(append([]byte(nil), signed...), again...), note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	if ts, _ := Timestamp(n.Sigs[0]); ts.Unix() != fixedClock().Unix()+2 {
		t.Fatalf("timestamp %v, want the second tick", ts)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	log := newTestLog(t, "example.com/audit", 1)
	path := filepath.Join(t.TempDir(), "s.json")
	tests := []struct {
		name  string
		wname string
		key   ed25519.PrivateKey
		logs  []Log
		path  string
	}{
		{"empty name", "", key(1), nil, path},
		{"name with space", "a b", key(1), nil, path},
		{"short key", "w", key(1)[:5], nil, path},
		{"no state file", "w", key(1), nil, ""},
		{"log without verifier", "w", key(1), []Log{{Origin: "o"}}, path},
		{"log twice", "w", key(1), []Log{log.entry(), log.entry()}, path},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.wname, tt.key, tt.logs, tt.path, nil); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := NewClient("ftp://x", log.verifier, nil); err == nil {
		t.Fatal("NewClient accepted ftp")
	}
	if _, err := NewClient("http://x", nil, nil); err == nil {
		t.Fatal("NewClient accepted a nil verifier")
	}
}

func TestVerifierKey(t *testing.T) {
	t.Parallel()
	pub := key(9).Public().(ed25519.PublicKey)
	vkey, err := VerifierKey("witness.example/w1", pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	// A plain Ed25519 note key (type 0x01) is not a cosignature key.
	plain, _ := note.NewEd25519VerifierKey("witness.example/w1", pub)
	bad := []string{plain, "", "w+00000000+", strings.Replace(vkey, "+", "+0", 1), vkey[:len(vkey)-4] + "AAA="}
	for _, k := range bad {
		if _, err := NewVerifier(k); err == nil {
			t.Errorf("NewVerifier(%q) accepted it", k)
		}
	}
	s, _ := NewSigner("witness.example/w1", key(9), fixedClock)
	if _, err := s.Sign([]byte("not a checkpoint\n")); err == nil {
		t.Fatal("the cosigner signed a non-checkpoint")
	}
	body := []byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	sig, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Timestamp(note.Signature{Base64: sigBase64(s.KeyHash(), sig)})
	if err != nil || !ts.Equal(fixedClock()) {
		t.Fatalf("Timestamp = %v, %v; want %v", ts, err, fixedClock())
	}
	early, _ := NewSigner("witness.example/w1", key(9), func() time.Time { return time.Unix(0, 0) })
	if _, err := early.Sign(body); err == nil {
		t.Fatal("signed with timestamp 0")
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("old 0\n\nexample.com/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— x AAAA\n"))
	f.Add([]byte("old 10\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n"))
	f.Add([]byte("old 01\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		old, proof, signed, err := parseRequest(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if got := formatRequest(old, proof, signed); !bytes.Equal(got, body) {
			t.Fatalf("parse then format = %q, want %q", got, body)
		}
	})
}
