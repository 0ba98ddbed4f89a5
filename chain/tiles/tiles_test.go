package tiles

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/internal/tlogtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const origin = "example.com/audit"

// memSource is a Source over an in-memory tree whose published
// checkpoint may lag behind the tree, as a real log's does.
type memSource struct {
	tree   tlogtest.Tree
	signer note.Signer
	mu     sync.Mutex
	msg    []byte
	fail   atomic.Bool
}

func newMemSource(t testing.TB) (*memSource, note.Verifier) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	s, err := checkpoint.NewSigner(origin, priv)
	if err != nil {
		t.Fatal(err)
	}
	v, err := checkpoint.NewVerifier(origin, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	src := &memSource{signer: s}
	src.publish(t)
	return src, v
}

// publish signs a checkpoint of the tree as it is now.
func (s *memSource) publish(t testing.TB) []byte {
	t.Helper()
	n := s.tree.Size()
	msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: origin, Size: n, Hash: s.tree.Root(n)}, s.signer)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.msg = msg
	s.mu.Unlock()
	return msg
}

var errBroken = errors.New("broken source")

func (s *memSource) Checkpoint(context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msg, nil
}

func (s *memSource) ReadHashes(_ context.Context, indexes []int64) ([]tlog.Hash, error) {
	if s.fail.Load() {
		return nil, errBroken
	}
	return s.tree.HashReader().ReadHashes(indexes)
}

func (s *memSource) Entries(_ context.Context, start int64, n int) ([][]byte, error) {
	if s.fail.Load() {
		return nil, errBroken
	}
	return s.tree.Entries(start, n)
}

// httpTileReader is a tlog.TileReader that fetches tiles over HTTP,
// naming them with x/mod's own Tile.Path (the go.dev/design/25530-sumdb
// scheme) rewritten to C2SP's: "tile/8/<L>/…" is "tile/<L>/…" and
// "tile/8/data/…" is "tile/entries/…".
type httpTileReader struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (r httpTileReader) Height() int { return Height }

func (r httpTileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := strings.Replace(strings.Replace(t.Path(), "tile/8/data/", "tile/entries/", 1), "tile/8/", "tile/", 1)
		resp, err := r.hc.Get(r.base + "/" + p)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", p, resp.Status)
		}
		out[i] = b
	}
	return out, nil
}

