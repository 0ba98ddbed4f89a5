package postgres_test

import (
	"context"
	"testing"
)

// BenchmarkBytesPerRow stores chainRows typical records (benchRecord),
// seals them, and reports the disk they take per record: the table's
// heap, its indexes, and the seals with theirs — the figures for sizing
// (docs/scale.md).
//
//	go test ./store/postgres/ -run '^$' -bench BytesPerRow -benchtime 1x
func BenchmarkBytesPerRow(b *testing.B) {
	n := chainRows(b)
	ctx := context.Background()
	for range b.N {
		s := filledStore(b, n)
		sealEverything(b, s, n)
		schema := schemaOf(b, s)
		var heap, indexes, seals float64
		err := s.DB().QueryRowContext(ctx, `SELECT
			sum(pg_relation_size(relid)), sum(pg_indexes_size(relid))
			FROM pg_partition_tree($1::regclass) WHERE isleaf`, schema+".audit_logs").Scan(&heap, &indexes)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.DB().QueryRowContext(ctx, `SELECT pg_total_relation_size($1::regclass)`, schema+".audit_logs_seals").Scan(&seals); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(heap/float64(n), "heap-B/record")
		b.ReportMetric(indexes/float64(n), "index-B/record")
		b.ReportMetric(seals/float64(n), "seal-B/record")
	}
}
