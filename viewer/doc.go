// Package viewer is an audit log viewer that an application mounts beside
// the audit log API (package api): one HTML page, its script and style,
// embedded in the binary. It needs no CDN and works offline.
//
//	tokens, _ := viewer.NewTokens(viewerKey, nil)           // ≥ 32 secret bytes
//	auth := tokens.Authorizer(api.AllowActor(mayReadAuditLog))
//	auditAPI, _ := api.New(store, logger, auth, nil)
//	page, _ := viewer.New(auth, &viewer.Options{APIPath: "/audit-logs"})
//	mux.Handle("/audit-logs", auditAPI)
//	mux.Handle("/audit-logs/", auditAPI)
//	mux.Handle("/viewer", page)
//	mux.Handle("/viewer/", page)
//
// The page serves no audit data itself: its script reads the API on the
// same origin with the bearer token it was given in its URL fragment
// (/viewer/#token=…), which it removes from the address bar and history
// at once (history.replaceState). A fragment is never sent to a server, so
// the token is not in access logs or Referer headers. The token is held
// in memory only; a reload without the fragment asks for it. Without a
// token the page offers a field to paste one (an administrator's own API
// credential works too, when the Authorizer accepts it as a bearer token).
//
// The page lists events newest first, with filters (actor, action exact or
// by prefix, resource type and id, status, date range), "load more"
// paging with the API's cursors, a detail view (every field that is set,
// tenant, trace and span ids included; Details as a tree and Changes as
// before → after, each only when there are some), export buttons
// (Options.Formats: CSV and NDJSON by default; OCSF too when listed, which
// package api serves) and the chain status from Options.Status.
//
// Long values do not take the page over: the list shows at most 240
// characters of a value and the detail 1,000, followed by how much is
// left ("… (99,000 more bytes)"); the detail offers Show all and Download
// for the whole value. Columns have fixed widths and long unbroken values
// (an S3 ARN) wrap inside their own; the detail's heading and its Close
// button stay at the top of the screen while it scrolls.
//
// A link whose fragment holds no usable token (empty, not percent-encoded
// UTF-8, or with characters an HTTP header cannot carry) is removed from
// the address bar too, and the page says the link is damaged. A link
// opened where the page is already shown (only the fragment changes) is
// taken and removed the same way. A refused token (expired or not valid)
// empties the list and says "Your viewer link has expired or is not
// valid. Ask <Options.Contact> for a new one."
//
// # Security of the page
//
// Every response carries ContentSecurityPolicy (scripts, styles and
// requests from the same origin only; no inline script or style; no
// framing, forms, plugins or base URL), X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer and Cache-Control: no-store. Every value of
// a record is put into the page as text (text nodes), never as HTML, and
// no link or attribute is built from a record: a field holding <script>,
// <img onerror=…>, a javascript: URL or "onerror= is shown as those
// characters. Characters that steer how the text around them is shown —
// bidi embeddings, overrides, isolates and marks, line and paragraph
// separators, C0 and C1 controls, DEL — are shown as their escaped code
// point (\u202E) in a style of their own, never raw. Browser tests in
// examples/service check this in Chromium.
//
// # Viewer tokens
//
// Tokens issues short-lived, read-only bearer tokens: TokenPrefix, the
// base64url JSON of the claims (Scope and the issue and expiry times in
// Unix seconds) and the base64url HMAC-SHA256 of all that under a key of
// at least 32 bytes. Verify compares the MAC in constant time before it
// reads anything else, refuses unknown fields, and answers ErrTokenInvalid
// or ErrTokenExpired (both 401 through the API). The TTL defaults to 15
// minutes, at most 24 hours; there is no revocation list, so keep TTLs
// short, and rotate the key to void every token at once.
//
// Tokens.Authorize turns a token into an api.Caller whose api.Scope the
// API enforces on every list, per-user list, export and lookup by id. A
// leaked token exposes, until it expires, the records of its scope (all
// their fields, as the API returns them) to whoever holds it, read-only;
// its claims are readable by anyone (signed, not encrypted). A token with
// no TenantID, UserID or resource exposes the whole log. The token's
// Subject is the actor the API records the reads under. A multi-tenant
// service gives each customer tokens with its Scope.TenantID: the page,
// unchanged, then shows that tenant's records only (another tenant's id is
// answered 404, as a missing one), and the cursors it pages with are
// bound to the token's scope (see api.Scope).
//
// # Chain status
//
// Options.Status feeds GET <BasePath>/status (e.g. from SealerStatus of a
// Sealer's Stats and the last chain.Verify report). It is answered only to
// callers that Options.Authorize accepts with no Scope, because it
// describes the whole log; a scoped caller (a customer's viewer token) is
// answered 200 {"configured":true,"scoped":true} — the status is not part
// of what it may read, which is no error — and the page says "not shown to
// this link". Without Status the page says "not configured".
//
// # Proof badges
//
// With Options.LogKey (the log's public key, chain.VerifierKey), the page
// checks each record it shows in the browser, with WebCrypto and no
// library (<BasePath>/proof.js): it fetches the record's inclusion proof
// from the API ({APIPath}/{id}/proof, with the same token), recomputes
// storekit.Digest from the fields the list shows, the salted leaf and the
// RFC 9162 path to the root, and checks the checkpoint's Ed25519 signature
// by the key and its size and root. A badge says Verified, Not verified
// (and why), Not sealed yet, or Cannot check (the page never says Verified
// for what it cannot recompute). The page names the key's origin and
// KeyFingerprint, for a customer to compare with the ones the operator
// published. The page's script comes from the server it checks: a
// customer who does not trust the server checks a proof with auditctl
// verify-proof and the published key (docs/viewer.md, "The proof badge").
//
// # Accessibility
//
// Every control is a real button, input or select with a label; the
// filters submit with Enter; focus is always visible; opening a record
// moves focus to its heading and Escape or Close returns it to the row's
// button; errors are announced (role=alert) and the row count is a live
// region. The layout is a table from about 720 px wide and a list of
// cards below, readable at 390 px.
//
// A Handler is safe for concurrent use; Options.Status and Authorize are
// called concurrently.
package viewer
