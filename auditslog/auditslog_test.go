package auditslog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/auditslog"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines decodes the JSON lines of buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestMirrorLogsRedactedRecordsAfterTheStore(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	primary := memory.New(nil)
	mirror, err := auditslog.Mirror(primary, slog.New(slog.NewJSONHandler(&buf, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(mirror, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	ctx := audit.WithRequestInfo(context.Background(), audit.RequestInfo{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"})
	err = l.Log(ctx, audit.Event{
		UserID: "u-1", Action: audit.ActionUserPasswordChange, ResourceType: "user", ResourceID: "u-1", Status: audit.StatusSuccess,
		Details: map[string]any{"password": "hunter2", "method": "form"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := lines(t, &buf)
	if len(got) != 1 {
		t.Fatalf("got %d lines, want 1: %s", len(got), buf.String())
	}
	if got[0]["level"] != "INFO" || got[0]["msg"] != "audit" {
		t.Errorf("got level %v msg %v, want INFO audit", got[0]["level"], got[0]["msg"])
	}
	a, _ := got[0]["audit"].(map[string]any)
	stored := storetest.QueryAll(t, primary, audit.Filter{})
	if len(stored) != 1 {
		t.Fatalf("primary holds %d records, want 1", len(stored))
	}
	want := map[string]string{
		"id": stored[0].ID.String(), "user_id": "u-1", "action": "user.password_change", "status": "success",
		"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "details": string(stored[0].Details),
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("audit.%s: got %v, want %q", k, a[k], v)
		}
	}
	if strings.Contains(buf.String(), "hunter2") {
		t.Errorf("the secret reached the log: %s", buf.String())
	}
	if _, ok := a["user_email"]; ok {
		t.Errorf("an empty field was logged: %v", a)
	}
}

type failing struct{}

func (failing) Append(context.Context, ...audit.Record) error { return errors.New("disk full") }

func TestMirrorLogsNothingTheStoreRefused(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	mirror, err := auditslog.Mirror(failing{}, slog.New(slog.NewJSONHandler(&buf, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = mirror.Append(context.Background(), storetest.Records(0, 3)...)
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("got %v, want the primary's error unchanged", err)
	}
	if buf.Len() != 0 {
		t.Errorf("logged records the store refused: %s", buf.String())
	}
}

func TestMirrorLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})
	quiet, err := auditslog.Mirror(memory.New(nil), slog.New(h), nil) // Info: below the handler's level
	if err != nil {
		t.Fatal(err)
	}
	if err := quiet.Append(context.Background(), storetest.Records(0, 2)...); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("Info lines passed a Warn handler: %s", buf.String())
	}
	loud, err := auditslog.Mirror(memory.New(nil), slog.New(h), &auditslog.Options{Level: slog.LevelWarn, Message: "audit record"})
	if err != nil {
		t.Fatal(err)
	}
	if err := loud.Append(context.Background(), storetest.Records(0, 2)...); err != nil {
		t.Fatal(err)
	}
	got := lines(t, &buf)
	if len(got) != 2 || got[0]["level"] != "WARN" || got[0]["msg"] != "audit record" {
		t.Errorf("got %v, want 2 WARN lines with message \"audit record\"", got)
	}
}

func ExampleMirror() {
	// The service's own logs; the time is left out to keep the output fixed.
	logs := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	store := memory.New(nil)
	mirror, err := auditslog.Mirror(store, logs, nil)
	if err != nil {
		log.Fatal(err)
	}
	logger, err := audit.New(mirror, &audit.Options{
		NoLifecycleEvents: true,
		Policy:            audit.Policy{Default: audit.Sync},
		Now:               func() time.Time { return time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC) },
		NewID:             func() uuid.UUID { return uuid.UUID{0x01, 0x9c, 0xed} },
	})
	if err != nil {
		panic(err)
	}
	defer logger.Close(context.Background())
	logger.Log(context.Background(), audit.Event{
		UserID: "u-42", Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: "u-42",
		Status: audit.StatusSuccess, Details: map[string]any{"method": "password", "password": "hunter2"},
	})
	// Output:
	// {"level":"INFO","msg":"audit","audit":{"id":"019ced00-0000-0000-0000-000000000000","timestamp":"2026-03-14T15:09:26Z","user_id":"u-42","action":"user.login","resource_type":"user","resource_id":"u-42","details":"{\"method\":\"password\",\"password\":\"[REDACTED]\"}","status":"success"}}
}
