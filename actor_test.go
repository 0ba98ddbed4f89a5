package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
)

func TestSetActorWithoutRequestActor(t *testing.T) {
	alice := audit.Actor{UserID: "u-alice", Email: "alice@example.com"}
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
	alice := audit.Actor{UserID: "u-alice", Email: "alice@example.com"}
	bob := audit.Actor{UserID: "u-bob"}
	req := audit.WithSettableActor(context.Background(), audit.Actor{})
	child, cancel := context.WithCancel(req)
	defer cancel()
	claimed := audit.WithActor(child, audit.Actor{Email: "claimed@example.com"})

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
		"claimed": {claimed, audit.Actor{Email: "claimed@example.com"}},
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
	audit.SetActor(ctx, audit.Actor{UserID: "u-alice", Email: "alice@example.com"})
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
