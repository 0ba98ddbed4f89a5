package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/trailmark/audit/internal/canonical"
)

// Redaction says which keys of Details and Changes hold secrets and what
// replaces their values. The zero value redacts the default keys and
// replaces values with "[REDACTED]".
//
// Keys and fragments are compared in a normal form, so that look-alikes do
// not slip through: the key as given (never the truncated or repaired key
// that is stored) is decomposed with Unicode NFKD (fullwidth letters, the
// Kelvin sign and the long s become their Latin letters), marks,
// invalid UTF-8 and every character that Unicode makes invisible by
// default (Default_Ignorable_Code_Point: soft hyphen, zero-width space,
// byte-order mark, bidi controls, variation selectors, tags, the Hangul
// fillers) are dropped, Latin look-alikes from the
// Cyrillic and Greek scripts are mapped to the Latin letter they imitate,
// and letters are case-folded. The key is split into words at every other
// character (space, '-', '_', '.', ':', '/', tab, …), at a change from a
// lower-case to an upper-case letter ("userPin"), at the end of an
// upper-case run ("OTPCode") and between letters and digits.
//
// A fragment of five or more letters and digits matches anywhere in the
// key with its separators removed: "X-Api-Key", "api_key", "userApiKey"
// and "ａｐｉ：ｋｅｙ" all contain "apikey". A shorter fragment ("pin",
// "otp", "ssn", "auth", "pwd", "cvv") matches a whole word only, so that
// "user_pin", "pinCode" and "OTP" are secrets and "spinner", "shipping",
// "author" and "isbn" are not. Matching is recursive: it applies to the
// keys of nested objects, of values in arrays, and of the fields of
// Changes (whose before and after values are then both redacted).
type Redaction struct {
	// Keys are fragments redacted in addition to DefaultRedactedKeys.
	Keys []string
	// NoDefaults drops DefaultRedactedKeys, leaving only Keys.
	NoDefaults bool
	// HashKey, when set, replaces a secret with a keyed hash of it
	// ("hmac-sha256:" and 32 hex digits of HMAC-SHA256 over the value's
	// canonical JSON) instead of "[REDACTED]", so that equal values can be
	// correlated without being revealed. Keep it secret and out of the
	// database.
	HashKey []byte
}

// DefaultRedactedKeys are the key fragments redacted unless
// Redaction.NoDefaults is set. The short ones match whole words only (see
// Redaction).
func DefaultRedactedKeys() []string {
	return []string{
		"password", "passwd", "passphrase", "passcode", "secret", "token", "apikey",
		"accesskey", "authorization", "cookie", "privatekey", "credential", "creditcard",
		"cardnumber", "sessionkey", "signature",
		"pwd", "pin", "otp", "totp", "hotp", "ssn", "auth", "cvv", "cvc",
	}
}

// Redacted is the value that replaces a secret when Redaction.HashKey is
// not set.
const Redacted = "[REDACTED]"

// Limits caps the size of what an event may store. Zero fields take their
// defaults. Text that exceeds a limit is truncated with a visible marker,
// never dropped: who, what and when are always kept. Identities (user id,
// action, resource type and id, request and session ids, tenant id) are
// never cut: they are kept exactly or the event is refused, and their
// limit is MaxIDBytes, whatever Limits say.
type Limits struct {
	// MaxFieldBytes caps the free-text fields of an event: the user's
	// email, and four times as much for the user agent and the error
	// message. Default 1 KiB. At most 16 KiB, so that records stay
	// within the record contract (Record.Validate).
	MaxFieldBytes int
	// MaxStringBytes caps each string inside Details and Changes.
	// Default 8 KiB.
	MaxStringBytes int
	// MaxJSONBytes caps the encoded size of Details, and separately of
	// Changes. Default 64 KiB; at least 16 KiB, at most 8 MiB. Keys that do not fit are
	// omitted and listed under the "_audit" key.
	MaxJSONBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFieldBytes == 0 {
		l.MaxFieldBytes = 1 << 10
	}
	if l.MaxStringBytes == 0 {
		l.MaxStringBytes = 8 << 10
	}
	if l.MaxJSONBytes == 0 {
		l.MaxJSONBytes = 64 << 10
	}
	return l
}

