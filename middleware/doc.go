// Package middleware is net/http middleware that puts what an audit record
// needs to know about a request into its context: a request id, the client
// address, the user agent, the acting user, the session, and the trace
// and span ids of a valid W3C traceparent header. Events logged
// with that context by audit.Logger.Log (or through audit.Wrap) are filled
// from it. Optionally the middleware also records every request, or every
// mutating request, as an event of its own.
//
//	mw, err := middleware.New(logger, &middleware.Options{
//		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
//		Identify:       func(r *http.Request) (audit.Actor, string) { return whoIs(r) },
//		Events:         middleware.EventsMutating,
//	})
//	if err != nil { … }
//	http.ListenAndServe(addr, mw(mux))
//
// # Identity
//
// Options.Identify is the one identity hook: called once per request, it
// returns the actor and the session id, which go into the context. The
// request's actor stays changeable: a handler that authenticates someone
// (a login) calls audit.SetActor(r.Context(), actor), and every event
// logged afterwards in the request — the middleware's own request event
// at its end included — names them. Everything behind the middleware
// reads the identity from the context (audit.ActorFrom), so the token is
// parsed once; package api's Authorize can too (api.AuthorizeActor).
//
// # What a client can forge
//
// Everything the middleware reads comes from the network, and some of it
// is chosen freely by whoever sends the request:
//
//   - The request id is the client's own X-Request-ID when it is short and
//     made of safe characters (see Options.RequestIDHeader); otherwise the
//     middleware makes one. A client can therefore choose it, and two
//     requests may carry the same id: use it to correlate, never as a key
//     or as proof of anything.
//   - The user agent is whatever the client sends, capped in length.
//   - The client address is the TCP peer, which a client cannot forge
//     (short of spoofing TCP), unless the peer is one of
//     Options.TrustedProxies. Then it is read from the forwarding header
//     those proxies write, right to left, and it is exactly as trustworthy
//     as that configuration: list only your own proxies, never networks
//     where clients live. With no trusted proxies, X-Forwarded-For,
//     Forwarded, X-Real-IP and True-Client-IP are ignored.
//   - The trace and span ids come from the client's traceparent header
//     when it is valid (see ParseTraceParent); a malformed or repeated
//     header is ignored. A client can choose them: they join a record to
//     a trace, they prove nothing. When an OpenTelemetry span is active
//     in the context an event is logged with, and the Logger has
//     audit.Options.TraceFrom (otelaudit.TraceFrom), the span's ids win
//     over the header's.
//   - The actor and session are what Identify returns, or what a
//     handler sets with audit.SetActor; the middleware trusts them as
//     given.
//
// # Concurrency
//
// The function New returns, and the handlers it builds, are safe for
// concurrent use. The functions in Options are called concurrently, once
// per request, from the goroutines serving requests. audit.SetActor may
// be called from any goroutine serving the request.
package middleware
