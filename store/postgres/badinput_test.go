package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// TestBadRecordsFailWhole appends batches with one record that PostgreSQL
// refuses although it passes the Store's own checks: the whole call fails
// with a permanent error and writes nothing.
func TestBadRecordsFailWhole(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, nil)
	refuseInDatabase(t, s)
	ctx := testCtx(t)
	tests := []struct {
		name   string
		change func(r *audit.Record)
		code   string
		named  bool // the error names the record
	}{
		{"refused by the database", func(r *audit.Record) { r.UserID = refusedUser }, "22023", false},
	}
	for _, tt := range tests {
		for _, n := range []int{1, 5} {
			rs := storetest.Records(0, n)
			bad := n / 2
			tt.change(&rs[bad])
			err := s.Append(ctx, rs...)
			if !storekit.IsPermanent(err) || pqCode(err) != tt.code {
				t.Errorf("%s, %d records: got %v, want a permanent error %s", tt.name, n, err, tt.code)
				continue
			}
			if tt.named && n > 1 && !strings.Contains(err.Error(), fmt.Sprintf("record %d (id %s)", bad, rs[bad].ID)) {
				t.Errorf("%s: got %q, want it to name record %d", tt.name, err, bad)
			}
			if got := storetest.QueryAll(t, s, audit.Filter{}); len(got) != 0 {
				t.Errorf("%s, %d records: %d written, want none", tt.name, n, len(got))
			}
		}
	}
}

// unindexable returns a user id within the record contract that
// PostgreSQL refuses: 8 KiB of noise, too large for an index entry even
// compressed.
// refusedUser is the user whose records refuseInDatabase makes the
// database refuse.
const refusedUser = "refused-by-the-database"

// refuseInDatabase makes the table of s refuse every record of refusedUser
// with a data exception (22023), as PostgreSQL refuses a record it cannot
// take. Within the record contract nothing in a record's data is such any
// more (each id is at most 1 KiB, so no index entry grows too large;
// canonical JSON keeps numbers jsonb cannot hold as strings), so the test
// makes one.
func refuseInDatabase(t testing.TB, s *postgres.Store) {
	t.Helper()
	schema := schemaOf(t, s)
	_, err := s.DB().Exec(fmt.Sprintf(`CREATE FUNCTION %[1]s.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.user_id = '%[2]s' THEN
		RAISE EXCEPTION 'refused' USING ERRCODE = '22023';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER refuse BEFORE INSERT ON %[1]s.audit_logs FOR EACH ROW EXECUTE FUNCTION %[1]s.refuse()`, schema, refusedUser))
	if err != nil {
		t.Fatal(err)
	}
}

// TestNULEscapeStoredRepaired: JSON with an escaped NUL or a lone
// surrogate, which jsonb refuses, is within the record contract: the
// Store writes Details in canonical form, where each is U+FFFD, as every
// store keeps them, so that it is stored and seals (issue 20, item 1;
// it used to fail the call, and an application's transaction, with 22P05).
func TestNULEscapeStoredRepaired(t *testing.T) {
	s := newStore(t, nil)
	ctx := testCtx(t)
	r := storetest.Record(0)
	r.Details = json.RawMessage(`{"a\u0000":"x\u0000y","s":"\ud800"}`)
	if err := s.Append(ctx, r); err != nil {
		t.Fatalf("Append: %v", err)
	}
	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"a\ufffd\":\"x\ufffdy\",\"s\":\"\ufffd\"}"; string(got.Details) != want {
		t.Errorf("Details read back %s, want %s", got.Details, want)
	}
	r.RecordedAt = got.RecordedAt // the store's to set
	d1, err1 := storekit.Digest(&r)
	d2, err2 := storekit.Digest(&got)
	if err1 != nil || err2 != nil || string(d1) != string(d2) {
		t.Errorf("digest as given %x (%v), as read back %x (%v): want the same", d1, err1, d2, err2)
	}
}

// poison is a Store that corrupts one record on its way to PostgreSQL, so
// that the database refuses it.
type poison struct {
	audit.Store
	id uuid.UUID
}

func (p poison) Append(ctx context.Context, rs ...audit.Record) error {
	out := make([]audit.Record, len(rs))
	copy(out, rs)
	for i := range out {
		if out[i].ID == p.id {
			out[i].UserID = refusedUser
		}
	}
	return p.Store.Append(ctx, out...)
}

