package tiles

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain/checkpoint"
)

// Height is the height of the tiles of C2SP tlog-tiles: a full tile holds
// 2^8 = 256 hashes.
const Height = 8

// width is the number of hashes, or entries, of a full tile.
const width = 1 << Height

// A Source is the log a Handler serves.
type Source interface {
	// Checkpoint returns the log's latest signed checkpoint: a signed note
	// whose text is a C2SP checkpoint body. The Handler calls it on every
	// request, to know the tree size; keep it cheap.
	Checkpoint(ctx context.Context) ([]byte, error)
	// ReadHashes returns the stored hashes at indexes, in the storage
	// order of golang.org/x/mod/sumdb/tlog (tlog.StoredHashIndex): the
	// hashes tlog.StoredHashes returned as each record was appended. It
	// is asked only for hashes of the tree of the current checkpoint.
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// Entries returns entries [start, start+n) of the log: the bytes
	// whose RFC 6962 leaf hash (tlog.RecordHash) is stored at level 0.
	// An entry may be at most 65,535 bytes long.
	Entries(ctx context.Context, start int64, n int) ([][]byte, error)
}

// Options are the optional settings of New. The zero value (or nil)
// means the defaults.
type Options struct {
	// OnError is told of the errors of the Source and of a checkpoint it
	// returned that cannot be read; the client gets a 500 without the
	// detail. Default: print to standard error.
	OnError func(error)
}

// A Handler serves a Source as C2SP tlog-tiles. Mount it at the log's URL
// prefix with http.StripPrefix.
type Handler struct {
	src     Source
	onError func(error)
	mux     *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler serving src.
func New(src Source, opts *Options) (*Handler, error) {
	if src == nil {
		return nil, errors.New("audit: tiles: nil source")
	}
	h := &Handler{src: src, onError: func(err error) { fmt.Fprintln(os.Stderr, err) }}
	if opts != nil && opts.OnError != nil {
		h.onError = opts.OnError
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /checkpoint", h.serveCheckpoint)
	h.mux.HandleFunc("GET /tile/{path...}", h.serveTile)
	return h, nil
}

// ServeHTTP serves GET (and HEAD) /checkpoint, /tile/… and
// /tile/entries/…; any other path is 404 and any other method 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Cache-Control values.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cachePartial   = "public, max-age=60"
	cacheNone      = "no-cache"
)

func (h *Handler) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	msg, _, ok := h.checkpoint(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", cacheNone)
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	w.Write(msg)
}

// checkpoint reads the source's checkpoint and its size; on failure it
// has answered 500.
func (h *Handler) checkpoint(w http.ResponseWriter, r *http.Request) ([]byte, int64, bool) {
	msg, err := h.src.Checkpoint(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("audit: tiles: checkpoint: %w", err))
		return nil, 0, false
	}
	text, ok := checkpoint.Text(msg)
	if !ok {
		h.fail(w, r, errors.New("audit: tiles: the source's checkpoint is not a signed note"))
		return nil, 0, false
	}
	c, err := checkpoint.Parse(text)
	if err != nil {
		h.fail(w, r, fmt.Errorf("audit: tiles: the source's checkpoint: %w", err))
		return nil, 0, false
	}
	return msg, c.Size, true
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() == nil {
		h.onError(err)
	}
	http.Error(w, "audit: tiles: internal error", http.StatusInternalServerError)
}

