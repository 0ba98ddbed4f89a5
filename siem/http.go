package siem

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/ocsf"
	"github.com/trailmark/audit/storekit"
)

// Sink sends one batch of records to a destination, in one attempt. The
// Tee and Backfill call it and retry on their own: Send reports an error
// that retrying cannot fix by wrapping it with storekit.Permanent, and may
// ask for a pause before the next attempt with an error RetryAfter
// understands. Send must be safe for concurrent use.
type Sink interface {
	Send(ctx context.Context, records []audit.Record) error
}

// Format is the body format an HTTPSink sends.
type Format string

// The formats.
const (
	// FormatNDJSON: one audit.Record per line, in the JSON of the API's
	// NDJSON export and of chain.ExportChain. Content-Type
	// application/x-ndjson.
	FormatNDJSON Format = "ndjson"
	// FormatOCSF: one OCSF event per line (see package ocsf).
	// Content-Type application/x-ndjson.
	FormatOCSF Format = "ocsf"
	// FormatSplunk: Splunk HTTP Event Collector events, one per line:
	// {"time":<seconds.millis>,"host":…,"source":…,"sourcetype":…,
	// "index":…,"event":<the record's JSON>}, for POST
	// /services/collector/event. Content-Type application/json.
	FormatSplunk Format = "splunk"
)

// Defaults of HTTPOptions.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultSplunkSourceType = "trailmark:audit"
)

// HTTPOptions configures an HTTPSink. The zero value (and nil) means the
// defaults: native NDJSON, gzip, no signature, a 10s timeout per request,
// the system's TLS roots.
type HTTPOptions struct {
	// Format of the body. Default FormatNDJSON.
	Format Format
	// Mapper maps records to OCSF events for FormatOCSF. Default
	// ocsf.New(nil).
	Mapper *ocsf.Mapper

	// Secret, when not nil, signs every request: the Trailmark-Signature
	// header (see Sign), over the Idempotency-Key and the body. It must be
	// at least MinSecretLen bytes: a shorter one, an empty one included,
	// is refused by NewHTTP. Nil sends unsigned requests. It never appears
	// in errors.
	Secret []byte
	// SplunkToken, when set, is sent as "Authorization: Splunk <token>"
	// (Splunk HEC's scheme). It never appears in errors.
	SplunkToken string
	// SplunkSourceType is the sourcetype of FormatSplunk events. Default
	// DefaultSplunkSourceType.
	SplunkSourceType string
	// SplunkIndex, SplunkSource and SplunkHost are set on FormatSplunk
	// events when not empty.
	SplunkIndex, SplunkSource, SplunkHost string
	// Header holds extra headers sent with every request, such as an
	// Authorization for a webhook. Their values never appear in errors.
	Header http.Header

	// NoGzip sends bodies uncompressed. By default they are gzipped
	// (Content-Encoding: gzip).
	NoGzip bool
	// TLS configures HTTPS (client certificates, roots, minimum
	// version); nil means Go's defaults. It is cloned.
	TLS *tls.Config
	// Timeout bounds one request: connecting, sending the body, reading
	// the response. Default DefaultTimeout.
	Timeout time.Duration
	// Client sends the requests. Default: a client of its own with a
	// clone of http.DefaultTransport and TLS. Setting both Client and TLS
	// is an error. Redirects are never followed: a signed POST is not
	// re-sent to a place the configuration did not name.
	Client *http.Client
	// Now is the clock of the signature timestamps. Default time.Now.
	Now func() time.Time
}

// HTTPSink posts batches of records to an HTTP endpoint: a SIEM's
// collector or a webhook. It is safe for concurrent use. Close it when
// done.
type HTTPSink struct {
	url      string // as configured, with any credentials
	display  string // the URL redacted for errors (see redactURL)
	opts     HTTPOptions
	client   *http.Client
	own      *http.Transport // closed by Close, when the client is ours
	ctype    string
	gzipPool sync.Pool
}

var (
	_ Sink        = (*HTTPSink)(nil)
	_ audit.Store = (*HTTPSink)(nil)
)

