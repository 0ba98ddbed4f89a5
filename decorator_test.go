package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

type doc struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Size  int    `json:"size"`
}

var errNotFound = errors.New("not found")

func TestWrapRecordsSuccessAndFailure(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{Default: audit.Sync}})
	get := must(audit.Wrap(l, audit.Operation[string, *doc]{
		Action: audit.ActionResourceRead, ResourceType: "document",
		ResourceID: func(id string, _ *doc) string { return id },
		Details:    func(id string, d *doc) map[string]any { return map[string]any{"title": d.Title} }, // panics on nil d
		Actor: func(id string, _ *doc) audit.Actor {
			if id == "missing" {
				return audit.Actor{UserID: "u-from-arg"}
			}
			return audit.Actor{}
		},
	}, func(ctx context.Context, id string) (*doc, error) {
		if id == "missing" {
			return nil, errNotFound
		}
		return &doc{ID: id, Title: "T"}, nil
	}))
	ctx := audit.WithActor(context.Background(), audit.Actor{UserID: "u1"})
	d, err := get(ctx, "d1")
	if err != nil || d.Title != "T" {
		t.Fatalf("wrapped call: %v, %v", d, err)
	}
	if _, err := get(ctx, "missing"); !errors.Is(err, errNotFound) {
		t.Fatalf("wrapped call: error %v, want the function's own", err)
	}
	rs := all(t, s)
	if len(rs) != 2 {
		t.Fatalf("got %d records, want 2", len(rs))
	}
	fail, ok := rs[0], rs[1]
	if ok.Status != audit.StatusSuccess || ok.ResourceID != "d1" || ok.UserID != "u1" || string(ok.Details) != `{"title":"T"}` {
		t.Errorf("success record: %+v %s", ok, ok.Details)
	}
	if fail.Status != audit.StatusFailure || fail.ErrorMessage != "not found" || fail.ResourceID != "missing" || fail.UserID != "u-from-arg" {
		t.Errorf("failure record: %+v", fail)
	}
	// the Details hook panicked on the nil result: noted, not fatal
	if !strings.Contains(string(fail.Details), "Details panicked") {
		t.Errorf("hook panic not noted: %s", fail.Details)
	}
}

func TestWrapChangesAndStatus(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{Default: audit.Sync}})
	db := map[string]doc{"d1": {ID: "d1", Title: "old", Size: 1}}
	update := must(audit.Wrap(l, audit.Operation[doc, doc]{
		Action: audit.ActionResourceUpdate, ResourceType: "document",
		ResourceID: func(d doc, _ doc) string { return d.ID },
		Before: func(_ context.Context, d doc) (any, error) {
			old, ok := db[d.ID]
			if !ok {
				return nil, errNotFound
			}
			return old, nil
		},
		Status: func(err error) audit.Status { return audit.StatusError },
	}, func(_ context.Context, d doc) (doc, error) {
		if d.Size < 0 {
			return doc{}, errors.New("negative size")
		}
		db[d.ID] = d
		return d, nil
	}))
	if _, err := update(context.Background(), doc{ID: "d1", Title: "new", Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := update(context.Background(), doc{ID: "d1", Size: -1}); err == nil {
		t.Fatal("want the function's error")
	}
	if _, err := update(context.Background(), doc{ID: "nope"}); !errors.Is(err, errNotFound) || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Fatalf("Before failing: %v, want its error, and the function not called", err)
	}
	if _, ok := db["nope"]; ok {
		t.Errorf("the function ran although Before failed")
	}
	rs := all(t, s) // newest first
	if len(rs) != 3 {
		t.Fatalf("got %d records, want 3: the update, the failed update, the failed Before", len(rs))
	}
	if got := string(rs[2].Changes); got != `{"title":{"after":"new","before":"old"}}` {
		t.Errorf("changes = %s", got)
	}
	if rs[1].Status != audit.StatusError || rs[1].ErrorMessage != "negative size" {
		t.Errorf("Status hook not applied: %+v", rs[1])
	}
	// a failed call is not a deletion: no Changes with every field after null
	if len(rs[1].Changes) != 0 {
		t.Errorf("failed call recorded changes %s, want none", rs[1].Changes)
	}
	// Before failed: the attempt is recorded, the function did not run
	nope := rs[0]
	if nope.ResourceID != "nope" || nope.Status != audit.StatusError || !strings.Contains(nope.ErrorMessage, "capturing state before: not found") || len(nope.Changes) != 0 {
		t.Errorf("record of a failed Before: %+v, want status error (the Status hook), the error, no changes", nope)
	}
}

// TestWrapBeforeFailsNotRecorded: when Before fails and the record of the
// attempt cannot be written for a Sync action, the caller learns both.
func TestWrapBeforeFailsNotRecorded(t *testing.T) {
	s := newFake(func(int64, []audit.Record) error { return storekit.Permanent(errors.New("store down")) })
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{Default: audit.Sync}})
	ran := false
	del := must(audit.Wrap(l, audit.Operation[string, int]{
		Action: audit.ActionResourceDelete, ResourceType: "document",
		Before: func(context.Context, string) (any, error) { return nil, errNotFound },
	}, func(context.Context, string) (int, error) { ran = true; return 1, nil }))
	_, err := del(context.Background(), "d1")
	if !errors.Is(err, errNotFound) || !errors.Is(err, audit.ErrNotRecorded) || ran {
		t.Errorf("got %v (function ran: %v), want Before's error joined with ErrNotRecorded", err, ran)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("store called %d times, want 1 (the record of the attempt)", n)
	}
}

