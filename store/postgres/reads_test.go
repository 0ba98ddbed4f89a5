package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

// TestMaxReads: the reads a Store admits at once follow the pool's size
// (less 2 for the Logger's writers), Options.MaxReads, or nothing; a
// read past them waits its turn without touching the pool, and gives up
// with its context.
func TestMaxReads(t *testing.T) {
	for _, tt := range []struct {
		pool, maxReads, want int
	}{
		{10, 0, 8}, {2, 0, 1}, {1, 0, 1}, {0, 0, 0}, {10, 3, 3}, {0, 3, 3}, {10, postgres.NoReadLimit, 0},
	} {
		db, _, err := sqlmock.New()
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(tt.pool)
		s, err := postgres.New(sqlx.NewDb(db, "postgres"), &postgres.Options{MaxReads: tt.maxReads})
		if err != nil {
			t.Fatal(err)
		}
		if got := postgres.ReadSlots(s); got != tt.want {
			t.Errorf("pool %d, MaxReads %d: %d reads at once, want %d", tt.pool, tt.maxReads, got, tt.want)
		}
		db.Close()
	}
	if _, err := postgres.New(sqlx.NewDb(new(sql.DB), "postgres"), &postgres.Options{MaxReads: -2}); err == nil {
		t.Error("MaxReads -2 accepted")
	}

	// no expectations: a read that reached the pool would fail with
	// sqlmock's "all expectations were already fulfilled"
	db, mock, err := sqlmock.New()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := postgres.New(sqlx.NewDb(db, "postgres"), &postgres.Options{MaxReads: 1})
	if err != nil {
		t.Fatal(err)
	}
	release := postgres.TakeReadSlot(s)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Query(ctx, audit.Filter{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Query past MaxReads: %v, want it to wait, then fail with its context", err)
	}
	if _, err := s.Get(ctx, uuid.New()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get past MaxReads: %v, want it to wait, then fail with its context", err)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Error(err)
	}
}
