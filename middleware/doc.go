// Package middleware is net/http middleware that puts what an audit record
// needs to know about a request into its context: a request id, the client
// address, the user agent, the acting user and the session. Events logged
// with that context by audit.Logger.Log (or through audit.Wrap) are filled
// from it. Optionally the middleware also records every request, or every
// mutating request, as an event of its own.
//
//	mw, err := middleware.New(middleware.Config{
//		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
//		Actor:          func(r *http.Request) audit.Actor { return currentUser(r) },
//		Logger:         logger,
//		Events:         middleware.EventsMutating,
//	})
//	if err != nil { … }
//	http.ListenAndServe(addr, mw(mux))
//
// # What a client can forge
//
// Everything the middleware reads comes from the network, and some of it
// is chosen freely by whoever sends the request:
//
//   - The request id is the client's own X-Request-ID when it is short and
//     made of safe characters (see Config.RequestIDHeader); otherwise the
//     middleware makes one. A client can therefore choose it, and two
//     requests may carry the same id: use it to correlate, never as a key
//     or as proof of anything.
//   - The user agent is whatever the client sends, capped in length.
//   - The client address is the TCP peer, which a client cannot forge
//     (short of spoofing TCP), unless the peer is one of
//     Config.TrustedProxies. Then it is read from the forwarding header
//     those proxies write, right to left, and it is exactly as trustworthy
//     as that configuration: list only your own proxies, never networks
//     where clients live. With no trusted proxies, X-Forwarded-For,
//     Forwarded, X-Real-IP and True-Client-IP are ignored.
//   - The actor and session are what the application's hooks return; the
//     middleware trusts them as given.
//
// # Concurrency
//
// The function New returns, and the handlers it builds, are safe for
// concurrent use. The hooks in Config are called concurrently, once per
// request, from the goroutines serving requests.
package middleware
