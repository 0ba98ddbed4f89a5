package viewer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
)

// Errors of Tokens.Verify. Both wrap api.ErrUnauthenticated, so that an
// Authorize that returns them is answered 401.
var (
	// ErrTokenExpired means the token was genuine but its time is over.
	ErrTokenExpired = fmt.Errorf("audit: viewer: token expired: %w", api.ErrUnauthenticated)
	// ErrTokenInvalid means the token is not one these Tokens issued:
	// malformed, altered, or signed with another key.
	ErrTokenInvalid = fmt.Errorf("audit: viewer: token invalid: %w", api.ErrUnauthenticated)
)

// TokenPrefix begins every viewer token, so that an Authorize can tell
// one from the application's own credentials.
const TokenPrefix = "tmv1."

// Limits of TokenOptions.TTL.
const (
	DefaultTTL = 15 * time.Minute
	MaxTTL     = 24 * time.Hour
)

// MinKeySize is the shortest key NewTokens accepts, in bytes.
const MinKeySize = 32

// maxClaimsSize is the longest JSON of the claims Issue signs: five ids
// of at most audit.MaxIDBytes, each byte escaped to at most 6 ("<" is
// \u003c), and the names and times around them.
const maxClaimsSize = 5*6*audit.MaxIDBytes + 128

// maxTokenSize bounds what Verify reads, so that a huge header costs
// little: the longest token Issue returns (the prefix, the claims and
// an HMAC-SHA256 in unpadded base64url, a dot between them).
const maxTokenSize = len(TokenPrefix) + (maxClaimsSize*4+2)/3 + 1 + (sha256.Size*4+2)/3

// Scope is what a viewer token grants: read-only access to the records
// of the log that match every field it sets, recorded as read by Subject.
// A Scope that sets none of TenantID, UserID, ResourceType and ResourceID
// grants the whole log. A multi-tenant service issues its customers
// tokens with their TenantID: the API then shows them their tenant's
// records and nothing else (see api.Scope), and records their reads in
// that tenant.
type Scope struct {
	// Subject names who the token is for (a user id, a customer, a
	// support ticket); the API records the token's reads under it as the
	// actor. Required.
	//
	// Subject and the ids below are identities: at most audit.MaxIDBytes
	// of valid UTF-8 without control characters (audit.CheckID). Issue
	// refuses a Scope with one that is not, never cutting it.
	Subject string `json:"sub"`
	// TenantID restricts the token to the records of one tenant (see
	// audit.Event.TenantID).
	TenantID string `json:"tid,omitempty"`
	// UserID restricts the token to the records of one actor.
	UserID string `json:"uid,omitempty"`
	// ResourceType and ResourceID restrict it to one kind of resource or
	// one resource. ResourceID needs ResourceType.
	ResourceType string `json:"rt,omitempty"`
	ResourceID   string `json:"rid,omitempty"`
}

// validate reports what is wrong with s.
func (s Scope) validate() error {
	switch {
	case s.Subject == "":
		return errors.New("audit: viewer: Scope.Subject is required: reads are recorded under it")
	case s.ResourceID != "" && s.ResourceType == "":
		return errors.New("audit: viewer: Scope.ResourceID needs ResourceType")
	}
	f := audit.Filter{UserID: s.Subject}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("audit: viewer: Scope.Subject: %w", err)
	}
	f = audit.Filter{TenantID: s.TenantID, UserID: s.UserID, ResourceType: s.ResourceType, ResourceID: s.ResourceID}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("audit: viewer: Scope: %w", err)
	}
	return nil
}

// Caller returns the api.Caller of a token with scope s.
func (s Scope) Caller() api.Caller {
	return api.Caller{
		Actor: audit.Actor{UserID: s.Subject},
		Scope: api.Scope{TenantID: s.TenantID, UserID: s.UserID, ResourceType: s.ResourceType, ResourceID: s.ResourceID},
	}
}

// claims is the signed payload of a token.
type claims struct {
	Scope
	IssuedAt  int64 `json:"iat"` // Unix seconds
	ExpiresAt int64 `json:"exp"` // Unix seconds, exclusive
}

