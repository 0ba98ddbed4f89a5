package checkpoint_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain/checkpoint"
)

func Example() {
	// The log's key; in production it comes from a key file.
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	const origin = "example.com/audit"

	signer, err := checkpoint.NewSigner(origin, priv)
	if err != nil {
		panic(err)
	}
	// A tree of one record.
	c := checkpoint.Checkpoint{Origin: origin, Size: 1, Hash: tlog.RecordHash([]byte("record 0"))}
	msg, err := checkpoint.Sign(c, signer)
	if err != nil {
		panic(err)
	}

	// Whoever holds the public key checks it.
	verifier, err := checkpoint.NewVerifier(origin, priv.Public().(ed25519.PublicKey))
	if err != nil {
		panic(err)
	}
	got, _, err := checkpoint.Open(msg, origin, verifier)
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Origin, got.Size, got.Hash == c.Hash)
	// Output: example.com/audit 1 true
}

func ExampleVerifierKey() {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	vkey, err := checkpoint.VerifierKey("example.com/audit", priv.Public().(ed25519.PublicKey))
	if err != nil {
		panic(err)
	}
	fmt.Println(vkey)
	// Output: example.com/audit+d67c3fea+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c
}
