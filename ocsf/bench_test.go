package ocsf_test

import (
	"io"
	"testing"

	"github.com/trailmark/audit/ocsf"
)

func BenchmarkEncode(b *testing.B) {
	enc := ocsf.NewEncoder(io.Discard, nil)
	r := cases()[0].rec
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(&r); err != nil {
			b.Fatal(err)
		}
	}
}
