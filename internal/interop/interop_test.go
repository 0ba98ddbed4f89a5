package interop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	fwitness "github.com/transparency-dev/formats/witness"
	"go.uber.org/goleak"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/chain/tiles"
	"github.com/trailmark/audit/chain/witness"
	"github.com/trailmark/audit/internal/tlogtest"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
	"github.com/trailmark/audit/trail"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const origin = "example.com/audit"

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// testLog is a tree and a key that signs checkpoints of it.
type testLog struct {
	tree   tlogtest.Tree
	signer note.Signer
	vkey   string
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	s, err := checkpoint.NewSigner(origin, key(1))
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := checkpoint.VerifierKey(origin, key(1).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{signer: s, vkey: vkey}
}

func (l *testLog) signed(t *testing.T, ext ...string) []byte {
	t.Helper()
	n := l.tree.Size()
	msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: origin, Size: n, Hash: l.tree.Root(n), Extensions: ext}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestCheckpointReadByFormats: transparency-dev/formats and torchwood
// parse the checkpoints we sign.
func TestCheckpointReadByFormats(t *testing.T) {
	t.Parallel()
	l := newTestLog(t)
	v, err := note.NewVerifier(l.vkey)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 1000} {
		l.tree.AppendN("record", n)
		for _, ext := range [][]string{nil, {"extension line"}} {
			msg := l.signed(t, ext...)
			cp, other, _, err := log.ParseCheckpoint(msg, origin, v)
			if err != nil {
				t.Fatalf("formats/log.ParseCheckpoint: %v\n%s", err, msg)
			}
			size := l.tree.Size()
			root := l.tree.Root(size)
			if cp.Origin != origin || cp.Size != uint64(size) || !bytes.Equal(cp.Hash, root[:]) {
				t.Fatalf("formats read %+v, want size %d root %v", cp, size, root)
			}
			if want := strings.Join(ext, "\n"); strings.TrimSuffix(string(other), "\n") != want {
				t.Fatalf("formats read extensions %q, want %q", other, want)
			}
			text, _ := checkpoint.Text(msg)
			tc, err := torchwood.ParseCheckpoint(string(text))
			if err != nil || tc.N != size || tc.Hash != root || tc.String() != string(text) {
				t.Fatalf("torchwood.ParseCheckpoint = %+v, %v", tc, err)
			}
		}
	}
}

// TestCosignaturesBothWays: formats verifies our witness's cosignatures
// from its vkey, and we verify the cosignatures formats' and torchwood's
// signers make.
func TestCosignaturesBothWays(t *testing.T) {
	t.Parallel()
	l := newTestLog(t)
	l.tree.AppendN("record", 77)
	signed := l.signed(t)
	body, _ := checkpoint.Text(signed)

	ours, err := witness.NewSigner("witness.example/w1", key(9), nil)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := witness.VerifierKey("witness.example/w1", key(9).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	theirV, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatalf("formats refused our vkey %q: %v", vkey, err)
	}
	cosigned, err := note.Sign(&note.Note{Text: string(body)}, ours)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cosigned, note.VerifierList(theirV))
	if err != nil || len(n.Sigs) != 1 {
		t.Fatalf("formats' verifier on our cosignature: %v", err)
	}
	if ts, err := fnote.CoSigV1Timestamp(n.Sigs[0]); err != nil || ts.IsZero() {
		t.Fatalf("formats read timestamp %v, %v", ts, err)
	}

	// The other way: a formats signer and a torchwood signer, our verifier.
	// formats takes a plain Ed25519 signer key and makes cosignatures.
	fs, err := fnote.NewSignerForCosignatureV1(mustSignerKey(t, "witness.example/w2", key(10)))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := torchwood.NewCosignatureSigner("witness.example/w3", key(11))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		sig  note.Signer
		pub  ed25519.PublicKey
	}{{"formats", fs, key(10).Public().(ed25519.PublicKey)}, {"torchwood", ts, key(11).Public().(ed25519.PublicKey)}} {
		msg, err := note.Sign(&note.Note{Text: string(body)}, s.sig)
		if err != nil {
			t.Fatal(err)
		}
		vk, _ := witness.VerifierKey(s.sig.Name(), s.pub)
		v, err := witness.NewVerifier(vk)
		if err != nil {
			t.Fatal(err)
		}
		if v.KeyHash() != s.sig.KeyHash() {
			t.Fatalf("%s key ID %08x, ours %08x", s.name, s.sig.KeyHash(), v.KeyHash())
		}
		if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
			t.Fatalf("our verifier on a %s cosignature: %v", s.name, err)
		}
	}
	if ts.Verifier().String() != mustVerifierKey(t, "witness.example/w3", key(11)) {
		t.Fatalf("torchwood's vkey %q, ours %q", ts.Verifier().String(), mustVerifierKey(t, "witness.example/w3", key(11)))
	}
}

