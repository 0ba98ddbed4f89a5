// Package trail runs a service's whole audit trail as one value: the
// store, the Logger that writes to it, and — as the service turns them
// on — the Sealer that keeps the hash chain (package chain), Retention,
// and SIEM streams (package siem); plus one http.Handler that serves
// the audit log API (package api) and the viewer (package viewer) under
// one prefix.
//
//	store, err := sqlite.Open(ctx, "audit.db", nil)
//	…
//	t, err := trail.New(store, &trail.Options{
//		Keys:      keys,                                      // chain.ReadKeyFile: seal and sign
//		Retention: &audit.RetentionOptions{MaxAge: audit.PCIMaxAge},
//	})
//	…
//	defer t.Close(ctx)                                          // after http.Server.Shutdown
//	logger := t.Logger()                                        // for middleware.New and your handlers
//	h, err := t.Handler("/audit-logs", api.AllowActor(mayReadAuditLog), nil)
//	…
//	mux.Handle("/audit-logs", h)                                // the API's list
//	mux.Handle("/audit-logs/", h)                               // records, exports, /audit-logs/viewer/
//
// New starts what it runs; Close stops it in the order that loses
// nothing and leaves nothing unsealed (see Trail.Close). Each part stays
// reachable (Logger, Sealer, Retention, Tee) for what the Trail does not
// do itself: metrics (otelaudit.Metrics.Register), a Verify, a one-off
// retention run. Every part can also be built and run on its own, as
// docs/operations.md shows; the Trail is that wiring, done once.
package trail
