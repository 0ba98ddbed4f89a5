package tiles

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServeTile serves a full level-0 tile and a full entry bundle of
// a tree of 65,536 records from memory, without the network: the
// handler's own cost (checkpoint parse, path parse, 256 hashes or
// entries).
func BenchmarkServeTile(b *testing.B) {
	src, _ := newMemSource(b)
	src.tree.AppendN("commitment", 1<<16)
	src.publish(b)
	h, err := New(src, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"/tile/0/117", "/tile/entries/117", "/tile/1/000"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, rec.Code)
				}
			}
		})
	}
}
