package chain

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain/tiles"
	"github.com/trailmark/audit/storekit"
)

// TilesSource returns the tiles.Source of the tree store keeps: its
// newest signed checkpoint, its stored hashes, and, as entries, the
// leaves' commitments (which reveal nothing of the records: their salts
// stay in the store). Serve it with tiles.New, or use TilesHandler.
func TilesSource(store storekit.TreeReader) (tiles.Source, error) {
	if store == nil {
		return nil, errors.New("audit: TilesSource: nil store")
	}
	return treeSource{store}, nil
}

// TilesHandler returns a C2SP tlog-tiles handler of the tree store keeps
// (see TilesSource and package tiles), to mount beside the admin API:
//
//	h, err := chain.TilesHandler(store, nil)
//	…
//	mux.Handle("/log/", http.StripPrefix("/log", h))
//
// opts may be nil.
func TilesHandler(store storekit.TreeReader, opts *tiles.Options) (*tiles.Handler, error) {
	src, err := TilesSource(store)
	if err != nil {
		return nil, err
	}
	return tiles.New(src, opts)
}

type treeSource struct{ r storekit.TreeReader }

func (s treeSource) Checkpoint(ctx context.Context) ([]byte, error) {
	c, err := s.r.TreeCheckpoint(ctx, -1)
	if err != nil {
		return nil, fmt.Errorf("audit: tiles: %w", err)
	}
	return c.Note, nil
}

func (s treeSource) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return hashReader(ctx, s.r).ReadHashes(indexes)
}

func (s treeSource) Entries(ctx context.Context, start int64, n int) ([][]byte, error) {
	leaves, err := s.r.Leaves(ctx, uint64(start)+1, n)
	if err != nil {
		return nil, fmt.Errorf("audit: tiles: %w", err)
	}
	if len(leaves) != n {
		return nil, fmt.Errorf("audit: tiles: %d of the %d leaves from %d", len(leaves), n, start)
	}
	out := make([][]byte, n)
	for i := range leaves {
		out[i] = leaves[i].Commitment
	}
	return out, nil
}
