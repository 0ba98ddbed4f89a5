package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/chain/checkpoint"
)

// createOutput opens path for writing, created or truncated with mode
// 0600 (it holds records), or stdout for "-".
func (c cli) createOutput(path string) (io.WriteCloser, error) {
	if path == "-" {
		return nopCloser{c.stdout}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil { // a file that was there keeps its mode otherwise
		f.Close()
		return nil, err
	}
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// parseTimes parses the RFC 3339 values of --since and --until; an empty
// value is the zero time.
func parseTimes(since, until string) (s, u time.Time, err error) {
	for _, t := range []struct {
		name, v string
		dst     *time.Time
	}{{"since", since, &s}, {"until", until, &u}} {
		if t.v == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339Nano, t.v); err != nil {
			return s, u, fmt.Errorf("--%s: %w", t.name, err)
		}
	}
	return s, u, nil
}

// evidence writes a tenant's evidence: its records, their salts and
// inclusion proofs against the newest signed checkpoint.
func (c cli) evidence(ctx context.Context, args []string) error {
	fs := c.flags("evidence")
	var db dbFlags
	db.register(fs, c.secrets)
	tenant := fs.String("tenant-id", "", "the tenant (required)")
	since := fs.String("since", "", "RFC 3339 time, inclusive: the records that occurred since")
	until := fs.String("until", "", "RFC 3339 time, exclusive")
	out := fs.String("o", "-", "write the evidence here, created with mode 0600 (- for stdout): it holds the tenant's records and salts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("--tenant-id is required")
	}
	var o chain.EvidenceOptions
	var err error
	if o.Since, o.Until, err = parseTimes(*since, *until); err != nil {
		return err
	}
	s, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	w, err := c.createOutput(*out)
	if err != nil {
		return err
	}
	st, err := chain.WriteTenantEvidence(ctx, s, *tenant, &o, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "evidence of %d record(s) against the checkpoint of %d records", st.Records, st.TreeSize)
	if st.Pending > 0 {
		fmt.Fprintf(c.stderr, "; %d record(s) not in it yet left out", st.Pending)
	}
	fmt.Fprintln(c.stderr)
	return nil
}

// verifyEvidence checks a tenant's evidence with the log's public key
// only.
func (c cli) verifyEvidence(_ context.Context, args []string) error {
	fs := c.flags("verify-evidence")
	in := fs.String("evidence", "-", "the evidence (auditctl evidence, or GET {base}/evidence); - for stdin")
	tenant := fs.String("tenant-id", "", "the tenant whose evidence it must be (required)")
	keep := fs.String("keep", "", "write the verified checkpoint here, to check later that the log only grew (auditctl consistency --old)")
	earlier := fs.String("earlier", "", "an earlier evidence of the tenant, kept: report its records missing from this one, and a history rewritten since")
	keys := registerLogKey(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" {
		return errors.New("--tenant-id is required")
	}
	v, err := keys.verifier(c)
	if err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	var rep chain.EvidenceReport
	if *earlier != "" {
		f, oerr := os.Open(*earlier)
		if oerr != nil {
			return oerr
		}
		defer f.Close()
		rep, err = chain.CompareTenantEvidence(f, r, *tenant, v)
	} else {
		rep, err = chain.VerifyTenantEvidence(r, *tenant, v)
	}
	if errors.Is(err, chain.ErrProof) || errors.Is(err, checkpoint.ErrUnverified) {
		if errors.Is(err, chain.ErrEarlierEvidence) {
			fmt.Fprintf(c.stdout, "the earlier evidence (%s) FAILED: %d finding(s)\n", *earlier, rep.FindingCount)
		} else {
			fmt.Fprintf(c.stdout, "evidence FAILED: %d finding(s)\n", rep.FindingCount)
		}
		for _, f := range rep.Findings {
			fmt.Fprintf(c.stdout, "  %s\n", f)
		}
		if n := rep.FindingCount - int64(len(rep.Findings)); n > 0 {
			fmt.Fprintf(c.stdout, "  … and %d more\n", n)
		}
		return proofFailed{err}
	}
	if err != nil {
		return err
	}
	cp := rep.Checkpoint
	fmt.Fprintf(c.stdout, "evidence OK: %d record(s) of tenant %q, each in the tree of %d records of %s, root %s, signed by %s\n",
		rep.Records, rep.TenantID, cp.Size, cp.Origin, cp.Hash, v.Name())
	if rep.Pending > 0 {
		fmt.Fprintf(c.stdout, "  the log says %d record(s) of the tenant are not in that checkpoint yet\n", rep.Pending)
	}
	if *keep != "" {
		if err := c.writeOutput(*keep, []byte(rep.CheckpointNote)); err != nil {
			return err
		}
	}
	return nil
}
