package viewer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/chain"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy is the Content-Security-Policy of every response
// of a Handler: scripts, styles and requests only from the page's own
// origin, no inline script or style, no plugins, no forms, no framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ChainStatus is the state of the tamper-evident chain that the page
// shows. The zero time means "never".
type ChainStatus struct {
	// LastSeal is when records were last sealed (SealerStats.LastRun).
	LastSeal time.Time `json:"last_seal,omitzero"`
	// Sealed is how many records the sealer has sealed.
	Sealed uint64 `json:"sealed"`
	// Unsealed is how many records were waiting for a seal.
	Unsealed int `json:"unsealed"`
	// SealError is the sealer's newest error, empty if none.
	SealError string `json:"seal_error,omitempty"`
	// LastVerification is when chain.Verify last ran over the chain.
	LastVerification time.Time `json:"last_verification,omitzero"`
	// Problems is how many problems that verification found: 0 is a
	// chain that verified.
	Problems int `json:"problems"`
}

// SealerStatus returns the ChainStatus of a Sealer's stats, with no
// verification.
func SealerStatus(s chain.SealerStats) ChainStatus {
	c := ChainStatus{LastSeal: s.LastRun, Sealed: s.Sealed, Unsealed: s.Unsealed}
	if s.LastError != nil {
		c.SealError = s.LastError.Error()
	}
	return c
}

// Options configures a Handler. The zero value and nil mean the
// defaults.
type Options struct {
	// BasePath is where the page lives. Default "/viewer". Mount the
	// Handler at BasePath and BasePath+"/".
	BasePath string
	// APIPath is where the page finds the audit log API (api.Options'
	// BasePath), on the same origin. Default "/audit-logs".
	APIPath string
	// Title is the page's title. Default "Audit log".
	Title string
	// Formats are the export formats the API offers, one button each.
	// Default csv and ndjson; package api serves "ocsf" too.
	Formats []string
	// Status reports the chain's state, shown on the page to callers
	// that New's Authorizer accepts without a Scope (the state is of the whole
	// log); to a scoped caller (a customer's viewer token) the page says
	// it is not shown. Nil: the page says the chain status is not
	// configured.
	Status func(ctx context.Context) (ChainStatus, error)
	// Contact names whom a customer asks for a new link when the API
	// refuses theirs (expired or not valid), in the page's sentence "Ask
	// <Contact> for a new one.": "Acme support", "your account manager".
	// Default "whoever sent you this link".
	Contact string
	// OnError is told of Status errors, whose text the page does not
	// show. Default: print to standard error.
	OnError func(error)
	// LogKey is the log's public key, as chain.VerifierKey writes it
	// ("origin+keyhash+base64"): the key that signs the checkpoints of
	// the Merkle tree. With it, the page checks each record it shows in
	// the browser: it fetches the record's inclusion proof from the API
	// ({APIPath}/{id}/proof), recomputes the record's digest, its leaf
	// and the tree's root, and checks the checkpoint's Ed25519 signature
	// with this key, and shows a badge (see docs/viewer.md, "The proof
	// badge"). The page shows the key's origin and fingerprint
	// (KeyFingerprint) for a customer to compare with the ones the
	// operator published. Empty: no badges.
	LogKey string
}

