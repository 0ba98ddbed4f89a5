package main

import (
	"fmt"

	"github.com/trailmark/audit/siem"
)

// streamConfig says where the service streams its audit records (from
// STREAM_URL, STREAM_SECRET and STREAM_FORMAT).
type streamConfig struct {
	URL    string
	Secret string // the HMAC key; with FormatSplunk, the HEC token
	Format string // ndjson (default), ocsf or splunk
}

// streams returns the stream to cfg.URL, or none when cfg.URL is empty.
// The service's Trail runs it behind a siem.Tee and closes it.
func streams(cfg streamConfig) ([]siem.Stream, error) {
	if cfg.URL == "" {
		return nil, nil
	}
	opts := &siem.HTTPOptions{Format: siem.Format(cfg.Format)}
	if opts.Format == siem.FormatSplunk {
		opts.SplunkToken = cfg.Secret
	} else if cfg.Secret != "" {
		opts.Secret = []byte(cfg.Secret)
	}
	sink, err := siem.NewHTTP(cfg.URL, opts)
	if err != nil {
		return nil, fmt.Errorf("audit: example: STREAM_URL: %w", err)
	}
	return []siem.Stream{{Name: "stream", Sink: sink}}, nil
}
