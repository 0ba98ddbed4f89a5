package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/middleware"
	"github.com/trailmark/audit/store/memory"
)

// The API mounted at /admin/audit behind the middleware, which identifies
// the caller once per request; Authorize reads that identity from the
// context (AuthorizeActor) and checks a permission.
func ExampleNew() {
	store := memory.New(nil)
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { tick = tick.Add(time.Second); return tick } // a clock for a stable output
	logger, err := audit.New(store, &audit.Options{NoLifecycleEvents: true, Now: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logger.Close(context.Background())

	mw, err := middleware.New(logger, &middleware.Options{
		Identify: func(r *http.Request) (audit.Actor, string) {
			// demo only: use your authentication here
			if r.Header.Get("Authorization") == "Bearer let-me-in" {
				return audit.Actor{UserID: "auditor-1"}, ""
			}
			return audit.Actor{}, ""
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := api.New(store, logger, api.AllowActor(func(r *http.Request, a audit.Actor, action audit.Action) error {
		if a.UserID != "auditor-1" { // demo only: your roles here
			return fmt.Errorf("%w: %s needs the auditor role", api.ErrForbidden, action)
		}
		return nil
	}), &api.Options{
		BasePath: "/admin/audit", // the default is /audit-logs
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/audit", h)
	mux.Handle("/admin/audit/", h)
	srv := httptest.NewServer(mw(mux))
	defer srv.Close()

	err = logger.Log(context.Background(), audit.Event{
		UserID: "u1", Action: audit.ActionUserLogin, ResourceType: "session", Status: audit.StatusSuccess,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, token := range []string{"", "let-me-in"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/admin/audit?action=user.", nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		var page struct{ Items []audit.Record }
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), len(page.Items), err)
	}
	// the refusal and the read are both in the log
	p, err := store.Query(context.Background(), audit.Filter{ActionPrefix: "audit_log."})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range p.Records {
		fmt.Println(r.Action, r.Status, r.UserID)
	}
	// Output:
	// 401 application/problem+json 0 <nil>
	// 200 application/json 1 <nil>
	// audit_log.read success auditor-1
	// audit_log.read failure
}
