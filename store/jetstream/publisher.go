package jetstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// Defaults of Options and LoaderOptions.
const (
	DefaultStream          = "AUDIT"
	DefaultSubject         = "audit.records"
	DefaultDuplicateWindow = 10 * time.Minute
	// DefaultReplicas is the number of replicas of a stream New creates
	// and the fewest it accepts, unless Options.Replicas says otherwise:
	// with 3, an acknowledged record is on two servers at least and the
	// stream survives the loss of any one of them.
	DefaultReplicas = 3
	DefaultMaxAge   = 7 * 24 * time.Hour
	// DefaultRetryHorizon is how long after its first publish a record may
	// be published again by a Logger with the default AsyncOptions
	// (RetryFor 2m plus one WriteTimeout of 10s): the shortest duplicate
	// window that keeps retries from duplicating records.
	DefaultRetryHorizon = 2*time.Minute + 10*time.Second
	// MinMaxAge is the shortest MaxAge a stream may have: records older
	// than MaxAge are removed from the stream whether they were loaded or
	// not, so it must outlast any outage of the loaders.
	MinMaxAge = 24 * time.Hour
)

// Options configures a Store. The zero value (and nil) means the
// defaults.
type Options struct {
	// Stream is the name of the JetStream stream. Default "AUDIT".
	Stream string
	// Subject is the subject records are published to; the stream must
	// capture it. Default "audit.records".
	Subject string
	// Replicas is the number of replicas of a stream New creates, and the
	// fewest an existing stream may have. Default 3 (DefaultReplicas),
	// which needs a JetStream cluster of at least 3 servers: New fails
	// against a single server, and refuses an existing stream with fewer
	// replicas, rather than settle for one copy of each record. Set 1
	// explicitly for a single server (development, tests, or a deployment
	// that accepts losing acknowledged records with one disk); 5 survives
	// the loss of two servers. An even number costs more than the odd
	// number below it and tolerates no more losses (a quorum of 2 is 2,
	// of 4 is 3).
	Replicas int
	// DuplicateWindow is the deduplication window of a stream New creates.
	// Default 10m.
	DuplicateWindow time.Duration
	// RetryHorizon is how long after its first publish a record may be
	// published again: the Logger's AsyncOptions.RetryFor plus its
	// WriteTimeout, or Policy.SyncTimeout if longer. The stream's
	// duplicate window must be at least this long. Default 2m10s, the
	// Logger's defaults.
	RetryHorizon time.Duration
	// MaxAge is how long a stream New creates keeps records. Default 7
	// days; at least MinMaxAge.
	MaxAge time.Duration
	// MaxBytes bounds the size of a stream New creates; when it is full,
	// publishing fails (DiscardNew) rather than dropping old records.
	// Default 0: no bound but MaxAge.
	MaxBytes int64
	// MaxInFlight bounds the publishes of one Append awaiting their
	// acknowledgement. Default 1024.
	MaxInFlight int
	// AckTimeout bounds the wait for the stream's acknowledgement of one
	// publish. Default 10s.
	AckTimeout time.Duration
	// NoCreate makes New fail when the stream does not exist, instead of
	// creating it (for deployments that manage streams themselves).
	NoCreate bool
}

func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.RetryHorizon == 0 {
		c.RetryHorizon = DefaultRetryHorizon
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1024
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 10 * time.Second
	}
	switch {
	case strings.ContainsAny(c.Stream, ".*> \t"):
		return c, fmt.Errorf("audit: jetstream: Options.Stream %q: want a name without '.', '*', '>' or spaces", c.Stream)
	case strings.ContainsAny(c.Subject, "*> \t") || strings.HasPrefix(c.Subject, ".") || strings.HasSuffix(c.Subject, "."):
		return c, fmt.Errorf("audit: jetstream: Options.Subject %q: want a literal subject", c.Subject)
	case c.Replicas < 1 || c.Replicas > 5:
		return c, fmt.Errorf("audit: jetstream: Options.Replicas %d: want 1 to 5", c.Replicas)
	case c.RetryHorizon < 0 || c.AckTimeout < 0:
		return c, errors.New("audit: jetstream: Options durations must not be negative")
	case c.DuplicateWindow < c.RetryHorizon:
		return c, fmt.Errorf("audit: jetstream: Options.DuplicateWindow %v is shorter than RetryHorizon %v: a retried record could be stored twice", c.DuplicateWindow, c.RetryHorizon)
	case c.MaxAge < MinMaxAge:
		return c, fmt.Errorf("audit: jetstream: Options.MaxAge %v is shorter than MinMaxAge %v", c.MaxAge, MinMaxAge)
	case c.MaxBytes < 0:
		return c, errors.New("audit: jetstream: Options.MaxBytes must not be negative")
	case c.MaxInFlight < 1:
		return c, fmt.Errorf("audit: jetstream: Options.MaxInFlight %d: must be positive", c.MaxInFlight)
	}
	return c, nil
}

