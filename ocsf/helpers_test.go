package ocsf_test

import (
	"testing"

	"github.com/trailmark/audit/ocsf"
)

func mustNew(t testing.TB, opts *ocsf.Options) *ocsf.Mapper {
	t.Helper()
	m, err := ocsf.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}
