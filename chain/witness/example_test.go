package witness_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/chain/witness"
	"github.com/trailmark/audit/internal/tlogtest"
)

func Example() {
	dir, err := os.MkdirTemp("", "witness")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	seed := func(b byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)) }

	// The log: a tree, a key named as its origin.
	const origin = "example.com/audit"
	var tree tlogtest.Tree
	logSigner, _ := checkpoint.NewSigner(origin, seed(1))
	logVerifier, _ := checkpoint.NewVerifier(origin, seed(1).Public().(ed25519.PublicKey))
	signAt := func(size int64) []byte {
		msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: origin, Size: size, Hash: tree.Root(size)}, logSigner)
		if err != nil {
			panic(err)
		}
		return msg
	}
	prove := func(_ context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
		return tlog.ProveTree(newSize, oldSize, tree.HashReader())
	}

	// The witness, run by someone else, follows the log.
	w, err := witness.New("witness.example/w1", seed(2), []witness.Log{{Origin: origin, Verifier: logVerifier}},
		filepath.Join(dir, "state.json"), nil)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(w)
	defer srv.Close()

	// The log submits its checkpoints as the tree grows.
	wv, _ := witness.NewVerifier(w.VerifierKey())
	client, _ := witness.NewClient(srv.URL, wv, &witness.ClientOptions{HTTPClient: srv.Client()})
	var witnessSize int64
	var cosigned []byte
	for _, n := range []int{10, 20} {
		tree.AppendN("record", n)
		signed := signAt(tree.Size())
		lines, size, err := client.Cosign(context.Background(), signed, witnessSize, prove)
		if err != nil {
			panic(err)
		}
		witnessSize, cosigned = size, append(signed, lines...)
	}

	// A reader requires the log's signature and one witness.
	c, err := witness.VerifyCosignatures(cosigned, origin, logVerifier, []note.Verifier{wv}, 1)
	fmt.Println(c.Size, err)
	// Output: 30 <nil>
}