// Store publishes records to a JetStream stream. It is an audit.Store:
// give it to audit.New. It is safe for concurrent use.
type Store struct {
	js   js.JetStream
	opts Options
	bufs sync.Pool // *bytes.Buffer
}

var _ audit.Store = (*Store)(nil)

// New returns a Store that publishes on nc, which it does not own: close
// nc after the Logger using the Store. New creates the stream if it is
// missing (unless Options.NoCreate) and checks it if it exists, within
// ctx; it returns an error when the stream cannot keep the promises of
// the package documentation.
func New(ctx context.Context, nc *nats.Conn, opts *Options) (*Store, error) {
	if nc == nil {
		return nil, errors.New("audit: jetstream: New called with a nil *nats.Conn")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	j, err := js.New(nc, js.WithPublishAsyncMaxPending(4*o.MaxInFlight), js.WithPublishAsyncTimeout(o.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("audit: jetstream: %w", err)
	}
	s := &Store{js: j, opts: o}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	if err := s.ensureStream(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// StreamConfig returns the configuration New gives a stream it creates:
// file storage, limits retention, DiscardNew, deletes of single messages
// denied.
func (o *Options) StreamConfig() (js.StreamConfig, error) {
	c, err := o.withDefaults()
	if err != nil {
		return js.StreamConfig{}, err
	}
	return js.StreamConfig{
		Name:        c.Stream,
		Description: "Trailmark audit records",
		Subjects:    []string{c.Subject},
		Retention:   js.LimitsPolicy,
		Storage:     js.FileStorage,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		MaxAge:      c.MaxAge,
		MaxBytes:    orUnlimited(c.MaxBytes),
		MaxMsgs:     -1,
		Discard:     js.DiscardNew,
		DenyDelete:  true,
	}, nil
}

func orUnlimited(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

func (s *Store) ensureStream(ctx context.Context) error {
	st, err := s.js.Stream(ctx, s.opts.Stream)
	if errors.Is(err, js.ErrStreamNotFound) && !s.opts.NoCreate {
		cfg, _ := s.opts.StreamConfig()
		st, err = s.js.CreateStream(ctx, cfg)
		if errors.Is(err, js.ErrStreamNameAlreadyInUse) { // created meanwhile by another instance
			st, err = s.js.Stream(ctx, s.opts.Stream)
		}
		var apiErr *js.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeReplicasNotSupported {
			return fmt.Errorf("audit: jetstream: stream %s: %d replicas need a JetStream cluster; against a single server set Options.Replicas to 1, accepting that a lost disk loses acknowledged records: %w", s.opts.Stream, s.opts.Replicas, err)
		}
	}
	if err != nil {
		return fmt.Errorf("audit: jetstream: stream %s: %w", s.opts.Stream, err)
	}
	return checkStream(st.CachedInfo().Config, s.opts)
}

// errCodeReplicasNotSupported is the server's error code for a stream of
// more than one replica on a server not in a cluster.
const errCodeReplicasNotSupported js.ErrorCode = 10074

// checkStream returns an error when cfg cannot keep the package's promises.
func checkStream(cfg js.StreamConfig, o Options) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("audit: jetstream: stream %s: "+format, append([]any{cfg.Name}, args...)...)
	}
	limited := cfg.MaxBytes > 0 || cfg.MaxMsgs > 0 || cfg.MaxMsgsPerSubject > 0
	switch {
	case !captures(cfg.Subjects, o.Subject):
		return bad("its subjects %q do not capture %q", cfg.Subjects, o.Subject)
	case cfg.Storage != js.FileStorage:
		return bad("%v storage: records would not survive a server restart; want file storage", cfg.Storage)
	case cfg.Replicas < o.Replicas:
		return bad("%d replica(s), want at least %d (Options.Replicas; set it to 1 to accept one copy of each record)", cfg.Replicas, o.Replicas)
	case cfg.Duplicates < o.RetryHorizon:
		return bad("duplicate window %v is shorter than the retry horizon %v: a retried record could be stored twice", cfg.Duplicates, o.RetryHorizon)
	case cfg.MaxAge > 0 && cfg.MaxAge < MinMaxAge:
		return bad("MaxAge %v is shorter than %v: records could expire before they are loaded", cfg.MaxAge, MinMaxAge)
	case limited && cfg.Discard != js.DiscardNew:
		return bad("limits with the DiscardOld policy drop records silently when full; want DiscardNew")
	case cfg.Retention == js.InterestPolicy:
		return bad("interest retention drops records while no consumer is bound; want limits or work-queue retention")
	case cfg.NoAck:
		return bad("NoAck is set: publishes would not be acknowledged")
	case cfg.Sealed:
		return bad("the stream is sealed")
	}
	return nil
}

// captures reports whether one of the stream subjects matches subject.
func captures(patterns []string, subject string) bool {
	for _, p := range patterns {
		if subjectMatches(p, subject) {
			return true
		}
	}
	return false
}

func subjectMatches(pattern, subject string) bool {
	pt, st := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range pt {
		switch {
		case p == ">":
			return i < len(st)
		case i >= len(st):
			return false
		case p != "*" && p != st[i]:
			return false
		}
	}
	return len(pt) == len(st)
}

// Stream returns the name of the stream.
func (s *Store) Stream() string { return s.opts.Stream }

// Subject returns the subject records are published to.
func (s *Store) Subject() string { return s.opts.Subject }

// Append publishes records to the stream, each with its ID as Nats-Msg-Id,
// and returns when the stream has acknowledged every one of them: then
// they are durable in the stream (on a quorum of its replicas). Publishes
// are pipelined, at most MaxInFlight awaiting their acknowledgement.
//
// An error means some records may not be in the stream; retrying the
// whole call is safe within the stream's duplicate window, which drops
// the records already stored. A record that breaks the record contract
// (audit.Record.Validate), which the Loader would dead-letter, or one too
// large for the server, is refused with an error marked storekit.Permanent;
// every other error is transient.
func (s *Store) Append(ctx context.Context, records ...audit.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := storekit.CheckRecords(records); err != nil {
		return fmt.Errorf("audit: jetstream: append: %w", err)
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	defer s.bufs.Put(buf)
	window := make([]js.PubAckFuture, 0, min(len(records), s.opts.MaxInFlight))
	stall := js.WithStallWait(s.opts.AckTimeout)
	var firstErr error
	for i := range records {
		if len(window) == s.opts.MaxInFlight {
			if err := s.wait(ctx, window[0]); err != nil {
				return err
			}
			window = window[1:]
		}
		data, err := encode(buf, &records[i])
		if err != nil {
			return storekit.Permanent(err)
		}
		m := nats.NewMsg(s.opts.Subject)
		m.Data = data
		m.Header.Set(nats.MsgIdHdr, records[i].ID.String())
		f, err := s.js.PublishMsgAsync(m, stall)
		if err != nil {
			firstErr = s.publishErr(records[i].ID.String(), err)
			break
		}
		window = append(window, f)
	}
	for _, f := range window {
		if err := s.wait(ctx, f); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// wait waits for f's acknowledgement.
func (s *Store) wait(ctx context.Context, f js.PubAckFuture) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return s.publishErr(f.Msg().Header.Get(nats.MsgIdHdr), err)
	case <-ctx.Done():
		return fmt.Errorf("audit: jetstream: publish to %s: %w", s.opts.Stream, ctx.Err())
	}
}

func (s *Store) publishErr(id string, err error) error {
	err = fmt.Errorf("audit: jetstream: publish record %s to %s: %w", id, s.opts.Stream, err)
	var apiErr *js.APIError
	if errors.Is(err, nats.ErrMaxPayload) || (errors.As(err, &apiErr) && apiErr.ErrorCode == js.JSErrCodeStreamMessageExceedsMaximum) {
		return storekit.Permanent(err)
	}
	return err
}