func (l Limits) validate() error {
	switch {
	case l.MaxFieldBytes < 64:
		return fmt.Errorf("audit: Limits.MaxFieldBytes must be at least 64, got %d", l.MaxFieldBytes)
	case l.MaxStringBytes < 64:
		return fmt.Errorf("audit: Limits.MaxStringBytes must be at least 64, got %d", l.MaxStringBytes)
	case l.MaxJSONBytes < 16<<10:
		return fmt.Errorf("audit: Limits.MaxJSONBytes must be at least 16384, got %d", l.MaxJSONBytes)
	// within the record contract (Record.Validate), which every store
	// keeps: the error message and user agent take four times
	// MaxFieldBytes, and Details their notes beyond MaxJSONBytes
	case l.MaxFieldBytes > MaxRecordFieldBytes/4:
		return fmt.Errorf("audit: Limits.MaxFieldBytes must be at most %d, got %d", MaxRecordFieldBytes/4, l.MaxFieldBytes)
	case l.MaxJSONBytes > MaxRecordJSONBytes/2:
		return fmt.Errorf("audit: Limits.MaxJSONBytes must be at most %d, got %d", MaxRecordJSONBytes/2, l.MaxJSONBytes)
	}
	return nil
}

// MetaKey is the key under which the Logger notes, inside Details, what it
// had to change in an event: values it could not encode, strings it
// repaired, keys it omitted to respect Limits. A Details key of the same
// name given by the application is kept as "_audit_app".
const MetaKey = "_audit"

const (
	maxDepth     = 32
	maxNotes     = 16
	maxNoteBytes = 256
	truncMarker  = "…[truncated]"
)

// cleaner holds a Logger's cleaning configuration.
type cleaner struct {
	byFirst  [256][][]byte // long redaction fragments by their first byte
	words    [][]byte      // short redaction fragments: whole words only
	hasFrags bool
	hashKey  []byte
	limits   Limits
	pool     sync.Pool // *encoder
}

// minFragment is the length from which a redaction fragment matches
// anywhere in a key rather than as a whole word.
const minFragment = 5

func newCleaner(r Redaction, l Limits) *cleaner {
	c := &cleaner{hashKey: bytes.Clone(r.HashKey), limits: l.withDefaults()}
	keys := r.Keys
	if !r.NoDefaults {
		keys = append(DefaultRedactedKeys(), keys...)
	}
	var kn keyNorm
	for _, k := range keys {
		kn.normalize(k)
		n := bytes.Clone(kn.text)
		switch {
		case len(n) == 0:
			continue
		case len(n) < minFragment:
			c.words = append(c.words, n)
		default:
			c.byFirst[n[0]] = append(c.byFirst[n[0]], n)
		}
		c.hasFrags = true
	}
	c.pool.New = func() any { return &encoder{c: c} }
	return c
}

// The encoder's memo of secret: keys of at most maxMemoKey bytes, at most
// maxMemoKeys of them, forgotten all at once when full.
const (
	maxMemoKey  = 64
	maxMemoKeys = 256
)

// memoSlots is the size of the encoder's first memo of secret: a table
// of the last keys seen, one a slot, in front of the map.
const memoSlots = 32

// memoEntry is a key of the first memo, a copy, and its answer.
type memoEntry struct {
	k      string
	secret bool
}

// memoSlot returns the slot of the first memo for a key of 1 to
// maxMemoKey bytes: from its length, its middle byte and its last one,
// which tell apart the few keys of one application's events without
// hashing them.
func memoSlot(k string) int {
	return (len(k)*7 ^ int(k[len(k)-1])*3 ^ int(k[(len(k)-1)/2])) % memoSlots
}

// secret reports whether the key k names a secret. Applications log the
// same few keys over and over: the answer for a short key is kept in the
// encoder, with a copy of the key (the caller's string may share memory
// that it changes later), in a small table of the last keys seen, where
// a key is found with one comparison, and in a map of up to maxMemoKeys.
func (c *cleaner) secret(e *encoder, k string) bool {
	if !c.hasFrags {
		return false
	}
	if len(k) > maxMemoKey || k == "" {
		return c.match(e, k)
	}
	slot := &e.memo[memoSlot(k)]
	if slot.k == k {
		return slot.secret
	}
	kept, s := c.memoized(e, k)
	*slot = memoEntry{kept, s}
	return s
}