func (h *Handler) serveTile(w http.ResponseWriter, r *http.Request) {
	t, ok := parsePath(r.PathValue("path"))
	// only the canonical path: PathValue is unescaped, and /tile/0%2F000
	// would otherwise be cached as another copy of /tile/0/000
	if !ok || r.URL.EscapedPath() != r.URL.Path {
		http.NotFound(w, r)
		return
	}
	_, size, ok := h.checkpoint(w, r)
	if !ok {
		return
	}
	if !within(t, size) {
		http.Error(w, fmt.Sprintf("audit: tiles: tile past the tree of size %d", size), http.StatusNotFound)
		return
	}
	var data []byte
	var err error
	if t.L == -1 {
		data, err = h.bundle(r.Context(), t)
	} else {
		data, err = tlog.ReadTileData(t, tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			return h.src.ReadHashes(r.Context(), indexes)
		}))
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("audit: tiles: %s: %w", formatPath(t), err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if t.W == width {
		w.Header().Set("Cache-Control", cacheImmutable)
	} else {
		w.Header().Set("Cache-Control", cachePartial)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// bundle returns the entry bundle of the level -1 tile t.
func (h *Handler) bundle(ctx context.Context, t tlog.Tile) ([]byte, error) {
	entries, err := h.src.Entries(ctx, t.N*width, t.W)
	if err != nil {
		return nil, err
	}
	if len(entries) != t.W {
		return nil, fmt.Errorf("the source returned %d entries, want %d", len(entries), t.W)
	}
	var b []byte
	for i, e := range entries {
		if len(e) > math.MaxUint16 {
			return nil, fmt.Errorf("entry %d is %d bytes long, more than an entry bundle holds (%d)", t.N*width+int64(i), len(e), math.MaxUint16)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b, nil
}

// within reports whether the tree of size holds every hash, or entry, of
// t: the last one covers records up to (N·256 + W)·256^L.
func within(t tlog.Tile, size int64) bool {
	if t.N > (math.MaxInt64-width)/width {
		return false
	}
	end := t.N*width + int64(t.W)
	level := 0
	if t.L > 0 {
		level = t.L * Height
	}
	if level >= 63 {
		return false
	}
	return end <= size>>level
}

// parsePath parses the part of a tile path after "tile/": "<L>/<N>" or
// "entries/<N>", with an optional ".p/<W>", in canonical form only.
func parsePath(p string) (tlog.Tile, bool) {
	t := tlog.Tile{H: Height, W: width}
	level, rest, ok := strings.Cut(p, "/")
	if !ok {
		return tlog.Tile{}, false
	}
	if level == "entries" {
		t.L = -1
	} else {
		l, err := strconv.Atoi(level)
		if err != nil || l < 0 || l > 63 || strconv.Itoa(l) != level {
			return tlog.Tile{}, false
		}
		t.L = l
	}
	if i := strings.Index(rest, ".p/"); i >= 0 {
		w, err := strconv.Atoi(rest[i+3:])
		if err != nil || w < 1 || w >= width || strconv.Itoa(w) != rest[i+3:] {
			return tlog.Tile{}, false
		}
		t.W = w
		rest = rest[:i]
	}
	groups := strings.Split(rest, "/")
	if len(groups) > 7 { // 10^21 > MaxInt64
		return tlog.Tile{}, false
	}
	var digits strings.Builder
	for i, g := range groups {
		if i < len(groups)-1 {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return tlog.Tile{}, false
			}
		}
		if len(g) != 3 || strings.Trim(g, "0123456789") != "" {
			return tlog.Tile{}, false
		}
		digits.WriteString(g)
	}
	n, err := strconv.ParseInt(digits.String(), 10, 64)
	if err != nil {
		return tlog.Tile{}, false
	}
	t.N = n
	if formatIndex(n) != rest {
		return tlog.Tile{}, false // leading zero groups ("x000/001")
	}
	return t, true
}

// formatIndex writes n in 3-digit path elements, all but the last
// prefixed with "x".
func formatIndex(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/", n%1000) + s
	}
	return s
}

// formatPath returns the C2SP path of t, for error messages.
func formatPath(t tlog.Tile) string {
	p := "tile/"
	if t.L == -1 {
		p += "entries/"
	} else {
		p += strconv.Itoa(t.L) + "/"
	}
	p += formatIndex(t.N)
	if t.W < width {
		p += ".p/" + strconv.Itoa(t.W)
	}
	return p
}
