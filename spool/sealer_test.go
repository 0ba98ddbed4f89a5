package spool_test

import (
	"bytes"
	"context"

	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/sqlite"
)

// runSealer runs a Sealer with the default options on store until ctx
// ends. It is this package's only use of the chain's API.
func runSealer(ctx context.Context, store *sqlite.Store) error {
	sl, err := chain.NewSealer(store, chain.HMACKey{ID: "k", Secret: bytes.Repeat([]byte{7}, 32)}, nil)
	if err != nil {
		return err
	}
	return sl.Run(ctx)
}