// memoized returns the answer of secret for k from the encoder's map,
// matching k when it is not there, and the copy of k that the map keeps.
func (c *cleaner) memoized(e *encoder, k string) (string, bool) {
	if m, ok := e.secrets[k]; ok {
		return m.k, m.secret
	}
	s := c.match(e, k)
	if e.secrets == nil {
		e.secrets = make(map[string]memoEntry)
	} else if len(e.secrets) >= maxMemoKeys {
		clear(e.secrets)
	}
	kept := strings.Clone(k)
	e.secrets[kept] = memoEntry{kept, s}
	return kept, s
}

// match reports whether the key k names a secret, by normalizing it.
func (c *cleaner) match(e *encoder, k string) bool {
	kn := &e.kn
	kn.normalize(k)
	n := kn.text
	for i, b := range n {
		for _, f := range c.byFirst[b] {
			if bytes.HasPrefix(n[i:], f) {
				return true
			}
		}
	}
	if len(c.words) == 0 {
		return false
	}
	for i, start := range kn.words {
		end := len(n)
		if i+1 < len(kn.words) {
			end = kn.words[i+1]
		}
		if end-start >= minFragment {
			continue
		}
		for _, w := range c.words {
			if bytes.Equal(n[start:end], w) {
				return true
			}
		}
	}
	return false
}

// clean validates ev and turns it into a Record. It never keeps a
// reference to ev.Details or ev.Changes. The Record's encoded Details and
// Changes are carved from mem (see slabs), or allocated when mem is nil.
func (c *cleaner) clean(ev *Event, mem *slabs) (Record, error) {
	if strings.TrimSpace(string(ev.Action)) == "" {
		return Record{}, eventError("action", "is required")
	}
	if strings.TrimSpace(ev.ResourceType) == "" {
		return Record{}, eventError("resource_type", "is required")
	}
	if ev.Status == "" {
		return Record{}, eventError("status", "is required (success, failure or error)")
	}
	if !ev.Status.Valid() {
		return Record{}, eventError("status", fmt.Sprintf("must be success, failure or error, got %q", cleanString(string(ev.Status), 64)))
	}
	if ev.OccurredAt.Before(minTime) || !ev.OccurredAt.Before(maxTime) {
		return Record{}, eventError("timestamp", fmt.Sprintf("year %d is out of range 1–9999", ev.OccurredAt.UTC().Year()))
	}
	maxField := c.limits.MaxFieldBytes
	r := Record{
		ID:           ev.ID,
		OccurredAt:   truncMicro(ev.OccurredAt),
		UserID:       ev.UserID,
		UserEmail:    ev.UserEmail,
		IPAddress:    cleanAddr(ev.IPAddress),
		UserAgent:    ev.UserAgent,
		Action:       ev.Action,
		ResourceType: ev.ResourceType,
		ResourceID:   ev.ResourceID,
		RequestID:    ev.RequestID,
		SessionID:    ev.SessionID,
		Status:       ev.Status,
		ErrorMessage: ev.ErrorMessage,
		TenantID:     ev.TenantID,
	}
	if !plainEvent(ev, maxField) {
		// identities are kept exactly or the event is refused (see
		// MaxIDBytes); the other strings are repaired and capped
		for _, id := range [...]struct{ field, v string }{
			{"user_id", ev.UserID}, {"action", string(ev.Action)}, {"resource_type", ev.ResourceType},
			{"resource_id", ev.ResourceID}, {"request_id", ev.RequestID}, {"session_id", ev.SessionID},
			{"tenant_id", ev.TenantID},
		} {
			if p := idProblem(id.v); p != "" {
				return Record{}, eventError(id.field, p)
			}
		}
		r.UserEmail = cleanString(ev.UserEmail, maxField)
		r.UserAgent = cleanString(ev.UserAgent, 4*maxField)
		r.ErrorMessage = cleanString(ev.ErrorMessage, 4*maxField)
	}
	var idNotes [2]string // why a trace or span id was dropped
	r.TraceID, idNotes[0] = traceContextID(ev.TraceID, 32, "trace_id")
	r.SpanID, idNotes[1] = traceContextID(ev.SpanID, 16, "span_id")
	if len(ev.Details) == 0 && len(ev.Changes) == 0 && idNotes == [2]string{} {
		return r, nil
	}
	e := c.pool.Get().(*encoder)
	defer e.release()
	e.reset()
	for _, n := range idNotes {
		if n != "" {
			e.notes = append(e.notes, n)
		}
	}
	if len(ev.Changes) > 0 {
		e.root = "changes"
		encodeTop(e, ev.Changes, false, (*encoder).encodeChange, &e.changes)
	}
	nc := len(e.buf)
	if len(ev.Details) > 0 {
		e.root = "details"
		encodeTop(e, ev.Details, true, (*encoder).encodeMember, &e.members)
	}
	annotated := len(e.notes) > 0 || len(e.omitted) > 0
	n := len(e.buf)
	if annotated {
		n = nc // annotate makes the details anew
	}
	out := mem.alloc(n)
	copy(out, e.buf)
	if nc > 0 {
		r.Changes = out[:nc:nc]
	}
	if len(out) > nc {
		r.Details = out[nc:]
	}
	if annotated {
		d, err := e.annotate(e.buf[nc:])
		if err != nil {
			return Record{}, err
		}
		r.Details = d
	}
	return r, nil
}