// KeyFingerprint returns the fingerprint the page shows of a verifier key
// (chain.VerifierKey): the first 16 bytes of the SHA-256 of its text, in
// hexadecimal groups of four. Whoever holds the published key string
// computes the same (sha256sum of the key without a trailing newline), so
// that a customer can compare what the page shows with what the operator
// published.
func KeyFingerprint(vkey string) string {
	sum := sha256.Sum256([]byte(vkey))
	h := hex.EncodeToString(sum[:16])
	var b strings.Builder
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// Handler serves the viewer page, its script and style, and the chain
// status. It serves no audit data itself: the page reads the API with
// the credentials it is given. It is safe for concurrent use.
type Handler struct {
	opts  Options
	auth  api.Authorizer
	index []byte
	mux   *http.ServeMux
}

// New returns a Handler whose status endpoint answers the callers auth
// accepts: pass the API's Authorizer. opts may be nil for the defaults.
func New(auth api.Authorizer, opts *Options) (*Handler, error) {
	if f, ok := auth.(api.AuthorizeFunc); auth == nil || ok && f == nil {
		return nil, errors.New("audit: viewer: an Authorizer is required: pass the API's; the chain status is not public")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Formats = append([]string(nil), o.Formats...)
	if o.BasePath == "" {
		o.BasePath = "/viewer"
	}
	if o.APIPath == "" {
		o.APIPath = "/audit-logs"
	}
	if o.Title == "" {
		o.Title = "Audit log"
	}
	if o.Contact == "" {
		o.Contact = "whoever sent you this link"
	}
	if len(o.Formats) == 0 {
		o.Formats = []string{"csv", "ndjson"}
	}
	if o.OnError == nil {
		o.OnError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	for _, p := range []struct{ name, v string }{{"BasePath", o.BasePath}, {"APIPath", o.APIPath}} {
		if !strings.HasPrefix(p.v, "/") || p.v == "/" || path.Clean(p.v) != p.v || strings.ContainsAny(p.v, "{}*?#\"'<> \t\r\n%\\") {
			return nil, fmt.Errorf("audit: viewer: Options.%s %q must be a clean absolute path such as /viewer", p.name, p.v)
		}
	}
	for _, f := range o.Formats {
		if f == "" || strings.Trim(f, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return nil, fmt.Errorf("audit: viewer: Options.Formats: %q is not a format name", f)
		}
	}
	var keyName, keyPrint string
	if o.LogKey != "" {
		v, err := note.NewVerifier(o.LogKey)
		if err != nil {
			return nil, fmt.Errorf("audit: viewer: Options.LogKey is not a verifier key (chain.VerifierKey): %w", err)
		}
		keyName, keyPrint = v.Name(), KeyFingerprint(o.LogKey)
	}
	tmpl, err := template.ParseFS(assets, "assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("audit: viewer: %w", err)
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]string{
		"Title": o.Title, "Base": o.BasePath, "API": o.APIPath, "Formats": strings.Join(o.Formats, " "),
		"Contact": o.Contact, "LogKey": o.LogKey, "KeyName": keyName, "KeyPrint": keyPrint,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: viewer: %w", err)
	}
	h := &Handler{opts: o, auth: auth, index: buf.Bytes(), mux: http.NewServeMux()}
	b := o.BasePath
	h.mux.HandleFunc("GET "+b, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b+"/", http.StatusMovedPermanently)
	})
	h.mux.HandleFunc("GET "+b+"/{$}", h.page)
	h.mux.HandleFunc("GET "+b+"/viewer.js", h.asset("assets/viewer.js", "text/javascript; charset=utf-8"))
	h.mux.HandleFunc("GET "+b+"/proof.js", h.asset("assets/proof.js", "text/javascript; charset=utf-8"))
	h.mux.HandleFunc("GET "+b+"/viewer.css", h.asset("assets/viewer.css", "text/css; charset=utf-8"))
	h.mux.HandleFunc("GET "+b+"/status", h.status)
	h.mux.HandleFunc("/", http.NotFound)
	return h, nil
}

// ServeHTTP serves the page and its parts, each with the
// ContentSecurityPolicy, X-Content-Type-Options: nosniff and
// Referrer-Policy: no-referrer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(h.index)
}

func (h *Handler) asset(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := assets.ReadFile(name)
		if err != nil {
			http.Error(w, "missing asset", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Write(b)
	}
}

// statusResponse is the body of /status.
type statusResponse struct {
	Configured bool         `json:"configured"`
	Error      string       `json:"error,omitempty"`
	Chain      *ChainStatus `json:"chain,omitempty"`
	// Scoped: the caller's access is scoped, and the chain status,
	// which covers the whole log, is not shown to it.
	Scoped bool `json:"scoped,omitempty"`
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	if h.opts.Status == nil {
		writeJSON(w, http.StatusOK, statusResponse{})
		return
	}
	c, err := h.auth.Authorize(r)
	switch {
	case errors.Is(err, api.ErrUnauthenticated) || (err == nil && c.Actor == (audit.Actor{})):
		writeJSON(w, http.StatusUnauthorized, statusResponse{Configured: true, Error: "authentication required"})
		return
	case err != nil:
		writeJSON(w, http.StatusForbidden, statusResponse{Configured: true, Error: "not allowed"})
		return
	case !c.Scope.IsZero():
		// Not an error: the caller may read its scope, and the answer
		// is that the status, of the whole log, is not part of it.
		writeJSON(w, http.StatusOK, statusResponse{Configured: true, Scoped: true})
		return
	}
	st, err := h.opts.Status(r.Context())
	if err != nil {
		h.opts.OnError(fmt.Errorf("audit: viewer: chain status: %w", err))
		writeJSON(w, http.StatusInternalServerError, statusResponse{Configured: true, Error: "the chain status could not be read"})
		return
	}
	writeJSON(w, http.StatusOK, statusResponse{Configured: true, Chain: &st})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