func mustSignerKey(t *testing.T, name string, k ed25519.PrivateKey) string {
	t.Helper()
	s, err := checkpoint.SignerKey(name, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustVerifierKey(t *testing.T, name string, k ed25519.PrivateKey) string {
	t.Helper()
	s, err := witness.VerifierKey(name, k.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWitnessPolicy runs three of our witnesses over loopback, submits to
// the endpoints a transparency-dev/formats witness policy names, and
// checks that formats' policy and VerifyCosignatures agree on k-of-n.
func TestWitnessPolicy(t *testing.T) {
	t.Parallel()
	l := newTestLog(t)
	l.tree.AppendN("record", 500)
	logV, _ := note.NewVerifier(l.vkey)
	dir := t.TempDir()
	var policy strings.Builder
	var vs []note.Verifier
	for i := range 3 {
		name := fmt.Sprintf("witness.example/w%d", i)
		w, err := witness.New(name, key(byte(20+i)), []witness.Log{{Origin: origin, Verifier: logV}}, filepath.Join(dir, fmt.Sprintf("w%d.json", i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(w)
		t.Cleanup(srv.Close)
		fmt.Fprintf(&policy, "witness w%d %s %s\n", i, w.VerifierKey(), srv.URL)
		v, _ := witness.NewVerifier(w.VerifierKey())
		vs = append(vs, v)
	}
	policy.WriteString("group two 2 w0 w1 w2\nquorum two\n")
	group, err := fwitness.ParsePolicy([]byte(policy.String()))
	if err != nil {
		t.Fatal(err)
	}
	signed := l.signed(t)
	cosigned := append([]byte(nil), signed...)
	got := 0
	for url, v := range group.Endpoints() {
		if got == 2 {
			break
		}
		if group.Satisfied(cosigned) {
			t.Fatalf("formats' policy satisfied by %d cosignatures", got)
		}
		if _, err := witness.VerifyCosignatures(cosigned, origin, logV, vs, 2); err == nil {
			t.Fatalf("VerifyCosignatures satisfied by %d cosignatures", got)
		}
		c, err := witness.NewClient(strings.TrimSuffix(url, "/add-checkpoint"), v, nil)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := c.AddCheckpoint(t.Context(), 0, nil, signed)
		if err != nil {
			t.Fatal(err)
		}
		cosigned = append(cosigned, lines...)
		got++
	}
	if !group.Satisfied(cosigned) {
		t.Fatal("formats' 2-of-3 policy is not satisfied by two cosignatures")
	}
	if _, err := witness.VerifyCosignatures(cosigned, origin, logV, vs, 2); err != nil {
		t.Fatalf("VerifyCosignatures 2 of 3: %v", err)
	}
}

// TestTorchwoodFollowsTiles: torchwood's C2SP tlog-tiles client fetches
// the checkpoint, every entry (checking each against the tiles and the
// root) and inclusion proofs from our tiles handler over loopback, and
// proves consistency between two checkpoints from the served tiles.
func TestTorchwoodFollowsTiles(t *testing.T) {
	t.Parallel()
	l := newTestLog(t)
	src := &tlogtest.Source{Tree: &l.tree}
	h, err := tiles.New(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	fetcher, err := torchwood.NewTileFetcher(srv.URL, torchwood.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		t.Fatal(err)
	}
	logV, _ := note.NewVerifier(l.vkey)
	ctx := t.Context()

	var old tlog.Tree
	next := int64(0)
	for _, grow := range []int{1000, 70000 - 1000, 513} {
		l.tree.AppendN("commitment", grow)
		src.SetCheckpoint(l.signed(t))
		raw, err := fetcher.ReadEndpoint(ctx, "checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := checkpoint.Open(raw, origin, logV)
		if err != nil {
			t.Fatal(err)
		}
		tree := c.Tree()
		// Every new entry, authenticated by torchwood against the tiles.
		for i, e := range client.Entries(ctx, tree, next) {
			if want := fmt.Sprintf("commitment %d", i); string(e) != want {
				t.Fatalf("entry %d = %q, want %q", i, e, want)
			}
			next = i + 1
		}
		if err := client.Err(); err != nil {
			t.Fatal(err)
		}
		if next < tree.N-tree.N%256 {
			t.Fatalf("torchwood stopped at %d of %d", next, tree.N)
		}
		// Inclusion proofs, including the partial tile at the edge.
		for _, i := range []int64{0, 255, 256, tree.N / 3, tree.N - 1} {
			e, proof, err := client.Entry(ctx, tree, i)
			if err != nil {
				t.Fatalf("Entry(%d) in %d: %v", i, tree.N, err)
			}
			if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(e)); err != nil {
				t.Fatal(err)
			}
		}
		// Consistency with the last checkpoint, from the served tiles.
		if old.N > 0 {
			hr := torchwood.TileHashReaderWithContext(ctx, tree, fetcher)
			p, err := tlog.ProveTree(tree.N, old.N, hr)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(p, tree.N, tree.Hash, old.N, old.Hash); err != nil {
				t.Fatalf("%d not consistent with %d: %v", tree.N, old.N, err)
			}
		}
		old = tree
	}
}

// sealedStore is a memory store with n records sealed by a Sealer that
// keeps the Merkle tree and signs its checkpoints.
func sealedStore(t *testing.T, s storekit.SealStore, sl *chain.Sealer, from, n int) []audit.Record {
	t.Helper()
	rs := storetest.Records(from, from+n)
	if err := s.Append(t.Context(), rs...); err != nil {
		t.Fatal(err)
	}
	if _, err := sl.SealOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestSealerCheckpointsReadByFormats: the tree checkpoints a Sealer signs
// are read by golang.org/x/mod/sumdb/note and transparency-dev/formats.
func TestSealerCheckpointsReadByFormats(t *testing.T) {
	t.Parallel()
	s := memory.New(nil)
	var notes [][]byte
	sl, err := chain.NewSealer(s, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{
		SigningKey: &chain.SigningKey{ID: "s", Key: key(1)}, Origin: origin, BatchSize: 100,
		ExportTree: func(_ context.Context, n []byte) error { notes = append(notes, n); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	sealedStore(t, s, sl, 0, 250)
	vkey, err := chain.VerifierKey(origin, key(1).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 3 {
		t.Fatalf("%d checkpoints exported, want one per step (3)", len(notes))
	}
	for i, msg := range notes {
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			t.Fatalf("x/mod note.Open: %v\n%s", err, msg)
		}
		cp, _, _, err := log.ParseCheckpoint(msg, origin, v)
		if err != nil {
			t.Fatalf("formats/log.ParseCheckpoint: %v\n%s", err, msg)
		}
		if want := []uint64{100, 200, 250}[i]; cp.Size != want || !strings.HasPrefix(n.Text, origin+"\n") {
			t.Fatalf("checkpoint %d: size %d, want %d", i, cp.Size, want)
		}
	}
}

// TestTorchwoodFollowsSealer: torchwood's tlog-tiles client reads a real
// store's tree, kept by a real Sealer, from chain.TilesHandler over
// loopback: every entry (a commitment), inclusion proofs that open to the
// records with their salts, and consistency between checkpoints.
func TestTorchwoodFollowsSealer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		store func(t *testing.T) storekit.SealStore
		trail bool // served by trail.Trail.Handler, beside the admin API
	}{
		{"memory", func(*testing.T) storekit.SealStore { return memory.New(nil) }, false},
		{"sqlite", func(t *testing.T) storekit.SealStore {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "audit.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(context.Background()) })
			return s
		}, false},
		{"trail over sqlite", func(t *testing.T) storekit.SealStore {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "audit.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			return s // the Trail closes it
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.store(t)
			var sl *chain.Sealer
			var h http.Handler
			base := ""
			if tt.trail {
				tr, err := trail.New(s, &trail.Options{Keys: keyFileOf(t, key(1)), Logger: &audit.Options{NoLifecycleEvents: true},
					Sealer: &chain.SealerOptions{Origin: origin, BatchSize: 300, Interval: time.Hour}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { tr.Close(context.Background()) })
				deny := api.AuthorizeFunc(func(*http.Request) (api.Caller, error) { return api.Caller{}, api.ErrUnauthenticated })
				th, err := tr.Handler("/audit-logs", deny, &trail.HandlerOptions{Tiles: true})
				if err != nil {
					t.Fatal(err)
				}
				mux := http.NewServeMux()
				mux.Handle("/audit-logs", th)
				mux.Handle("/audit-logs/", th)
				sl, h, base = tr.Sealer(), mux, "/audit-logs/tlog"
			} else {
				var err error
				sl, err = chain.NewSealer(s, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{
					SigningKey: &chain.SigningKey{ID: "s", Key: key(1)}, Origin: origin, BatchSize: 300})
				if err != nil {
					t.Fatal(err)
				}
				if h, err = chain.TilesHandler(s.(storekit.TreeReader), nil); err != nil {
					t.Fatal(err)
				}
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			fetcher, err := torchwood.NewTileFetcher(srv.URL+base, torchwood.WithHTTPClient(srv.Client()))
			if err != nil {
				t.Fatal(err)
			}
			client, err := torchwood.NewClient(fetcher)
			if err != nil {
				t.Fatal(err)
			}
			logV, err := chain.LogVerifier(origin, key(1).Public().(ed25519.PublicKey))
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			var old tlog.Tree
			var all []audit.Record
			for _, grow := range []int{300, 600, 77} {
				all = append(all, sealedStore(t, s, sl, len(all), grow)...)
				raw, err := fetcher.ReadEndpoint(ctx, "checkpoint")
				if err != nil {
					t.Fatal(err)
				}
				c, _, err := checkpoint.Open(raw, origin, logV)
				if err != nil {
					t.Fatal(err)
				}
				tree := c.Tree()
				if tree.N != int64(len(all)) {
					t.Fatalf("checkpoint of %d, want %d", tree.N, len(all))
				}
				// Inclusion: torchwood fetches the entry and its proof from
				// the tiles; the record with its salt opens the entry.
				for _, r := range []audit.Record{all[0], all[len(all)/2], all[len(all)-1]} {
					p, err := chain.Prove(ctx, s.(storekit.TreeReader), r.ID)
					if err != nil {
						t.Fatal(err)
					}
					e, proof, err := client.Entry(ctx, tree, p.Index)
					if err != nil {
						t.Fatalf("torchwood Entry(%d) in %d: %v", p.Index, tree.N, err)
					}
					if err := tlog.CheckRecord(proof, tree.N, tree.Hash, p.Index, tlog.RecordHash(e)); err != nil {
						t.Fatal(err)
					}
					got, err := s.(audit.Getter).Get(ctx, r.ID)
					if err != nil {
						t.Fatal(err)
					}
					d, _ := storekit.SealDigest(&got)
					if !bytes.Equal(e, chain.LeafCommitment(p.Salt, d)) {
						t.Fatalf("entry %d is not the commitment of record %s", p.Index, r.ID)
					}
				}
				n := int64(0)
				for range client.Entries(ctx, tree, 0) {
					n++
				}
				if err := client.Err(); err != nil {
					t.Fatal(err)
				}
				if n < tree.N-tree.N%256 {
					t.Fatalf("torchwood read %d entries of %d", n, tree.N)
				}
				// Consistency with the last checkpoint, from the served tiles.
				if old.N > 0 {
					hr := torchwood.TileHashReaderWithContext(ctx, tree, fetcher)
					p, err := tlog.ProveTree(tree.N, old.N, hr)
					if err != nil {
						t.Fatal(err)
					}
					if err := tlog.CheckTree(p, tree.N, tree.Hash, old.N, old.Hash); err != nil {
						t.Fatalf("%d not consistent with %d: %v", tree.N, old.N, err)
					}
				}
				old = tree
			}
		})
	}
}

// keyFileOf returns a key file whose checkpoints signing key is priv.
func keyFileOf(t *testing.T, priv ed25519.PrivateKey) *chain.KeyFile {
	t.Helper()
	js := fmt.Sprintf(`{"hmac_keys":[{"id":"k","secret":%q}],"signer":{"id":"s","private_key":%q},"public_keys":[]}`,
		base64.StdEncoding.EncodeToString(make([]byte, 32)), base64.StdEncoding.EncodeToString(priv))
	k, err := chain.ReadKeyFile(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