// plainEvent reports whether the string fields of ev are printable ASCII
// within their limits, as nearly every event's are: then its identities
// pass idProblem and cleanString keeps its other strings as they are.
func plainEvent(ev *Event, maxField int) bool {
	for _, id := range [...]string{ev.UserID, string(ev.Action), ev.ResourceType, ev.ResourceID, ev.RequestID, ev.SessionID, ev.TenantID} {
		if len(id) > MaxIDBytes || !printable(id) {
			return false
		}
	}
	return len(ev.UserEmail) <= maxField && len(ev.UserAgent) <= 4*maxField && len(ev.ErrorMessage) <= 4*maxField &&
		printable(ev.UserEmail) && printable(ev.UserAgent) && printable(ev.ErrorMessage)
}

// traceContextID returns id as a W3C trace-context id of n hex digits,
// lowercased, or "" and a note saying why it was dropped: it has another
// length, a character that is not a hex digit, or only zeros (which W3C
// declares invalid).
func traceContextID(id string, n int, field string) (string, string) {
	if id == "" {
		return "", ""
	}
	zero := true
	ok := len(id) == n
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
		zero = zero && c == '0'
	}
	if !ok || zero {
		return "", fmt.Sprintf("%s: not a W3C trace-context id (%d hex digits, not all zero); dropped", field, n)
	}
	return strings.ToLower(id), ""
}

var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// truncMicro returns t in UTC, truncated to the microsecond, without a
// monotonic clock reading.
func truncMicro(t time.Time) time.Time {
	t = t.UTC().Round(0)
	return t.Add(-time.Duration(t.Nanosecond() % 1000))
}

// cleanAddr unmaps IPv4-mapped IPv6 addresses and drops zones, which
// PostgreSQL's inet type cannot hold.
func cleanAddr(a netip.Addr) netip.Addr {
	if !a.IsValid() || a.Is4() || a.Zone() == "" && !a.Is4In6() {
		return a
	}
	return a.Unmap().WithZone("")
}

func eventError(field, msg string) error {
	return &FieldError{Field: field, Msg: msg, kind: ErrInvalidEvent}
}

