package trail

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/viewer"
)

// Options says which parts of the audit trail a Trail runs, and how. The
// zero value (and nil) runs a Logger alone, with its defaults.
type Options struct {
	// Logger configures the Logger. Nil: the defaults (audit.Options).
	// Its OnError defaults to the Trail's.
	Logger *audit.Options
	// Keys turns the hash chain on: a Sealer seals the store's records
	// with Keys.Current() and signs checkpoints with Keys.SigningKey(),
	// trusting Keys.PublicKeys(). The store must keep a chain
	// (storekit.SealStore: the memory, SQLite and PostgreSQL stores do).
	// Nil: no Sealer.
	Keys *chain.KeyFile
	// Sealer configures the Sealer, when Keys is set; its SigningKey and
	// PublicKeys default to Keys'. Nil: the defaults.
	Sealer *chain.SealerOptions
	// Retention turns retention on: audit.Retention runs now and every
	// Retention.Interval (a day by default), with the Trail's Sealer as
	// its chain's side and the Logger recording each run unless
	// Retention.Logger is set. A store that keeps a chain needs Keys
	// with a signing key. Nil: no retention.
	Retention *audit.RetentionOptions
	// Streams forward every record the Logger writes to SIEMs, through a
	// siem.Tee over the store: a stream never slows the Logger nor
	// fails it (see package siem). The Trail closes each stream's Sink
	// that has a Close(context.Context) error method. Nil: no streams.
	Streams []siem.Stream
	// Tee configures the Tee of Streams. Nil: the defaults.
	Tee *siem.TeeOptions
	// OnError is the default error hook of every part that has none
	// set. Default: print to standard error, as the Logger does.
	OnError func(error)
}

// A Trail is a service's whole audit trail in one value: the store, the
// Logger that writes to it, and the parts Options turns on — the Sealer
// that keeps the hash chain, Retention, and the SIEM streams. New starts
// them; Close stops them in the one order that loses nothing (see Close);
// Handler serves the audit log API and the viewer under one prefix.
//
// A Trail is safe for concurrent use.
type Trail struct {
	store     audit.Store // the caller's store: what the API, Sealer and Retention read
	logger    *audit.Logger
	sealer    *chain.Sealer
	retention *audit.Retention
	tee       *siem.Tee
	sinks     []siem.Sink
	spool     audit.Spool // the Logger's, closed after it
	onError   func(error)
	logKey    string // the verifier key of the tree's checkpoints, when the Sealer signs them

	stopRetention context.CancelFunc // ends Retention.Run
	retentionDone sync.WaitGroup
	sealerDone    sync.WaitGroup // Sealer.Run; Sealer.Close ends it

	closeOnce sync.Once
	closeErr  error
}