// TokenOptions configures Tokens. The zero value and nil mean the
// defaults.
type TokenOptions struct {
	// TTL is how long a token is valid after Issue. Default DefaultTTL;
	// at most MaxTTL.
	TTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Tokens issues and verifies viewer tokens with one key. It is safe for
// concurrent use.
type Tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewTokens returns Tokens that sign with key, which must be at least
// MinKeySize random bytes and kept secret: whoever holds it can mint
// tokens. Use a key of its own, not the chain's key.
func NewTokens(key []byte, opts *TokenOptions) (*Tokens, error) {
	var o TokenOptions
	if opts != nil {
		o = *opts
	}
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("audit: viewer: the token key must be at least %d bytes, got %d", MinKeySize, len(key))
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < time.Second || o.TTL > MaxTTL {
		return nil, fmt.Errorf("audit: viewer: TokenOptions.TTL must be from 1s to %s, got %s", MaxTTL, o.TTL)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Tokens{key: append([]byte(nil), key...), ttl: o.TTL, now: o.Now}, nil
}

// TTL returns how long the tokens Issue returns are valid.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue returns a token granting scope until the TTL has passed.
//
// The token is TokenPrefix, the base64url JSON of the claims (the scope,
// iat and exp in Unix seconds), a dot and the base64url HMAC-SHA256 of
// everything before it. The claims are signed, not encrypted: whoever
// holds the token can read its scope.
func (t *Tokens) Issue(scope Scope) (string, error) {
	if err := scope.validate(); err != nil {
		return "", err
	}
	now := t.now()
	payload, err := json.Marshal(claims{Scope: scope, IssuedAt: now.Unix(), ExpiresAt: now.Add(t.ttl).Unix()})
	if err != nil {
		return "", fmt.Errorf("audit: viewer: encoding a token: %w", err)
	}
	signed := TokenPrefix + base64.RawURLEncoding.EncodeToString(payload)
	token := signed + "." + base64.RawURLEncoding.EncodeToString(t.mac(signed))
	if len(token) > maxTokenSize { // cannot happen: Verify would refuse it
		return "", fmt.Errorf("audit: viewer: internal error: a token of %d bytes, more than %d", len(token), maxTokenSize)
	}
	return token, nil
}

func (t *Tokens) mac(signed string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// Verify returns the scope of token, or an error: ErrTokenInvalid if
// these Tokens did not issue it exactly as given, ErrTokenExpired if its
// time is over. The signature is compared in constant time before
// anything in the token is read.
func (t *Tokens) Verify(token string) (Scope, error) {
	if len(token) > maxTokenSize || !strings.HasPrefix(token, TokenPrefix) {
		return Scope{}, ErrTokenInvalid
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(TokenPrefix) {
		return Scope{}, ErrTokenInvalid
	}
	signed, sig := token[:dot], token[dot+1:]
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, t.mac(signed)) {
		return Scope{}, ErrTokenInvalid
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(signed[len(TokenPrefix):])
	if err != nil {
		return Scope{}, ErrTokenInvalid
	}
	var c claims
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.validate() != nil || c.ExpiresAt <= c.IssuedAt {
		return Scope{}, ErrTokenInvalid
	}
	if now := t.now().Unix(); now >= c.ExpiresAt {
		return Scope{}, ErrTokenExpired
	}
	return c.Scope, nil
}

// Authorizer returns an api.Authorizer that accepts viewer tokens and
// hands every other request to next. A request whose Authorization
// header is "Bearer " followed by a token that begins with TokenPrefix is
// answered by the token alone: its Scope's Caller if Verify accepts it,
// else Verify's error (401). Any other request goes to next; with next
// nil it is refused as unauthenticated.
func (t *Tokens) Authorizer(next api.Authorizer) api.Authorizer {
	return api.AuthorizeFunc(func(r *http.Request) (api.Caller, error) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok && strings.HasPrefix(token, TokenPrefix) {
			s, err := t.Verify(token)
			if err != nil {
				return api.Caller{}, err
			}
			return s.Caller(), nil
		}
		if next == nil {
			return api.Caller{}, fmt.Errorf("%w: no viewer token", api.ErrUnauthenticated)
		}
		return next.Authorize(r)
	})
}