// cleanString repairs invalid UTF-8 and NUL bytes in s and caps it at maxBytes
// bytes, marking a cut with "…[truncated]". It returns s itself, without
// allocating, when s needs neither.
func cleanString(s string, maxBytes int) string {
	if len(s) <= maxBytes && canonical.Valid(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= maxBytes {
		return s
	}
	cut := maxBytes - len(truncMarker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncMarker
}

// pathElem is one step of the path to the value being encoded.
type pathElem struct {
	key string
	idx int // used when key is ""
}

// encoder writes canonical JSON: objects with sorted keys, no
// insignificant white space, numbers in plain decimal notation, strings
// with minimal escaping. Its output decodes and re-encodes to itself, and
// survives PostgreSQL jsonb.
type encoder struct {
	c        *cleaner
	buf      []byte
	members  []pair[any]    // stack of object members being sorted
	strs     []pair[string] // the same, for map[string]string
	changes  []pair[Change]
	path     []pathElem
	visiting []unsafe.Pointer
	scratch  []byte
	kn       keyNorm
	secrets  map[string]memoEntry // memo of cleaner.secret, by key
	memo     [memoSlots]memoEntry // its last keys, by memoSlot
	notes    []string
	omitted  []string
	root     string
	limit    int  // when len(buf) passes limit, encoding stops
	overflow bool // set when it did
	canon    bool // re-encoding stored JSON: redact nothing, note nothing
}

func (e *encoder) reset() {
	e.buf = e.buf[:0]
	e.members, e.strs, e.changes = e.members[:0], e.strs[:0], e.changes[:0]
	e.path = e.path[:0]
	e.visiting = e.visiting[:0]
	e.notes = e.notes[:0]
	e.omitted = e.omitted[:0]
	e.overflow = false
	e.limit = math.MaxInt
	e.canon = false
}

func (e *encoder) release() {
	if cap(e.buf) > 1<<20 {
		e.buf = nil
	}
	if cap(e.kn.runes) > 64<<10 { // a huge key's scratch is not kept
		e.kn = keyNorm{}
	}
	// the members' stacks clear what they pop (encodeTop, writeObject):
	// only what a panic left is cleared here, not their whole capacity,
	// which the largest object ever logged set
	clear(e.members)
	clear(e.strs)
	clear(e.changes)
	clear(e.path[:cap(e.path)])
	clear(e.visiting[:cap(e.visiting)])
	e.notes, e.omitted = nil, nil
	e.c.pool.Put(e)
}

func (e *encoder) note(msg string) {
	if e.canon || len(e.notes) >= maxNotes {
		return
	}
	var sb strings.Builder
	sb.WriteString(e.root)
	for _, p := range e.path {
		sb.WriteByte('.')
		if p.key != "" {
			sb.WriteString(p.key)
		} else {
			sb.WriteString(strconv.Itoa(p.idx))
		}
	}
	sb.WriteString(": ")
	sb.WriteString(msg)
	e.notes = append(e.notes, cleanString(sb.String(), maxNoteBytes))
}

// appKey is where an application's own MetaKey value goes.
const appKey = MetaKey + "_app"

// pair is a member of an object being encoded.
type pair[V any] struct {
	k      string // the key as written: repaired and capped
	orig   string // the key as given
	v      V
	secret bool // the key as given names a secret
}

// cmpPair orders members by the key as written, then by the key as
// given, so that of two keys the same once repaired or capped the one
// kept does not depend on the map's order.
func cmpPair[V any](a, b pair[V]) int {
	if c := strings.Compare(a.k, b.k); c != 0 {
		return c
	}
	return strings.Compare(a.orig, b.orig)
}

// sortPairs sorts ps by cmpPair: by insertion for the few members of
// most objects, without slices.SortFunc's indirect calls.
func sortPairs[V any](ps []pair[V]) {
	if len(ps) > 12 {
		slices.SortFunc(ps, cmpPair[V])
		return
	}
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && (ps[j].k < ps[j-1].k || ps[j].k == ps[j-1].k && ps[j].orig < ps[j-1].orig); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// encodeTop encodes a top-level object (Details or Changes) within
// Limits.MaxJSONBytes, omitting the members that do not fit. With reserve,
// the member named MetaKey is written as appKey. stack is the encoder's
// scratch for members of type V.
func encodeTop[V any](e *encoder, m map[string]V, reserve bool, member func(*encoder, pair[V]), stack *[]pair[V]) {
	start := len(e.buf)
	budget := e.c.limits.MaxJSONBytes - 6<<10 // room for the notes
	base := len(*stack)
	var meta V
	hasMeta, hasApp := false, false
	for k, v := range m {
		if reserve && k == MetaKey {
			meta, hasMeta = v, true
			continue
		}
		hasApp = hasApp || reserve && k == appKey
		*stack = append(*stack, pair[V]{e.key(k), k, v, e.secret(k)})
	}
	if hasMeta {
		if hasApp {
			e.note(MetaKey + " is reserved and " + appKey + " is taken; its value was dropped")
		} else {
			*stack = append(*stack, pair[V]{appKey, MetaKey, meta, e.secret(MetaKey)})
		}
	}
	end := len(*stack)
	sortPairs((*stack)[base:end])
	e.buf = append(e.buf, '{')
	first := true
	for i := base; i < end; i++ {
		p := (*stack)[i]
		if i > base && p.k == (*stack)[i-1].k {
			e.note("two keys are the same once repaired; the greater as given was dropped")
			continue
		}
		mark := len(e.buf)
		if !first {
			e.buf = append(e.buf, ',')
		}
		e.limit = start + budget
		member(e, p)
		if e.check(); e.overflow {
			e.buf = e.buf[:mark]
			e.overflow = false
			if len(e.omitted) < maxNotes {
				e.omitted = append(e.omitted, cleanString(e.root+"."+p.k, maxNoteBytes))
			}
			continue
		}
		first = false
	}
	e.buf = append(e.buf, '}')
	clear((*stack)[base:])
	*stack = (*stack)[:base]
	e.limit = math.MaxInt
}

func (e *encoder) encodeMember(p pair[any]) {
	e.writeString(p.k, e.keyMax())
	e.buf = append(e.buf, ':')
	e.path = append(e.path, pathElem{key: p.k})
	if p.secret {
		e.redact(p.v)
	} else {
		e.encodeValue(p.v, 0)
	}
	e.path = e.path[:len(e.path)-1]
}

func (e *encoder) encodeChange(p pair[Change]) {
	ch, secret := p.v, p.secret
	e.writeString(p.k, e.keyMax())
	e.buf = append(e.buf, ':')
	e.path = append(e.path, pathElem{key: p.k})
	e.buf = append(e.buf, `{"after":`...)
	e.path = append(e.path, pathElem{key: "after"})
	if secret {
		e.redact(ch.After)
	} else {
		e.encodeValue(ch.After, 1)
	}
	e.path[len(e.path)-1].key = "before"
	e.buf = append(e.buf, `,"before":`...)
	if secret {
		e.redact(ch.Before)
	} else {
		e.encodeValue(ch.Before, 1)
	}
	e.buf = append(e.buf, '}')
	e.path = e.path[:len(e.path)-2]
}

// secret reports whether the key k, as given, names a secret; never when
// re-encoding stored JSON.
func (e *encoder) secret(k string) bool { return !e.canon && e.c.secret(e, k) }

// redact writes the replacement of a secret value v.
func (e *encoder) redact(v any) {
	if e.c.hashKey == nil {
		e.buf = append(e.buf, `"`+Redacted+`"`...)
		return
	}
	start := len(e.buf)
	limit := e.limit
	e.limit = math.MaxInt
	saved := e.canon
	e.canon = true // hash the value as given, without notes
	e.encodeValue(v, 0)
	e.canon = saved
	e.limit = limit
	m := hmac.New(sha256.New, e.c.hashKey)
	m.Write(e.buf[start:])
	var sum [sha256.Size]byte
	e.buf = e.buf[:start]
	e.buf = append(e.buf, `"hmac-sha256:`...)
	e.buf = hex.AppendEncode(e.buf, m.Sum(sum[:0])[:16])
	e.buf = append(e.buf, '"')
}

func (e *encoder) check() bool {
	if len(e.buf) > e.limit {
		e.overflow = true
	}
	return !e.overflow
}

// encodeValue writes v as canonical JSON.
func (e *encoder) encodeValue(v any, depth int) {
	if !e.check() {
		return
	}
	if depth > maxDepth {
		e.note(fmt.Sprintf("nested deeper than %d levels; replaced", maxDepth))
		e.buf = append(e.buf, `"[too deep]"`...)
		return
	}
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		e.writeString(v, e.c.limits.MaxStringBytes)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int8:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int16:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, v, 10)
	case uint:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint8:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint16:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint32:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, v, 10)
	case float64:
		e.writeFloat(v, 64)
	case float32:
		e.writeFloat(float64(v), 32)
	case json.Number:
		e.writeNumber(string(v))
	case time.Time:
		e.writeString(v.UTC().Format(time.RFC3339Nano), math.MaxInt)
	case map[string]any:
		if v == nil {
			e.buf = append(e.buf, "null"...)
			return
		}
		if e.enter(unsafe.Pointer(reflect.ValueOf(v).Pointer())) {
			writeObject(e, v, depth, (*encoder).encodeValue, &e.members)
			e.leave()
		}
	case map[string]string:
		if v == nil {
			e.buf = append(e.buf, "null"...)
			return
		}
		writeObject(e, v, depth, (*encoder).encodeString, &e.strs)
	case []any:
		if v == nil {
			e.buf = append(e.buf, "null"...)
			return
		}
		if e.enter(unsafe.Pointer(unsafe.SliceData(v))) {
			e.buf = append(e.buf, '[')
			for i, x := range v {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				e.path = append(e.path, pathElem{idx: i})
				e.encodeValue(x, depth+1)
				e.path = e.path[:len(e.path)-1]
			}
			e.buf = append(e.buf, ']')
			e.leave()
		}
	case []string:
		if v == nil {
			e.buf = append(e.buf, "null"...)
			return
		}
		e.buf = append(e.buf, '[')
		for i, x := range v {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.writeString(x, e.c.limits.MaxStringBytes)
		}
		e.buf = append(e.buf, ']')
	case json.RawMessage:
		e.encodeRaw(v, depth)
	case []byte:
		if v == nil {
			e.buf = append(e.buf, "null"...)
			return
		}
		e.writeString(base64.StdEncoding.EncodeToString(v), e.c.limits.MaxStringBytes)
	case Change:
		e.buf = append(e.buf, `{"after":`...)
		e.encodeValue(v.After, depth+1)
		e.buf = append(e.buf, `,"before":`...)
		e.encodeValue(v.Before, depth+1)
		e.buf = append(e.buf, '}')
	case json.Marshaler:
		e.encodeMarshaler(v, depth)
	case encoding.TextMarshaler:
		t, err := safeMarshalText(v)
		if err != nil {
			e.unencodable(v, err)
			return
		}
		e.writeString(string(t), e.c.limits.MaxStringBytes)
	case error:
		e.writeString(safeErrorString(v), e.c.limits.MaxStringBytes)
	default:
		e.encodeReflect(v, depth)
	}
}

