package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
)

// A user's own action names the user's email from the context's actor:
// every login and logout in the example service had an empty user_email.
func TestLogUserActionKeepsActorEmail(t *testing.T) {
	tests := []struct {
		name      string
		actor     audit.Actor
		userID    string
		wantEmail string
	}{
		{"same user", audit.Actor{UserID: "u-1", UserEmail: "ada@example.com"}, "u-1", "ada@example.com"},
		{"unknown account", audit.Actor{UserEmail: "typo@example.com"}, "", "typo@example.com"},
		{"another user in context", audit.Actor{UserID: "u-2", UserEmail: "bob@example.com"}, "u-1", ""},
		{"no actor", audit.Actor{}, "u-1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memory.New(nil)
			l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx := audit.WithActor(context.Background(), tt.actor)
			if err := l.LogUserAction(ctx, tt.userID, audit.ActionUserLogin, errors.New("bad password"), nil); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			rs := all(t, s)
			if len(rs) != 1 {
				t.Fatalf("stored %d records, want 1", len(rs))
			}
			if rs[0].UserID != tt.userID || rs[0].UserEmail != tt.wantEmail {
				t.Errorf("got user %q email %q, want %q %q", rs[0].UserID, rs[0].UserEmail, tt.userID, tt.wantEmail)
			}
		})
	}
}

// The logger_stop record counts what was written before it, the queue
// drained: it said "written":0 when all 7 were written.
func TestLoggerStopCountsAfterDrain(t *testing.T) {
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{Async: audit.AsyncOptions{FlushInterval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for range 7 {
		if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs := all(t, s)
	if rs[0].Action != audit.ActionAuditLoggerStop {
		t.Fatalf("newest is %s, want the logger's stop", rs[0].Action)
	}
	var got struct{ Accepted, Written, Failed uint64 }
	if err := json.Unmarshal(rs[0].Details, &got); err != nil {
		t.Fatal(err)
	}
	// The start record and the 7 reads, all written before the stop.
	if got.Accepted != 8 || got.Written != 8 || got.Failed != 0 {
		t.Errorf("logger_stop counts %+v, want accepted 8, written 8, failed 0", got)
	}
}

// PCIMaxAge keeps 12 calendar months from any day, leap days included,
// as its doc and docs/compliance.md say.
func TestPCIMaxAgeCoversTwelveMonths(t *testing.T) {
	for d := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2032; d = d.AddDate(0, 0, 1) {
		if need := d.AddDate(1, 0, 0).Sub(d); need > audit.PCIMaxAge {
			t.Fatalf("from %s, 12 months are %v, more than PCIMaxAge %v", d.Format(time.DateOnly), need, audit.PCIMaxAge)
		}
	}
}
