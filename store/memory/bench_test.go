package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

func BenchmarkAppend(b *testing.B) {
	s := memory.New()
	batch := storetest.Records(0, 512)
	t0 := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &batch[i%512]
		r.ID = uuid.Must(uuid.NewV7())
		r.OccurredAt = t0.Add(time.Duration(i) * time.Microsecond)
		i++
		if i%512 == 0 {
			if err := s.Append(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
		}
	}
	_ = audit.Record{}
}