// enter notes that the map or slice at p is being encoded; it returns false,
// writing a placeholder, when p is already being encoded: a cycle.
func (e *encoder) enter(p unsafe.Pointer) bool {
	if p != nil && slices.Contains(e.visiting, p) {
		e.note("cycle; replaced")
		e.buf = append(e.buf, `"[cycle]"`...)
		return false
	}
	e.visiting = append(e.visiting, p)
	return true
}

func (e *encoder) leave() { e.visiting = e.visiting[:len(e.visiting)-1] }

// writeObject writes m with sorted keys, writing values with enc. stack is
// the encoder's scratch for members of type V.
func writeObject[V any](e *encoder, m map[string]V, depth int, enc func(*encoder, V, int), stack *[]pair[V]) {
	base := len(*stack)
	for k, v := range m {
		*stack = append(*stack, pair[V]{e.key(k), k, v, e.secret(k)})
	}
	end := len(*stack)
	sortPairs((*stack)[base:end])
	e.buf = append(e.buf, '{')
	for i := base; i < end; i++ {
		p := (*stack)[i]
		if i > base && p.k == (*stack)[i-1].k {
			e.note("two keys are the same once repaired; the greater as given was dropped")
			continue
		}
		if i > base {
			e.buf = append(e.buf, ',')
		}
		e.writeString(p.k, e.keyMax())
		e.buf = append(e.buf, ':')
		e.path = append(e.path, pathElem{key: p.k})
		if p.secret {
			e.redact(p.v)
		} else {
			enc(e, p.v, depth+1)
		}
		e.path = e.path[:len(e.path)-1]
		if e.overflow {
			break
		}
	}
	e.buf = append(e.buf, '}')
	clear((*stack)[base:])
	*stack = (*stack)[:base]
}

