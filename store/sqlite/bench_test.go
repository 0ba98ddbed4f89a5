package sqlite

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

// The figures in the README come from
//
//	go test -run '^$' -bench . -benchtime 20000x ./store/sqlite/

func benchEvent(i int) audit.Event {
	return audit.Event{
		UserID: "user-42", Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: "doc-7",
		Status: audit.StatusSuccess, Details: map[string]any{"i": i, "path": "/documents/7"},
	}
}

// benchLogger logs b.N events through an Async Logger into s and reports
// events per second.
func benchLogger(b *testing.B, s audit.Store) {
	ctx := context.Background()
	l, err := audit.New(s, &audit.Options{Policy: audit.Policy{NoSecurityDefaults: true}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := l.Log(ctx, benchEvent(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if st := l.Stats(); st.Failed > 0 || st.Dropped[audit.ReasonShutdown] > 0 {
		b.Fatalf("records lost: %+v", st)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLoggerAsync is the Async Logger writing to a file: batches of
// up to 512 records, one transaction each.
func BenchmarkLoggerAsync(b *testing.B) {
	s := newStore(b, nil)
	benchLogger(b, s)
	var size int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(s.path + suffix); err == nil {
			size += fi.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(b.N), "file-bytes/event")
}

// BenchmarkLoggerAsyncMemory is the same into the memory store.
func BenchmarkLoggerAsyncMemory(b *testing.B) {
	benchLogger(b, memory.New(nil))
}

// BenchmarkNaiveInsert is what the Logger's batching saves: one INSERT per
// transaction, each synced, on the same kind of file.
func BenchmarkNaiveInsert(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, nil)
	recs := storetest.Records(0, min(b.N, 1000))
	b.ResetTimer()
	for i := range b.N {
		r := recs[i%len(recs)]
		r.ID = [16]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 1}
		if err := s.Append(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// sealedStore returns a file with n records, and a Sealer for it.
func sealedStore(b *testing.B, n int) (*Store, *chain.Sealer) {
	s := newStore(b, nil)
	for i := 0; i < n; i += 1000 {
		if err := s.Append(context.Background(), storetest.Records(i, min(i+1000, n))...); err != nil {
			b.Fatal(err)
		}
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner})
	if err != nil {
		b.Fatal(err)
	}
	return s, sl
}

// BenchmarkSeal seals b.N records.
func BenchmarkSeal(b *testing.B) {
	_, sl := sealedStore(b, b.N)
	b.ResetTimer()
	n, err := sl.SealOnce(context.Background())
	if err != nil || n != b.N {
		b.Fatalf("sealed %d of %d: %v", n, b.N, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerify verifies a chain of b.N records.
func BenchmarkVerify(b *testing.B) {
	s, sl := sealedStore(b, b.N)
	ctx := context.Background()
	if _, err := sl.SealOnce(ctx); err != nil {
		b.Fatal(err)
	}
	o := verifyOptions()
	o.Now = func() time.Time { return time.Now().Add(time.Hour) }
	b.ResetTimer()
	rep, err := chain.Verify(ctx, s, o)
	if err != nil || !rep.OK() {
		b.Fatalf("verify: %v %v", err, rep.Problems)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