func TestWrapPanicIsRecordedAndReraised(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{Default: audit.Sync}})
	boom := must(audit.Wrap(l, audit.Operation[struct{}, int]{Action: "job.run", ResourceType: "job"},
		func(context.Context, struct{}) (int, error) { explode(); return 0, nil }))
	var stack string
	func() {
		defer func() {
			p := recover()
			if p != "kaboom" {
				t.Errorf("recovered %v, want the original panic value", p)
			}
			buf := make([]byte, 1<<16)
			stack = string(buf[:runtime.Stack(buf, false)])
		}()
		boom(context.Background(), struct{}{})
	}()
	if !strings.Contains(stack, "audit_test.explode") {
		t.Errorf("the re-raised panic lost the stack of the panicking function:\n%s", stack)
	}
	rs := all(t, s)
	if len(rs) != 1 || rs[0].Status != audit.StatusError || rs[0].ErrorMessage != "panic: kaboom" {
		t.Fatalf("records %+v, want one with status error and the panic", rs)
	}
}

func explode() { panic("kaboom") }

func TestWrapFailClosed(t *testing.T) {
	s := newFake(func(int64, []audit.Record) error { return storekit.Permanent(errors.New("store down")) })
	var e errs
	l := newLogger(t, s, &audit.Options{OnError: e.handle, Async: fastAsync()})
	ran := 0
	op := func(a audit.Action) func(context.Context, struct{}) (string, error) {
		return must(audit.Wrap(l, audit.Operation[struct{}, string]{Action: a, ResourceType: "key"},
			func(context.Context, struct{}) (string, error) { ran++; return "k1", nil }))
	}
	// Sync action: the caller learns that the operation is unaudited
	got, err := op(audit.ActionAPIKeyCreate)(context.Background(), struct{}{})
	if got != "k1" || !errors.Is(err, audit.ErrNotRecorded) || !strings.Contains(err.Error(), "store down") {
		t.Errorf("sync action, store down: got %q, %v; want the result and ErrNotRecorded", got, err)
	}
	// Async action: the call succeeds; the failure goes to OnError
	got, err = op(audit.ActionResourceRead)(context.Background(), struct{}{})
	if got != "k1" || err != nil {
		t.Errorf("async action, store down: got %q, %v; want success", got, err)
	}
	l.Close(context.Background())
	if len(e.deliveryErrors()[audit.ReasonRejected]) != 1 {
		t.Errorf("the async failure was not reported: %v", e.list())
	}
	if ran != 2 {
		t.Errorf("function ran %d times, want 2", ran)
	}
}

func TestWrapRefusesMisuse(t *testing.T) {
	l := newLogger(t, memory.New(nil), nil)
	fn := func(context.Context, int) (int, error) { return 0, nil }
	for name, f := range map[string]func() (func(context.Context, int) (int, error), error){
		"nil logger": func() (func(context.Context, int) (int, error), error) {
			return audit.Wrap(nil, audit.Operation[int, int]{Action: "a", ResourceType: "r"}, fn)
		},
		"nil fn": func() (func(context.Context, int) (int, error), error) {
			return audit.Wrap[int, int](l, audit.Operation[int, int]{Action: "a", ResourceType: "r"}, nil)
		},
		"no action": func() (func(context.Context, int) (int, error), error) {
			return audit.Wrap(l, audit.Operation[int, int]{ResourceType: "r"}, fn)
		},
		"no type": func() (func(context.Context, int) (int, error), error) {
			return audit.Wrap(l, audit.Operation[int, int]{Action: "a"}, fn)
		},
	} {
		if w, err := f(); w != nil || err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
			t.Errorf("%s: got %v, want no function and an audit: error", name, err)
		}
	}
}

func TestDiff(t *testing.T) {
	type user struct {
		Name  string         `json:"name"`
		Email string         `json:"email,omitempty"`
		Age   int            `json:"age"`
		Tags  []string       `json:"tags"`
		Meta  map[string]any `json:"meta"`
	}
	// want is the JSON of Diff's result, written out: Diff is not checked
	// with itself
	tests := []struct {
		name          string
		before, after any
		want          string
	}{
		{"equal", user{Name: "a"}, user{Name: "a"}, `null`},
		{"field", user{Name: "a", Age: 1}, user{Name: "b", Age: 1}, `{"name":{"before":"a","after":"b"}}`},
		{"omitempty added", user{}, user{Email: "x@y"}, `{"email":{"before":null,"after":"x@y"}}`},
		{"nested whole", user{Meta: map[string]any{"k": 1}}, user{Meta: map[string]any{"k": 2}}, `{"meta":{"before":{"k":1},"after":{"k":2}}}`},
		{"slice", user{Tags: []string{"a"}}, user{Tags: []string{"a", "b"}}, `{"tags":{"before":["a"],"after":["a","b"]}}`},
		{"create", nil, map[string]any{"a": 1}, `{"a":{"before":null,"after":1}}`},
		{"delete", map[string]any{"a": 1}, (*user)(nil), `{"a":{"before":1,"after":null}}`},
		{"numbers by value", map[string]any{"n": 1}, map[string]any{"n": 1.0}, `null`},
		{"big integer kept exact", map[string]any{"n": uint64(12345678901234567890)}, map[string]any{"n": uint64(12345678901234567891)}, `{"n":{"before":12345678901234567890,"after":12345678901234567891}}`},
		{"pointer", &user{Name: "a"}, &user{Name: "b"}, `{"name":{"before":"a","after":"b"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := audit.Diff(tt.before, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
	for _, bad := range []any{42, "s", []int{1}, make(chan int)} {
		if _, err := audit.Diff(bad, nil); err == nil || !strings.HasPrefix(err.Error(), "audit: diff") {
			t.Errorf("Diff(%T): %v, want an error", bad, err)
		}
	}
}

// must returns f, or panics with err: for Wrap in tests.
func must[F any](f F, err error) F {
	if err != nil {
		panic(err)
	}
	return f
}