// NewHTTP returns a sink that posts to endpoint, an http or https URL. It
// returns an error for a bad URL or bad options, a Secret shorter than
// MinSecretLen among them; no error, of NewHTTP or of the sink, includes
// the URL's credentials, path or query (webhook URLs often carry a token
// in the path): errors name the endpoint as scheme://host/….
func NewHTTP(endpoint string, opts *HTTPOptions) (*HTTPSink, error) {
	var o HTTPOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, errors.New("audit: siem: the URL does not parse") // the parse error repeats the URL
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("audit: siem: the URL must be http:// or https:// with a host, got scheme %q", u.Scheme)
	}
	display := redactURL(u)
	switch o.Format {
	case "":
		o.Format = FormatNDJSON
	case FormatNDJSON, FormatOCSF, FormatSplunk:
	default:
		return nil, fmt.Errorf("audit: siem: unknown Format %q (want ndjson, ocsf or splunk)", o.Format)
	}
	if o.Format == FormatOCSF && o.Mapper == nil {
		if o.Mapper, err = ocsf.New(nil); err != nil {
			return nil, fmt.Errorf("audit: siem: %w", err)
		}
	}
	if o.SplunkSourceType == "" {
		o.SplunkSourceType = DefaultSplunkSourceType
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("audit: siem: Timeout must not be negative, got %v", o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client != nil && o.TLS != nil {
		return nil, errors.New("audit: siem: set TLS on the Client's transport, not both Client and TLS")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Secret != nil && len(o.Secret) < MinSecretLen {
		return nil, fmt.Errorf("%w, got %d (nil sends unsigned requests)", ErrShortSecret, len(o.Secret))
	}
	o.Secret = bytes.Clone(o.Secret)
	o.Header = o.Header.Clone()
	s := &HTTPSink{url: endpoint, display: display, opts: o}
	if o.Client != nil {
		c := *o.Client
		s.client = &c
	} else {
		s.own = http.DefaultTransport.(*http.Transport).Clone()
		if o.TLS != nil {
			s.own.TLSClientConfig = o.TLS.Clone()
		}
		s.client = &http.Client{Transport: s.own}
	}
	s.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.ctype = "application/x-ndjson"
	if o.Format == FormatSplunk {
		s.ctype = "application/json"
	}
	return s, nil
}

// Close closes the idle connections of the sink's own transport. It does
// not wait: ctx is there for the one Close signature of the module. The
// sink must not be used after.
func (s *HTTPSink) Close(ctx context.Context) error {
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
	return nil
}

// Append sends records in one request, so that an HTTPSink can be a
// Logger's store by itself. It retries nothing: the Logger does (without
// honouring Retry-After). To keep a primary store and stream to a SIEM
// beside it, use a Tee.
func (s *HTTPSink) Append(ctx context.Context, records ...audit.Record) error {
	return s.Send(ctx, records)
}

// Send posts records as one request: the body in the sink's Format,
// gzipped unless NoGzip, with the headers Content-Type,
// Content-Encoding, Idempotency-Key (IdempotencyKey of the records),
// Trailmark-Signature when a Secret is set, and Authorization when a
// SplunkToken is set. A 2xx response is success. A 408, 429 or 5xx
// response, or a network error or timeout, is transient: the error says
// how long Retry-After asked to wait (see RetryAfter). Any other status,
// redirects included, is permanent (storekit.Permanent). Errors name the
// endpoint as scheme://host/… (without credentials, path or query) and
// never hold a secret.
func (s *HTTPSink) Send(ctx context.Context, records []audit.Record) error {
	if len(records) == 0 {
		return nil
	}
	body, err := s.encode(records)
	if err != nil {
		return storekit.Permanent(fmt.Errorf("audit: siem: POST %s: %w", s.display, err))
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return storekit.Permanent(fmt.Errorf("audit: siem: POST %s: cannot build the request", s.display))
	}
	for k, v := range s.opts.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", s.ctype)
	req.Header.Set("User-Agent", "trailmark-stream/1")
	if !s.opts.NoGzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	key := IdempotencyKey(records)
	req.Header.Set(IdempotencyHeader, key)
	if s.opts.Secret != nil {
		sig, err := Sign(s.opts.Secret, s.opts.Now(), key, body)
		if err != nil { // NewHTTP checked the secret; IdempotencyKey makes valid keys
			return storekit.Permanent(err)
		}
		req.Header.Set(SignatureHeader, sig)
	}
	if s.opts.SplunkToken != "" {
		req.Header.Set("Authorization", "Splunk "+s.opts.SplunkToken)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message repeats the URL, query included
		}
		return fmt.Errorf("audit: siem: POST %s: %w", s.display, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	serr := &StatusError{Code: resp.StatusCode, endpoint: s.display}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		serr.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.opts.Now())
		return serr
	default:
		return storekit.Permanent(serr)
	}
}

// StatusError is a response other than 2xx.
type StatusError struct {
	Code int
	// RetryAfter is the wait the response's Retry-After header asked for,
	// or 0.
	RetryAfter time.Duration
	endpoint   string
}

// Error gives the status the endpoint answered, never a secret.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("audit: siem: POST %s: %d %s", e.endpoint, e.Code, http.StatusText(e.Code))
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %v)", e.RetryAfter)
	}
	return msg
}