func (e *encoder) encodeString(s string, _ int) { e.writeString(s, e.c.limits.MaxStringBytes) }

// key returns k repaired and capped, as it will be written, so that keys
// sort as written.
func (e *encoder) key(k string) string {
	if len(k) <= e.keyMax() && canonical.Valid(k) {
		return k
	}
	e.note("key repaired or truncated")
	return cleanString(k, e.keyMax())
}

// keyMax is the longest object key written; keys of stored JSON are kept
// as they are.
func (e *encoder) keyMax() int {
	if e.canon {
		return math.MaxInt
	}
	return 256
}

func (e *encoder) writeFloat(f float64, bits int) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.note(fmt.Sprintf("%v is not a JSON number; stored as a string", f))
		e.writeString(strconv.FormatFloat(f, 'g', -1, 64), math.MaxInt)
		return
	}
	if f == 0 {
		e.buf = append(e.buf, '0')
		return
	}
	start := len(e.buf)
	e.buf = strconv.AppendFloat(e.buf, f, 'f', -1, bits)
	if len(e.buf)-start > canonical.MaxNumberText {
		e.buf = e.buf[:start]
		e.note("number too large; stored as a string")
		e.writeString(strconv.FormatFloat(f, 'g', -1, bits), math.MaxInt)
	}
}

