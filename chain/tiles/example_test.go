package tiles_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/chain/tiles"
	"github.com/trailmark/audit/internal/tlogtest"
)

func Example() {
	var tree tlogtest.Tree
	tree.AppendN("commitment", 300)
	signer, _ := checkpoint.NewSigner("example.com/audit", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)))
	msg, _ := checkpoint.Sign(checkpoint.Checkpoint{Origin: "example.com/audit", Size: 300, Hash: tree.Root(300)}, signer)

	src := &tlogtest.Source{Tree: &tree}
	src.SetCheckpoint(msg)
	h, err := tiles.New(src, nil)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	for _, path := range []string{"/tile/0/000", "/tile/0/001.p/44", "/tile/1/000.p/1", "/tile/entries/001.p/44", "/tile/0/001"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %d %d bytes %q\n", path, resp.StatusCode, len(body), resp.Header.Get("Cache-Control"))
	}
	// Output:
	// /tile/0/000 200 8192 bytes "public, max-age=31536000, immutable"
	// /tile/0/001.p/44 200 1408 bytes "public, max-age=60"
	// /tile/1/000.p/1 200 32 bytes "public, max-age=60"
	// /tile/entries/001.p/44 200 704 bytes "public, max-age=60"
	// /tile/0/001 404 45 bytes ""
}