// RetryAfter returns the wait an error from a Sink asked for before the
// next attempt (a Retry-After header), or 0.
func RetryAfter(err error) time.Duration {
	var s *StatusError
	if errors.As(err, &s) {
		return s.RetryAfter
	}
	return 0
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// redactURL returns u as errors show it: scheme and host, and "/…" in
// place of a path, so that neither credentials nor a token in the path
// or the query reach a log.
func redactURL(u *url.URL) string {
	d := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		d += "/…"
	}
	return d
}

// IdempotencyKey returns the key of a batch: the first 128 bits, in hex,
// of SHA-256 over the records' IDs in order. The same records in the same
// order give the same key, so every retry of a batch carries the key of
// its first attempt.
func IdempotencyKey(records []audit.Record) string {
	h := sha256.New()
	for i := range records {
		h.Write(records[i].ID[:])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// encode returns the body of a request: the records in the sink's
// format, gzipped unless NoGzip.
func (s *HTTPSink) encode(records []audit.Record) ([]byte, error) {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if !s.opts.NoGzip {
		zw, _ = s.gzipPool.Get().(*gzip.Writer)
		if zw == nil {
			zw = gzip.NewWriter(&buf)
		} else {
			zw.Reset(&buf)
		}
		defer s.gzipPool.Put(zw)
		w = zw
	}
	if err := s.write(w, records); err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// write writes records to w in the sink's format.
func (s *HTTPSink) write(w io.Writer, records []audit.Record) error {
	switch s.opts.Format {
	case FormatOCSF:
		enc := ocsf.NewEncoder(w, s.opts.Mapper)
		for i := range records {
			if err := enc.Encode(&records[i]); err != nil {
				return err
			}
		}
	case FormatSplunk:
		enc := json.NewEncoder(w)
		for i := range records {
			r := &records[i]
			ev := splunkEvent{
				Time:       json.Number(strconv.FormatFloat(float64(r.OccurredAt.UnixMicro()/1000)/1000, 'f', 3, 64)),
				Host:       s.opts.SplunkHost,
				Source:     s.opts.SplunkSource,
				SourceType: s.opts.SplunkSourceType,
				Index:      s.opts.SplunkIndex,
				Event:      r,
			}
			if err := enc.Encode(ev); err != nil {
				return err
			}
		}
	default:
		enc := json.NewEncoder(w)
		for i := range records {
			if err := enc.Encode(&records[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// splunkEvent is one event of Splunk HEC's /services/collector/event.
type splunkEvent struct {
	Time       json.Number   `json:"time"`
	Host       string        `json:"host,omitempty"`
	Source     string        `json:"source,omitempty"`
	SourceType string        `json:"sourcetype"`
	Index      string        `json:"index,omitempty"`
	Event      *audit.Record `json:"event"`
}
