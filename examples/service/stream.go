package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/stream"
)

// streamConfig says where the service streams its audit records (from
// STREAM_URL, STREAM_SECRET and STREAM_FORMAT).
type streamConfig struct {
	URL    string
	Secret string // the HMAC key; with FormatSplunk, the HEC token
	Format string // ndjson (default), ocsf or splunk
}

// teeBackend is a backend whose writes go through a Tee: queries still
// read the primary.
type teeBackend struct {
	backend
	tee *stream.Tee
}

func (b teeBackend) Append(ctx context.Context, records ...audit.Record) error {
	return b.tee.Append(ctx, records...)
}

// withStream returns store unchanged when cfg.URL is empty; otherwise
// store behind a Tee that streams to cfg.URL, and a function that drains
// and closes the stream (call it after the Logger's Close, before the
// store's). Drops are printed to log.
func withStream(store backend, cfg streamConfig, log io.Writer) (backend, func(), error) {
	if cfg.URL == "" {
		return store, func() {}, nil
	}
	opts := &stream.HTTPOptions{Format: stream.Format(cfg.Format)}
	if opts.Format == stream.FormatSplunk {
		opts.SplunkToken = cfg.Secret
	} else if cfg.Secret != "" {
		opts.Secret = []byte(cfg.Secret)
	}
	sink, err := stream.NewHTTP(cfg.URL, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: example: STREAM_URL: %w", err)
	}
	tee, err := stream.NewTee(store, []stream.Stream{{Name: "stream", Sink: sink}},
		&stream.TeeOptions{OnError: func(err error) { fmt.Fprintln(log, err) }})
	if err != nil {
		sink.Close()
		return nil, nil, err
	}
	closeStream := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := errors.Join(tee.Close(ctx), sink.Close()); err != nil {
			fmt.Fprintln(log, err)
		}
	}
	return teeBackend{backend: store, tee: tee}, closeStream, nil
}