// TestLoggerIsolatesBadRecord: the Logger bisects a batch that fails
// permanently; the bad record alone is reported, the rest written.
func TestLoggerIsolatesBadRecord(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, nil)
	refuseInDatabase(t, s)
	ctx := testCtx(t)
	bad := uuid.Must(uuid.NewV7())
	var mu sync.Mutex
	var reported []*audit.DeliveryError
	l, err := audit.New(poison{s, bad}, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{BatchSize: 64, FlushInterval: time.Hour}, OnError: func(err error) {
		mu.Lock()
		defer mu.Unlock()
		var de *audit.DeliveryError
		if !errors.As(err, &de) {
			t.Errorf("error handler: %v", err)
			return
		}
		reported = append(reported, de)
	}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		ev := audit.Event{Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: fmt.Sprint(i), Status: audit.StatusSuccess}
		if i == 77 {
			ev.ID = bad
		}
		if err := l.Log(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(reported) != 1 || reported[0].Reason != audit.ReasonRejected || len(reported[0].Records) != 1 || reported[0].Records[0].ID != bad {
		t.Fatalf("reported %v, want the bad record alone, rejected", reported)
	}
	if !strings.Contains(reported[0].Error(), "audit: postgres: append record "+bad.String()) {
		t.Errorf("reported %q, want it to name the record", reported[0])
	}
	if got := storetest.QueryAll(t, s, audit.Filter{Limit: 1000}); len(got) != n-1 {
		t.Errorf("%d records written, want %d", len(got), n-1)
	}
	if st := l.Stats(); st.Written != n-1 || st.Failed != 1 {
		t.Errorf("stats: written %d, failed %d; want %d, 1", st.Written, st.Failed, n-1)
	}
}

// TestHostileEventsThroughLogger logs what an attacker or a bug may send:
// NUL bytes and invalid UTF-8 everywhere, SQL in every field, 1 MB of
// details, the last representable microsecond. All is stored safely and
// found again by the same values, except an identity that holds NUL or
// invalid UTF-8: that event is refused, never stored with the id
// repaired into another.
func TestHostileEventsThroughLogger(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, nil)
	ctx := testCtx(t)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}, Limits: audit.Limits{MaxStringBytes: 2 << 20, MaxJSONBytes: 4 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	sqlish := `x'); DROP TABLE audit_logs; -- %_\`
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	far := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	for _, bad := range []audit.Event{
		{UserID: "a\x00b"}, {Action: "user.\x00login"}, {ResourceType: "doc\xff"}, {ResourceID: "r\x00"},
		{RequestID: "req\x00"}, {SessionID: "\xc3"}, {TenantID: "t\xff"},
	} {
		if bad.Action == "" {
			bad.Action = audit.ActionUserLogin
		}
		if bad.ResourceType == "" {
			bad.ResourceType = "doc"
		}
		bad.Status = audit.StatusFailure
		if err := l.Log(ctx, bad); !errors.Is(err, audit.ErrInvalidEvent) {
			t.Errorf("an identity with NUL or invalid UTF-8 (%+q): Log: %v, want ErrInvalidEvent", bad, err)
		}
	}
	events := []audit.Event{
		{UserID: "a-b", UserEmail: "\xff@example.com", UserAgent: "ua\x00\xfe", Action: "user.login",
			ResourceType: "doc", ResourceID: "r", RequestID: "req", SessionID: "s", Status: audit.StatusFailure,
			ErrorMessage: "boom\x00", Details: map[string]any{"k\x00": "v\xff", "nested": map[string]any{"\xfe": []any{"\x00"}}}},
		{UserID: sqlish, UserEmail: sqlish, UserAgent: sqlish, Action: audit.Action(sqlish), ResourceType: sqlish,
			ResourceID: sqlish, RequestID: sqlish, SessionID: sqlish, Status: audit.StatusSuccess, ErrorMessage: sqlish,
			Details: map[string]any{sqlish: sqlish}},
		{Action: audit.ActionResourceUpdate, ResourceType: "blob", Status: audit.StatusSuccess, Details: map[string]any{"data": big}},
		{Action: audit.ActionResourceUpdate, ResourceType: "future", Status: audit.StatusSuccess, OccurredAt: far},
	}
	for i, ev := range events {
		if err := l.Log(ctx, ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	all := storetest.QueryAll(t, s, audit.Filter{})
	if len(all) != len(events) {
		t.Fatalf("got %d records, want %d", len(all), len(events))
	}
	for _, f := range []audit.Filter{
		{UserID: sqlish}, {Action: audit.Action(sqlish)}, {ActionPrefix: sqlish}, {ActionPrefix: sqlish[:5]},
		{ResourceType: sqlish, ResourceID: sqlish}, {ResourceID: sqlish}, {RequestID: sqlish},
	} {
		if got := storetest.QueryAll(t, s, f); len(got) != 1 || got[0].UserID != sqlish {
			t.Errorf("Query(%+v): got %d records, want the one with SQL in it", f, len(got))
		}
	}
	for _, r := range all {
		switch r.ResourceType {
		case "blob":
			d, err := r.DecodeDetails()
			if err != nil || d["data"] != big {
				t.Errorf("1 MiB details: got %d bytes back, %v", len(r.Details), err)
			}
		case "future":
			if want := far.Truncate(time.Microsecond); !r.OccurredAt.Equal(want) {
				t.Errorf("far future: got %v, want %v", r.OccurredAt, want)
			}
		case "doc":
			if r.UserEmail != "\uFFFD@example.com" || strings.ContainsRune(r.ErrorMessage, 0) {
				t.Errorf("cleaned strings: got email %q, error %q", r.UserEmail, r.ErrorMessage)
			}
		}
	}
}

func TestAppendOneMegabyteDirectly(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, nil)
	ctx := testCtx(t)
	rs := storetest.Records(0, 3)
	big, _ := json.Marshal(map[string]string{"data": strings.Repeat("x", 1<<20)})
	rs[1].Details = big
	if err := s.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, rs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := storetest.Equal(got, rs[1]); d != "" {
		t.Errorf("1 MiB details: %s", d[:min(len(d), 200)])
	}
}