func (r httpTileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func serve(t *testing.T, src Source, opts *Options) *httptest.Server {
	t.Helper()
	h, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestProofsOverHTTP follows a growing log with x/mod's
// tlog.TileHashReader, which authenticates every tile it reads against
// the checkpoint's root: inclusion of entries read from the bundles, and
// consistency between successive checkpoints.
func TestProofsOverHTTP(t *testing.T) {
	t.Parallel()
	src, v := newMemSource(t)
	srv := serve(t, src, nil)
	reader := httpTileReader{t: t, base: srv.URL, hc: srv.Client()}
	var old tlog.Tree
	for _, grow := range []int{1, 2, 253, 1, 1, 300, 65536 - 558, 1, 4000} {
		src.tree.AppendN("commitment", grow)
		src.publish(t)
		src.tree.AppendN("unpublished", 3) // the tree runs ahead of its checkpoint
		_, msg := get(t, srv, "/checkpoint")
		c, _, err := checkpoint.Open(msg, origin, v)
		if err != nil {
			t.Fatal(err)
		}
		tree := c.Tree()
		hr := tlog.TileHashReader(tree, reader)
		for _, i := range []int64{0, tree.N / 2, tree.N - 1, old.N} {
			if i >= tree.N {
				continue
			}
			bundle := tlog.TileForIndex(Height, tlog.StoredHashIndex(0, i))
			bundle.L = -1
			data, err := reader.ReadTiles([]tlog.Tile{bundle})
			if err != nil {
				t.Fatal(err)
			}
			entry := entryAt(t, data[0], int(i%width))
			p, err := tlog.ProveRecord(tree.N, i, hr)
			if err != nil {
				t.Fatalf("ProveRecord(%d, %d): %v", tree.N, i, err)
			}
			if err := tlog.CheckRecord(p, tree.N, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
				t.Fatalf("entry %d %q not included in %d: %v", i, entry, tree.N, err)
			}
		}
		if old.N > 0 {
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

// entryAt returns entry i of an entry bundle, parsed by the rules of the
// specification.
func entryAt(t *testing.T, bundle []byte, i int) []byte {
	t.Helper()
	for k := 0; ; k++ {
		if len(bundle) < 2 {
			t.Fatalf("bundle ends before entry %d", i)
		}
		n := int(binary.BigEndian.Uint16(bundle))
		if len(bundle) < 2+n {
			t.Fatalf("entry %d: length %d past the bundle", k, n)
		}
		if k == i {
			return bundle[2 : 2+n]
		}
		bundle = bundle[2+n:]
	}
}

// TestSpecExample serves the tree of 70,000 entries of the
// specification's example: every tile it lists exists, and nothing
// beyond.
func TestSpecExample(t *testing.T) {
	t.Parallel()
	src, _ := newMemSource(t)
	for i := range 70000 {
		src.tree.Append(binary.BigEndian.AppendUint32(nil, uint32(i)))
	}
	src.publish(t)
	srv := serve(t, src, nil)
	tiles := tlog.NewTiles(Height, 0, 70000)
	full, partial := map[int]int{}, map[int]int{}
	for _, tl := range tiles {
		if tl.W == width {
			full[tl.L]++
		} else {
			partial[tl.L] = tl.W
		}
	}
	if full[0] != 273 || partial[0] != 112 || full[1] != 1 || partial[1] != 17 || partial[2] != 1 {
		t.Fatalf("x/mod lists full %v, partial %v; the specification says 273+112, 1+17, 0+1", full, partial)
	}
	for _, path := range []string{"/tile/0/272", "/tile/0/273.p/112", "/tile/1/000", "/tile/1/001.p/17", "/tile/2/000.p/1", "/tile/entries/273.p/112", "/tile/entries/000"} {
		resp, body := get(t, srv, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}
	for _, path := range []string{"/tile/0/273", "/tile/0/273.p/113", "/tile/0/274.p/1", "/tile/1/001", "/tile/1/001.p/18", "/tile/2/000", "/tile/2/000.p/2", "/tile/3/000.p/1", "/tile/entries/273.p/113", "/tile/entries/274.p/1", "/tile/63/000.p/1"} {
		if resp, body := get(t, srv, path); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s past the tree: %d %q, want 404", path, resp.StatusCode, body)
		}
	}
}

func TestHeadersAndStatus(t *testing.T) {
	t.Parallel()
	src, _ := newMemSource(t)
	src.tree.AppendN("commitment", 1000*256+5)
	src.publish(t)
	var reported atomic.Int32
	srv := serve(t, src, &Options{OnError: func(error) { reported.Add(1) }})
	tests := []struct {
		path   string
		status int
		ctype  string
		cache  string
		size   int
	}{
		{"/checkpoint", 200, "text/plain; charset=utf-8", "no-cache", -1},
		{"/tile/0/000", 200, "application/octet-stream", "public, max-age=31536000, immutable", 256 * 32},
		{"/tile/0/999", 200, "application/octet-stream", "public, max-age=31536000, immutable", 256 * 32},
		{"/tile/0/x001/000", 404, "", "", -1}, // 5 of 256: partial only
		{"/tile/0/x001/000.p/5", 200, "application/octet-stream", "public, max-age=60", 5 * 32},
		{"/tile/0/x001/000.p/3", 200, "application/octet-stream", "public, max-age=60", 3 * 32},
		{"/tile/0/005.p/7", 200, "application/octet-stream", "public, max-age=60", 7 * 32},
		{"/tile/1/002", 200, "application/octet-stream", "public, max-age=31536000, immutable", 256 * 32},
		{"/tile/1/003", 404, "", "", -1}, // 232 of 256: partial only
		{"/tile/1/003.p/232", 200, "application/octet-stream", "public, max-age=60", 232 * 32},
		{"/tile/entries/x001/000.p/5", 200, "application/octet-stream", "public, max-age=60", -1},
		{"/tile/entries/999", 200, "application/octet-stream", "public, max-age=31536000, immutable", -1},
		{"/tile/0/x001/001.p/1", 404, "", "", -1},
		{"/tile/0/x001/000.p/6", 404, "", "", -1},
		{"/tile/entries/x001/000", 404, "", "", -1},
		{"/tile/0/x000/005", 404, "", "", -1},  // not canonical
		{"/tile/0/5", 404, "", "", -1},         // not 3 digits
		{"/tile/0/1000", 404, "", "", -1},      // not 3 digits
		{"/tile/0/001/002", 404, "", "", -1},   // no x on an inner group
		{"/tile/00/000", 404, "", "", -1},      // leading zero in L
		{"/tile/64/000", 404, "", "", -1},      // L out of range
		{"/tile/0/000.p/0", 404, "", "", -1},   // W out of range
		{"/tile/0/000.p/256", 404, "", "", -1}, // W out of range
		{"/tile/0/000.p/05", 404, "", "", -1},  // leading zero in W
		{"/tile/0/-01", 404, "", "", -1},       // negative
		{"/tile/data/000", 404, "", "", -1},    // the sumdb name
		{"/tile/8/0/000", 404, "", "", -1},     // the sumdb layout: L 8, past the tree
		// escaped forms of served paths (found by an outside review:
		// they were served, and cached as other copies)
		{"/tile/0%2F000", 404, "", "", -1},
		{"/tile/0/%30%30%30", 404, "", "", -1},
		{"/tile/0/000%2Ep%2F5", 404, "", "", -1},
		{"/tile/entries%2Fx001%2F000.p%2F5", 404, "", "", -1},
		{"/tile/0/x9999999/x999/x999/x999/x999/x999/999", 404, "", "", -1},
		{"/tile/0/x922/x337/x203/x685/x477/x580/807", 404, "", "", -1},
		{"/latest", 404, "", "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, srv, tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if tt.size >= 0 && len(body) != tt.size {
				t.Errorf("%d bytes, want %d", len(body), tt.size)
			}
		})
	}
	// A level-1 hash is the tree hash of the level-0 tile below it.
	_, l1 := get(t, srv, "/tile/1/000.p/2")
	_, l0 := get(t, srv, "/tile/0/001")
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i := range int64(width) {
		hs, err := tlog.StoredHashesForRecordHash(i, tlog.Hash(l0[i*32:i*32+32]), r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	h, err := tlog.TreeHash(width, r)
	if err != nil || !bytes.Equal(h[:], l1[32:64]) {
		t.Fatalf("level-1 hash 1 = %x, tree hash of level-0 tile 1 = %x (%v)", l1[32:64], h, err)
	}
	// The bundle holds the entries.
	_, bundle := get(t, srv, "/tile/entries/x001/000.p/5")
	if got := string(entryAt(t, bundle, 4)); got != "commitment 256004" {
		t.Fatalf("entry 4 of bundle 1000: %q", got)
	}
	// POST is refused.
	resp, err := srv.Client().Post(srv.URL+"/checkpoint", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /checkpoint: %d, want 405", resp.StatusCode)
	}
	// A failing source is a 500, told to OnError.
	src.fail.Store(true)
	if resp, _ := get(t, srv, "/tile/0/000"); resp.StatusCode != http.StatusInternalServerError || reported.Load() != 1 {
		t.Fatalf("broken source: %d, %d reported; want 500 and 1", resp.StatusCode, reported.Load())
	}
	if resp, _ := get(t, srv, "/tile/entries/000"); resp.StatusCode != http.StatusInternalServerError || reported.Load() != 2 {
		t.Fatalf("broken source: %d, %d reported; want 500 and 2", resp.StatusCode, reported.Load())
	}
}

// badSource returns what a broken store might.
type badSource struct {
	msg     []byte
	entries [][]byte
}

func (b badSource) Checkpoint(context.Context) ([]byte, error) { return b.msg, nil }
func (b badSource) ReadHashes(_ context.Context, idx []int64) ([]tlog.Hash, error) {
	return make([]tlog.Hash, len(idx)), nil
}
func (b badSource) Entries(context.Context, int64, int) ([][]byte, error) { return b.entries, nil }

func TestBadSource(t *testing.T) {
	t.Parallel()
	src, _ := newMemSource(t)
	src.tree.AppendN("e", 2)
	good := src.publish(t)
	tests := []struct {
		name string
		src  badSource
		path string
	}{
		{"checkpoint not a note", badSource{msg: []byte("example.com/audit\n2\n")}, "/checkpoint"},
		{"checkpoint body malformed", badSource{msg: bytes.Replace(good, []byte("\n2\n"), []byte("\n02\n"), 1)}, "/tile/0/000.p/1"},
		{"too few entries", badSource{msg: good, entries: [][]byte{{1}}}, "/tile/entries/000.p/2"},
		{"entry too long", badSource{msg: good, entries: [][]byte{{1}, make([]byte, 70000)}}, "/tile/entries/000.p/2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reported atomic.Int32
			srv := serve(t, tt.src, &Options{OnError: func(error) { reported.Add(1) }})
			if resp, body := get(t, srv, tt.path); resp.StatusCode != http.StatusInternalServerError || reported.Load() != 1 {
				t.Fatalf("%d %q, %d reported; want 500 and 1", resp.StatusCode, body, reported.Load())
			}
		})
	}
	if _, err := New(nil, nil); err == nil {
		t.Fatal("New accepted a nil source")
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"0/000", "entries/x001/x234/067.p/5", "1/003.p/232", "0/x000/005", "63/999", "0/000.p/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tl, ok := parsePath(p)
		if !ok {
			return
		}
		if got := formatPath(tl); got != "tile/"+p {
			t.Fatalf("parsePath(%q) = %+v, formatted back as %q", p, tl, got)
		}
		// x/mod agrees on the tile it names.
		sumdb := strings.Replace(strings.Replace("tile/"+p, "tile/entries/", "tile/8/data/", 1), "tile/", "tile/8/", 1)
		if tl.L == -1 {
			sumdb = "tile/8/data/" + strings.TrimPrefix(p, "entries/")
		}
		want, err := tlog.ParseTilePath(sumdb)
		if err != nil || want != tl {
			t.Fatalf("parsePath(%q) = %+v; tlog.ParseTilePath(%q) = %+v, %v", p, tl, sumdb, want, err)
		}
	})
}
