package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/chain/witness"
	"github.com/trailmark/audit/internal/strictjson"
)

// maxProofFile bounds what verify-proof and consistency read.
const maxProofFile = 16 << 20

// readInput reads path, or stdin for "-", up to maxProofFile bytes.
func readInput(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxProofFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxProofFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxProofFile)
	}
	return b, nil
}

// writeOutput writes b to path (created with mode 0600, for it may hold a
// record and its salt), or to stdout for "-".
func (c cli) writeOutput(path string, b []byte) error {
	if path == "-" {
		_, err := c.stdout.Write(b)
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// logKeyFlags are the flags that name the log's public key: a vkey, or the
// signer of a key file (whose public half only is used).
type logKeyFlags struct {
	vkey, keys, origin *string
}

func registerLogKey(fs *flag.FlagSet) logKeyFlags {
	return logKeyFlags{
		vkey:   fs.String("vkey", "", "the log's public key as a signed-note verifier key (auditctl vkey prints it); or --keys"),
		keys:   fs.String("keys", "", "take the public key of this key file's signer instead of --vkey"),
		origin: fs.String("origin", chain.DefaultOrigin, "the log's origin, with --keys"),
	}
}

func (k logKeyFlags) verifier(c cli) (note.Verifier, error) {
	switch {
	case *k.vkey != "" && *k.keys != "":
		return nil, errors.New("pass --vkey or --keys, not both")
	case *k.vkey != "":
		v, err := note.NewVerifier(strings.TrimSpace(*k.vkey))
		if err != nil {
			return nil, fmt.Errorf("--vkey: %w", err)
		}
		return v, nil
	case *k.keys != "" || os.Getenv("AUDIT_KEYS") != "":
		kr, err := c.readKeyring(*k.keys)
		if err != nil {
			return nil, err
		}
		if kr.SigningKey() == nil {
			return nil, errors.New("the key file has no signer")
		}
		return chain.LogVerifier(*k.origin, kr.SigningKey().Key.Public().(ed25519.PublicKey))
	}
	return nil, errors.New("no public key: pass --vkey (or --keys)")
}

// vkey prints the log's public key as a signed-note verifier key, for
// whoever checks proofs.
func (c cli) vkey(_ context.Context, args []string) error {
	fs := c.flags("vkey")
	keys := keysFlag(fs)
	origin := fs.String("origin", chain.DefaultOrigin, "the log's origin (chain.SealerOptions.Origin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kr, err := c.readKeyring(*keys)
	if err != nil {
		return err
	}
	if kr.SigningKey() == nil {
		return errors.New("the key file has no signer")
	}
	vk, err := chain.VerifierKey(*origin, kr.SigningKey().Key.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, vk)
	return nil
}

// proof prints the inclusion proof of a record, with the record.
func (c cli) proof(ctx context.Context, args []string) error {
	fs := c.flags("proof")
	var db dbFlags
	db.register(fs, c.secrets)
	id := fs.String("id", "", "the record's ID")
	out := fs.String("o", "-", "write the proof here, created with mode 0600 (- for stdout): it holds the record and its salt")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rid, err := uuid.Parse(*id)
	if err != nil {
		return fmt.Errorf("--id: %w", err)
	}
	s, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	rec, err := s.Get(ctx, rid)
	if err != nil {
		return err
	}
	p, err := chain.Prove(ctx, s, rid)
	if err != nil {
		return err
	}
	p.Record = &rec
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return c.writeOutput(*out, append(b, '\n'))
}

// proofFailed is returned by verify-proof and consistency when a proof
// does not hold: exit status 1, as verify's problems.
type proofFailed struct{ err error }

func (p proofFailed) Error() string { return p.err.Error() }

// verifyProof checks an inclusion proof with the log's public key only.
func (c cli) verifyProof(_ context.Context, args []string) error {
	fs := c.flags("verify-proof")
	in := fs.String("proof", "-", "the proof (auditctl proof, or GET {base}/{id}/proof); - for stdin")
	recFile := fs.String("record", "", "check this record (JSON) rather than the one the proof carries")
	keys := registerLogKey(fs)
	var witnessKeys logFlags
	fs.Var(&witnessKeys, "witness", "a witness's verifier key (`VKEY`, as auditctl witness prints it): require its cosignature of the proof's checkpoint (repeat for more)")
	quorum := fs.Int("quorum", 0, "how many of the --witness cosignatures are required (default: all of them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	v, err := keys.verifier(c)
	if err != nil {
		return err
	}
	var witnesses []note.Verifier
	for _, k := range witnessKeys {
		wv, err := witness.NewVerifier(k)
		if err != nil {
			return fmt.Errorf("--witness %q: %w", k, err)
		}
		witnesses = append(witnesses, wv)
	}
	if *quorum == 0 {
		*quorum = len(witnesses)
	}
	if *quorum < 0 || *quorum > len(witnesses) {
		return fmt.Errorf("--quorum %d: between 1 and the %d --witness given", *quorum, len(witnesses))
	}
	b, err := readInput(*in)
	if err != nil {
		return err
	}
	var p chain.InclusionProof
	if err := json.Unmarshal(b, &p); errors.Is(err, strictjson.ErrAmbiguous) {
		// a record that reads one way here and another to jq: forged
		fmt.Fprintf(c.stdout, "proof FAILED: %s: %v\n", *in, err)
		return proofFailed{err}
	} else if err != nil {
		return fmt.Errorf("%s: not a proof: %w", *in, err)
	}
	rec := p.Record
	if *recFile != "" {
		rb, err := readInput(*recFile)
		if err != nil {
			return err
		}
		rec = new(audit.Record)
		// strictly, as the proof itself is read (InclusionProof.UnmarshalJSON)
		if err := strictjson.Unmarshal(rb, rec, "details", "changes"); errors.Is(err, strictjson.ErrAmbiguous) {
			fmt.Fprintf(c.stdout, "proof FAILED: %s: %v\n", *recFile, err)
			return proofFailed{err}
		} else if err != nil {
			return fmt.Errorf("%s: not a record: %w", *recFile, err)
		}
	}
	if rec == nil {
		return errors.New("the proof carries no record: pass --record")
	}
	cp, err := chain.VerifyInclusion(rec, &p, v)
	if err == nil && len(witnesses) > 0 {
		_, err = chain.VerifyWitnessed([]byte(p.Checkpoint), v, witnesses, *quorum)
	}
	if errors.Is(err, chain.ErrProof) || errors.Is(err, checkpoint.ErrUnverified) || errors.Is(err, witness.ErrTooFewCosignatures) {
		fmt.Fprintf(c.stdout, "proof FAILED: %v\n", err)
		return proofFailed{err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "proof OK: record %s is leaf %d of the tree of %d records of %s, root %s, signed by %s",
		rec.ID, p.Index, cp.Size, cp.Origin, cp.Hash, v.Name())
	if len(witnesses) > 0 {
		fmt.Fprintf(c.stdout, ", cosigned by at least %d of %d witnesses (--quorum)", *quorum, len(witnesses))
	}
	fmt.Fprintln(c.stdout)
	return nil
}

// consistency proves, from the database, that the log only grew since a
// checkpoint: it prints the proof, or, with a public key and the old
// checkpoint, checks it.
func (c cli) consistency(ctx context.Context, args []string) error {
	fs := c.flags("consistency")
	var db dbFlags
	db.register(fs, c.secrets)
	from := fs.Int64("from", 0, "the size of the older tree (default: that of --old)")
	to := fs.Int64("to", 0, "the size of the newer tree: a checkpoint's (default: the newest)")
	old := fs.String("old", "", "a checkpoint kept from before (a signed note): check that the log only grew since (needs --vkey or --keys)")
	keys := registerLogKey(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var oldNote []byte
	if *old != "" {
		b, err := readInput(*old)
		if err != nil {
			return err
		}
		text, ok := checkpoint.Text(b)
		if !ok {
			return fmt.Errorf("%s: not a signed note", *old)
		}
		body, err := checkpoint.Parse(text)
		if err != nil {
			return fmt.Errorf("%s: %w", *old, err)
		}
		if *from == 0 {
			*from = body.Size
		}
		oldNote = b
	}
	if *from <= 0 {
		return errors.New("pass --from or --old")
	}
	s, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	p, err := chain.ProveConsistency(ctx, s, *from, *to)
	if err != nil {
		return err
	}
	if oldNote == nil {
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(append(b, '\n'))
		return err
	}
	v, err := keys.verifier(c)
	if err != nil {
		return err
	}
	cp, err := chain.VerifyConsistency(&p, oldNote, v)
	if errors.Is(err, chain.ErrProof) || errors.Is(err, checkpoint.ErrUnverified) {
		fmt.Fprintf(c.stdout, "consistency FAILED: %v\n", err)
		return proofFailed{err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "consistency OK: the tree of %d records is a prefix of the tree of %d, root %s\n", p.From, cp.Size, cp.Hash)
	return nil
}
