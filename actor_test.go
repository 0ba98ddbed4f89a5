package audit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
)

func TestSetActorWithoutRequestActor(t *testing.T) {
	alice := audit.Actor{UserID: "u-alice", UserEmail: "alice@example.com"}
	bob := audit.Actor{UserID: "u-bob"}
	tests := []struct {
		name string
		ctx  context.Context
		want audit.Actor // ActorFrom after the SetActor
	}{
		{"background", context.Background(), audit.Actor{}},
		{"WithActor only", audit.WithActor(context.Background(), alice), alice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if audit.SetActor(tt.ctx, bob) {
				t.Errorf("SetActor = true, want false: there is no request actor")
			}
			if got := audit.ActorFrom(tt.ctx); got != tt.want {
				t.Errorf("ActorFrom after SetActor = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSetActor(t *testing.T) {
	alice := audit.Actor{UserID: "u-alice", UserEmail: "alice@example.com"}
	bob := audit.Actor{UserID: "u-bob"}
	req := audit.WithSettableActor(context.Background(), audit.Actor{})
	child, cancel := context.WithCancel(req)
	defer cancel()
	claimed := audit.WithActor(child, audit.Actor{UserEmail: "claimed@example.com"})

	if got := audit.ActorFrom(req); got != (audit.Actor{}) {
		t.Fatalf("ActorFrom before SetActor = %+v, want the zero Actor", got)
	}
	// Set through a derived context that WithActor overrides: the request's
	// actor changes, the override stays.
	if !audit.SetActor(claimed, alice) {
		t.Fatal("SetActor = false, want true under WithSettableActor")
	}
	for name, tt := range map[string]struct {
		ctx  context.Context
		want audit.Actor
	}{
		"request": {req, alice},
		"child":   {child, alice},
		"claimed": {claimed, audit.Actor{UserEmail: "claimed@example.com"}},
	} {
		if got := audit.ActorFrom(tt.ctx); got != tt.want {
			t.Errorf("%s: ActorFrom = %+v, want %+v", name, got, tt.want)
		}
	}
	if !audit.SetActor(child, bob) {
		t.Fatal("SetActor(child) = false, want true")
	}
	if got := audit.ActorFrom(req); got != bob {
		t.Errorf("ActorFrom(request) after the second SetActor = %+v, want %+v", got, bob)
	}
	// A new request actor hides the outer one.
	inner := audit.WithSettableActor(req, alice)
	audit.SetActor(inner, audit.Actor{UserID: "u-inner"})
	if got := audit.ActorFrom(req); got != bob {
		t.Errorf("ActorFrom(outer) after setting the inner request actor = %+v, want %+v", got, bob)
	}
}

// TestSetActorConcurrent is for -race: SetActor and ActorFrom from many
// goroutines on one request.
func TestSetActorConcurrent(t *testing.T) {
	ctx := audit.WithSettableActor(context.Background(), audit.Actor{})
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				audit.SetActor(ctx, audit.Actor{UserID: fmt.Sprintf("u-%d-%d", i, j)})
				if a := audit.ActorFrom(ctx); a.UserID == "" {
					t.Errorf("ActorFrom = %+v while setting, want a set actor", a)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestLogAfterSetActor(t *testing.T) {
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := audit.WithSettableActor(context.Background(), audit.Actor{})
	audit.SetActor(ctx, audit.Actor{UserID: "u-alice", UserEmail: "alice@example.com"})
	if err := l.Log(ctx, audit.Event{Action: audit.ActionUserLogin, ResourceType: "session", Status: audit.StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	page, err := s.Query(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	recs := page.Records
	if len(recs) != 1 || recs[0].UserID != "u-alice" || recs[0].UserEmail != "alice@example.com" {
		t.Fatalf("records = %+v, want one by u-alice <alice@example.com>", recs)
	}
}

// TestWithRequest: the one-node context of WithRequest answers as
// WithSettableActor(WithRequestInfo(ctx, ri), a) does — request info,
// a settable actor that derived contexts reach, the parent's values and
// cancellation.
func TestWithRequest(t *testing.T) {
	ri := audit.RequestInfo{RequestID: "rq-1", UserAgent: "agent", SessionID: "s-1", TraceID: "t", SpanID: "sp"}
	alice := audit.Actor{UserID: "u-alice"}
	parent, cancel := context.WithCancel(audit.WithTenant(context.Background(), "org-1"))
	req := audit.WithRequest(parent, ri, alice)
	child := context.WithValue(req, struct{}{}, 1)
	for name, ctx := range map[string]context.Context{"request": req, "child": child} {
		if got := audit.RequestInfoFrom(ctx); got != ri {
			t.Errorf("%s: RequestInfoFrom = %+v, want %+v", name, got, ri)
		}
		if got := audit.ActorFrom(ctx); got != alice {
			t.Errorf("%s: ActorFrom = %+v, want %+v", name, got, alice)
		}
		if got := audit.TenantFrom(ctx); got != "org-1" {
			t.Errorf("%s: TenantFrom = %q, want the parent's org-1", name, got)
		}
	}
	bob := audit.Actor{UserID: "u-bob"}
	if !audit.SetActor(child, bob) {
		t.Fatal("SetActor(child) = false, want true under WithRequest")
	}
	if got := audit.ActorFrom(req); got != bob {
		t.Errorf("ActorFrom(request) after SetActor(child) = %+v, want %+v", got, bob)
	}
	claimed := audit.WithActor(child, alice)
	audit.SetActor(claimed, audit.Actor{UserID: "u-carol"})
	if got, want := audit.ActorFrom(req), (audit.Actor{UserID: "u-carol"}); got != want {
		t.Errorf("ActorFrom(request) after SetActor under WithActor = %+v, want %+v", got, want)
	}
	// a request info set inside wins over the request's
	inner := audit.RequestInfo{RequestID: "rq-inner"}
	if got := audit.RequestInfoFrom(audit.WithRequestInfo(req, inner)); got != inner {
		t.Errorf("RequestInfoFrom(WithRequestInfo(request)) = %+v, want %+v", got, inner)
	}
	cancel()
	<-child.Done()
	if err := child.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("child.Err() = %v after the parent's cancel, want context.Canceled", err)
	}
	if got, want := fmt.Sprint(req), "context.Background.WithValue(audit.tenantKey, org-1).WithCancel.WithRequest"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