// New starts the audit trail of store, which it takes charge of: Close
// closes it last, when it has a Close(context.Context) error method. opts may be nil for
// a Logger alone with its defaults; New copies what it keeps of it. On an
// error, New has started nothing and closed nothing: store is still the
// caller's.
func New(store audit.Store, opts *Options) (*Trail, error) {
	if store == nil {
		return nil, errors.New("audit: trail: nil store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.OnError == nil {
		o.OnError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	t := &Trail{store: store, onError: o.OnError}

	var err error
	if o.Keys != nil {
		if t.sealer, t.logKey, err = newSealer(store, o); err != nil {
			return nil, err
		}
	}
	if o.Retention != nil && t.sealer == nil && needsChain(store) {
		return nil, fmt.Errorf("audit: trail: %T keeps a hash chain: retention needs Options.Keys, with a signing key, so that the chain stays verifiable after a purge", store)
	}

	write := store
	if len(o.Streams) > 0 {
		to := siem.TeeOptions{OnError: o.OnError}
		if o.Tee != nil {
			to = *o.Tee
			if to.OnError == nil {
				to.OnError = o.OnError
			}
		}
		if t.tee, err = siem.NewTee(store, o.Streams, &to); err != nil {
			return nil, err
		}
		for _, s := range o.Streams {
			t.sinks = append(t.sinks, s.Sink)
		}
		write = t.tee
	}

	lo := audit.Options{OnError: o.OnError}
	if o.Logger != nil {
		lo = *o.Logger
		if lo.OnError == nil {
			lo.OnError = o.OnError
		}
	}
	t.spool = lo.Async.Spool
	if t.logger, err = audit.New(write, &lo); err != nil {
		t.closeTee()
		return nil, err
	}

	if o.Retention != nil {
		ro := *o.Retention
		if ro.Logger == nil {
			ro.Logger = t.logger
		}
		if ro.OnError == nil {
			ro.OnError = o.OnError
		}
		var c audit.RetentionChain
		if t.sealer != nil {
			c = t.sealer
		}
		if t.retention, err = audit.NewRetention(store, c, &ro); err != nil {
			err = fmt.Errorf("audit: trail: %w", err)
			if cerr := t.logger.Close(context.Background()); cerr != nil {
				err = errors.Join(err, cerr)
			}
			t.closeTee()
			return nil, err
		}
	}

	if t.sealer != nil {
		t.sealerDone.Go(func() { t.sealer.Run(context.Background()) })
	}
	var ctx context.Context
	ctx, t.stopRetention = context.WithCancel(context.Background())
	if t.retention != nil {
		t.retentionDone.Go(func() { t.retention.Run(ctx) })
	}
	return t, nil
}

// newSealer returns the Sealer of o.Keys for store, and the verifier key
// of its checkpoints when it signs them (chain.VerifierKey).
func newSealer(store audit.Store, o Options) (*chain.Sealer, string, error) {
	ss, ok := store.(storekit.SealStore)
	if !ok {
		return nil, "", fmt.Errorf("audit: trail: Keys is set, but %T keeps no hash chain (storekit.SealStore)", store)
	}
	so := o.Keys.SealerOptions()
	if o.Sealer != nil {
		own := *o.Sealer
		if own.SigningKey == nil {
			own.SigningKey = so.SigningKey
		}
		if own.PublicKeys == nil {
			own.PublicKeys = so.PublicKeys
		}
		so = &own
	}
	if so.OnError == nil {
		so.OnError = o.OnError
	}
	s, err := chain.NewSealer(ss, o.Keys.Current(), so)
	if err != nil {
		return nil, "", fmt.Errorf("audit: trail: %w", err)
	}
	var vkey string
	if so.SigningKey != nil && so.SigningKey.Key != nil {
		origin := so.Origin
		if origin == "" {
			origin = chain.DefaultOrigin
		}
		pub, _ := so.SigningKey.Key.Public().(ed25519.PublicKey)
		if vkey, err = chain.VerifierKey(origin, pub); err != nil {
			return nil, "", fmt.Errorf("audit: trail: %w", err)
		}
	}
	return s, vkey, nil
}

// needsChain reports whether store keeps a hash chain that retention must
// keep verifiable.
func needsChain(store audit.Store) bool {
	for range 16 { // through wrappers (siem.Tee) to the store itself
		u, ok := store.(interface{ Unwrap() audit.Store })
		if !ok {
			break
		}
		store = u.Unwrap()
	}
	_, ok := store.(storekit.ChainPurger)
	return ok
}

// Logger returns the Logger, which writes to the store (through the
// streams' Tee when there are streams). Give it to package middleware and
// to api.New.
func (t *Trail) Logger() *audit.Logger { return t.logger }

// Store returns the store the Trail was given: read it, query it, verify
// it; write to it through Logger.
func (t *Trail) Store() audit.Store { return t.store }

// Sealer returns the Sealer, or nil without Options.Keys.
func (t *Trail) Sealer() *chain.Sealer { return t.sealer }

// LogKey returns the public key of the log, as chain.VerifierKey writes
// it, when the Sealer signs checkpoints (Options.Keys has a signing key):
// the key to publish, with which anyone checks the log's proofs
// (auditctl verify-proof) and the viewer checks the records it shows.
// Empty without a signing key.
func (t *Trail) LogKey() string { return t.logKey }

// Retention returns the Retention, or nil without Options.Retention.
func (t *Trail) Retention() *audit.Retention { return t.retention }

// Tee returns the streams' Tee, or nil without Options.Streams.
func (t *Trail) Tee() *siem.Tee { return t.tee }

// Close stops the audit trail, in the order that loses nothing, and
// returns the errors of its steps, joined:
//
//  1. Retention: a run in progress is cancelled (it removes nothing it
//     has not archived and checkpointed), and no other starts;
//  2. the Logger: it drains its queue and Sync writes, and records its
//     stop (audit.ActionAuditLoggerStop); then its spool
//     (audit.AsyncOptions.Spool), when it has a Close method;
//  3. the streams' Tee: it sends what is queued, then the sinks that have
//     a Close method are closed;
//  4. the Sealer: it seals what is left, the Logger's stop record
//     included, and writes and exports a final checkpoint;
//  5. the store, when it has a Close(context.Context) error method.
//
// Stop taking requests first (http.Server.Shutdown), so that the audit
// log API and the middleware write nothing more. ctx bounds steps 2 to 4:
// what is still queued when it ends is reported as audit.ReasonShutdown.
// Close is safe to call more than once; later calls return the first
// one's error.
func (t *Trail) Close(ctx context.Context) error {
	t.closeOnce.Do(func() {
		t.stopRetention()
		t.retentionDone.Wait()
		var errs []error
		errs = append(errs, t.logger.Close(ctx))
		if c, ok := t.spool.(closer); ok {
			errs = append(errs, c.Close(ctx))
		}
		if t.tee != nil {
			errs = append(errs, t.tee.Close(ctx))
			errs = append(errs, t.closeSinks(ctx))
		}
		if t.sealer != nil {
			errs = append(errs, t.sealer.Close(ctx))
			t.sealerDone.Wait()
		}
		if c, ok := t.store.(closer); ok {
			errs = append(errs, c.Close(ctx))
		}
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}

// closeTee closes the Tee and the sinks of a New that failed after it.
func (t *Trail) closeTee() {
	if t.tee == nil {
		return
	}
	t.tee.Close(context.Background())
	if err := t.closeSinks(context.Background()); err != nil {
		t.onError(err)
	}
}

func (t *Trail) closeSinks(ctx context.Context) error {
	var errs []error
	for _, s := range t.sinks {
		if c, ok := s.(closer); ok {
			errs = append(errs, c.Close(ctx))
		}
	}
	return errors.Join(errs...)
}

// closer is what the Trail closes: a store, a sink. Close has this one
// signature across the module.
type closer interface {
	Close(ctx context.Context) error
}

// HandlerOptions configures Handler. The zero value (and nil) serves the
// API and the viewer with their defaults.
type HandlerOptions struct {
	// API configures the audit log API; Handler sets its BasePath.
	API *api.Options
	// Viewer configures the viewer page; Handler sets its BasePath,
	// APIPath and, with a Sealer, its Status, and its LogKey when empty
	// and the Sealer signs checkpoints (Trail.LogKey), so that the page
	// checks each record's proof. NoViewer leaves it out.
	Viewer   *viewer.Options
	NoViewer bool
	// Tiles serves the Merkle tree of a store that keeps one
	// (storekit.TreeReader) as C2SP tlog-tiles at prefix+"/tlog/"
	// (checkpoint, tiles, entry bundles of the salted commitments),
	// to anyone, without the Authorizer: what monitors, witnesses and
	// an auditor's tlog client follow. It reveals the log's size and how
	// fast it grows, never a record (see chain.TilesHandler).
	Tiles bool
}

// Handler returns one http.Handler that serves, under prefix (a clean
// absolute path such as "/audit-logs"), the audit log API at prefix
// (package api: lists, records, exports; every read recorded by the
// Logger) and the viewer page at prefix+"/viewer/" (package viewer),
// which shows the Sealer's state when there is one. auth says who may
// read what, for both (see api.Authorizer; viewer.Tokens.Authorizer adds
// viewer tokens). Mount it at prefix and at prefix+"/":
//
//	h, err := t.Handler("/audit-logs", auth, nil)
//	mux.Handle("/audit-logs", h)  // the list
//	mux.Handle("/audit-logs/", h) // records, exports, the viewer
func (t *Trail) Handler(prefix string, auth api.Authorizer, opts *HandlerOptions) (http.Handler, error) {
	if !strings.HasPrefix(prefix, "/") || prefix == "/" || path.Clean(prefix) != prefix {
		return nil, fmt.Errorf("audit: trail: Handler: prefix %q must be a clean absolute path such as /audit-logs", prefix)
	}
	q, ok := t.store.(audit.Querier)
	if !ok {
		return nil, fmt.Errorf("audit: trail: Handler: %T cannot be queried (audit.Querier)", t.store)
	}
	var o HandlerOptions
	if opts != nil {
		o = *opts
	}
	var ao api.Options
	if o.API != nil {
		ao = *o.API
	}
	if ao.OnError == nil {
		ao.OnError = t.onError
	}
	ao.BasePath = prefix
	a, err := api.New(q, t.logger, auth, &ao)
	if err != nil {
		return nil, fmt.Errorf("audit: trail: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(ao.BasePath, a)
	mux.Handle(ao.BasePath+"/", a)
	if o.Tiles {
		tr, ok := t.store.(storekit.TreeReader)
		if !ok {
			return nil, fmt.Errorf("audit: trail: Handler: Tiles: %T keeps no Merkle tree (storekit.TreeReader)", t.store)
		}
		th, err := chain.TilesHandler(tr, nil)
		if err != nil {
			return nil, fmt.Errorf("audit: trail: %w", err)
		}
		mux.Handle(prefix+"/tlog/", http.StripPrefix(prefix+"/tlog", th))
	}
	if !o.NoViewer {
		var vo viewer.Options
		if o.Viewer != nil {
			vo = *o.Viewer
		}
		if vo.OnError == nil {
			vo.OnError = t.onError
		}
		vo.BasePath, vo.APIPath = prefix+"/viewer", ao.BasePath
		if t.sealer != nil && vo.Status == nil {
			sl := t.sealer
			vo.Status = func(context.Context) (viewer.ChainStatus, error) { return viewer.SealerStatus(sl.Stats()), nil }
		}
		if vo.LogKey == "" {
			vo.LogKey = t.logKey
		}
		v, err := viewer.New(auth, &vo)
		if err != nil {
			return nil, fmt.Errorf("audit: trail: %w", err)
		}
		mux.Handle(vo.BasePath, v)
		mux.Handle(vo.BasePath+"/", v)
	}
	return mux, nil
}