// writeNumber writes the JSON number text s in canonical form (see
// canonical.AppendNumber), or as a string with a note when it cannot.
func (e *encoder) writeNumber(s string) {
	var reason string
	if e.buf, reason = canonical.AppendNumber(e.buf, s, &e.scratch); reason != "" {
		e.note(reason)
		e.writeString(s, e.c.limits.MaxStringBytes)
	}
}

// writeString writes s as a JSON string, repairing invalid UTF-8 and NUL
// bytes and cutting it at maxBytes bytes.
func (e *encoder) writeString(s string, maxBytes int) {
	if len(s) > maxBytes {
		cut := maxBytes - len(truncMarker)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if !e.canon {
			e.note(fmt.Sprintf("string of %d bytes truncated to %d", len(s), maxBytes))
		}
		e.writeString(s[:cut]+truncMarker, math.MaxInt)
		return
	}
	var repaired bool
	e.buf, repaired = canonical.AppendString(e.buf, s)
	if repaired {
		e.note("invalid UTF-8 or NUL bytes replaced by U+FFFD")
	}
}

// encodeRaw re-encodes JSON text canonically.
func (e *encoder) encodeRaw(raw []byte, depth int) {
	if raw == nil {
		e.buf = append(e.buf, "null"...)
		return
	}
	var v any
	if err := canonical.Unmarshal(raw, &v); err != nil {
		e.unencodable(raw, err)
		return
	}
	e.encodeValue(v, depth)
}

func (e *encoder) encodeMarshaler(m json.Marshaler, depth int) {
	if rv := reflect.ValueOf(m); rv.Kind() == reflect.Pointer && rv.IsNil() {
		e.buf = append(e.buf, "null"...)
		return
	}
	e.encodeMarshaled(m, depth)
}

// encodeReflect encodes any other value the way encoding/json would, then
// canonically, so that secrets in struct fields are redacted too.
func (e *encoder) encodeReflect(v any, depth int) {
	switch reflect.ValueOf(v).Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		e.unencodable(v, fmt.Errorf("unsupported type %T", v))
		return
	}
	e.encodeMarshaled(v, depth)
}

// encodeMarshaled encodes v through encoding/json, then canonically.
func (e *encoder) encodeMarshaled(v any, depth int) {
	raw, err := safeMarshal(v)
	if err != nil {
		e.unencodable(v, err)
		return
	}
	e.encodeRaw(raw, depth)
}

func (e *encoder) unencodable(v any, err error) {
	e.note(fmt.Sprintf("cannot encode %T: %v; replaced", v, err))
	e.writeString(fmt.Sprintf("[unencodable %T]", v), 256)
}

// annotate adds the notes and omitted keys to details, under MetaKey.
func (e *encoder) annotate(details []byte) ([]byte, error) {
	m := map[string]any{}
	if len(details) > 0 {
		var err error
		if m, err = decodeObject(details); err != nil {
			return nil, fmt.Errorf("audit: internal error re-reading details: %w", err)
		}
	}
	meta := map[string]any{}
	if len(e.notes) > 0 {
		meta["notes"] = slices.Clone(e.notes)
	}
	if len(e.omitted) > 0 {
		meta["omitted"] = slices.Clone(e.omitted)
		meta["limit_bytes"] = e.c.limits.MaxJSONBytes
	}
	m[MetaKey] = meta
	return canonicalValue(m)
}

var canonCleaner = sync.OnceValue(func() *cleaner {
	return newCleaner(Redaction{NoDefaults: true}, Limits{MaxStringBytes: math.MaxInt, MaxJSONBytes: math.MaxInt})
})

// canonicalValue encodes v canonically: it redacts nothing and notes
// nothing.
func canonicalValue(v any) ([]byte, error) {
	c := canonCleaner()
	e := c.pool.Get().(*encoder)
	defer e.release()
	e.reset()
	e.canon = true
	e.encodeValue(v, -1<<20)
	return bytes.Clone(e.buf), nil
}

func decodeObject(raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := canonical.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("audit: decode details: %w", err)
	}
	return m, nil
}

func safeMarshal(v any) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return json.Marshal(v)
}

func safeMarshalText(v encoding.TextMarshaler) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return v.MarshalText()
}

func safeErrorString(err error) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = fmt.Sprintf("[Error() panicked: %v]", p)
		}
	}()
	return err.Error()
}
