package chain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/internal/canonical"
	"github.com/trailmark/audit/internal/safetext"
	"github.com/trailmark/audit/internal/strictjson"
	"github.com/trailmark/audit/storekit"
)

// ExportFormat names the format ExportChain writes.
const ExportFormat = "trailmark.chain.v1"

// chainLine is one line of a chain export.
type chainLine struct {
	Type        string                `json:"type"` // header, seal, unsealed
	Format      string                `json:"format,omitempty"`
	ExportedAt  *time.Time            `json:"exported_at,omitempty"`
	TenantID    string                `json:"tenant_id,omitempty"` // header of ExportTenantChain
	Checkpoints []storekit.Checkpoint `json:"checkpoints,omitempty"`
	Seal        *storekit.Seal        `json:"seal,omitempty"`
	Record      *audit.Record         `json:"record,omitempty"`
	// Redacted marks a seal whose record belongs to another tenant
	// (ExportTenantChain): the record is left out, not missing.
	Redacted bool `json:"redacted,omitempty"`
	// RawDetails and RawChanges hold, as a string, the record's Details
	// or Changes when they are not JSON (an unsealable record, which
	// entered the store around every door); the record's own field is
	// then null. NewExportSource puts them back.
	RawDetails *string `json:"raw_details,omitempty"`
	RawChanges *string `json:"raw_changes,omitempty"`
}

// recordLine returns the line of type typ for s (if any) and r, with
// Details or Changes that are not JSON carried as strings.
func recordLine(typ string, s *storekit.Seal, r *audit.Record) chainLine {
	l := chainLine{Type: typ, Seal: s}
	l.Record, l.RawDetails, l.RawChanges = rawFields(r)
	return l
}

// rawFields returns r as it is written in an export: when its Details or
// Changes are not JSON, a copy without them, and them as strings.
func rawFields(r *audit.Record) (rec *audit.Record, rawDetails, rawChanges *string) {
	if r == nil || (validOrEmpty(r.Details) && validOrEmpty(r.Changes)) {
		return r, nil, nil
	}
	c := *r
	if !validOrEmpty(c.Details) {
		raw := string(c.Details)
		rawDetails, c.Details = &raw, nil
	}
	if !validOrEmpty(c.Changes) {
		raw := string(c.Changes)
		rawChanges, c.Changes = &raw, nil
	}
	return &c, rawDetails, rawChanges
}

// restoreFields puts back into r, read from an export, its Details and
// Changes in the form a store returns them (see rawFields).
func restoreFields(r *audit.Record, rawDetails, rawChanges *string) {
	if r == nil {
		return
	}
	r.Details, r.Changes = exportedJSON(r.Details), exportedJSON(r.Changes)
	if rawDetails != nil {
		r.Details = json.RawMessage(*rawDetails)
	}
	if rawChanges != nil {
		r.Changes = json.RawMessage(*rawChanges)
	}
}

func validOrEmpty(j json.RawMessage) bool { return len(j) == 0 || json.Valid(j) }

// ExportStats counts what ExportChain wrote.
type ExportStats struct {
	Seals, Records, Unsealed uint64
	// Redacted counts the seals ExportTenantChain wrote without their
	// record, which belongs to another tenant.
	Redacted uint64
}

// ExportChain writes everything Verify needs from src as NDJSON, so that
// an auditor can verify a copy without access to the database: a header
// line with the stored checkpoints, one line per seal with the record it
// seals (null if retention removed it), in chain order, and one line per
// record not sealed yet. It streams: memory use does not grow with the
// chain. Verify the copy with NewExportSource, and keep the exported
// checkpoints (WriteCheckpoint) apart from it.
func ExportChain(ctx context.Context, src storekit.ChainSource, w io.Writer) (ExportStats, error) {
	return exportChain(ctx, src, w, nil)
}

// ExportTenantChain writes, as ExportChain does, the whole chain of src,
// but with the records of one tenant only: the records whose TenantID is
// tenantID, sealed or not, in full; at every other position of the chain
// only the seal, marked redacted. Verify (through NewExportSource) then
// checks every link of the chain, the digest of each of the tenant's
// records, and the checkpoints, and counts the redacted positions in
// Report.Redacted instead of reporting their records missing.
//
// A redacted position reveals what its seal holds and the links need:
// its sequence number, the event's ID (a UUIDv7, whose first 48 bits are
// a time in milliseconds), its OccurredAt to the microsecond, the
// SHA-256 digest of the record's canonical form, the chain key's ID and
// the chain value; SealedAt is blanked. So an export tells how many
// events the other tenants had and when, and lets whoever can guess
// every field of a record (its RecordedAt to the microsecond included)
// confirm the guess against its digest; it holds no other tenant's ID,
// actor, action, resource or details. A seal made since seals carry a
// TenantTag also holds that tag, keyed: it tells which redacted positions
// are of one same tenant, not which tenant; and Verify, with the chain
// keys, reports a position of the tenant itself that was redacted. The
// checkpoints keep the other tenants' retention cutoffs as commitments,
// without their IDs. For the seals made before tags, the export proves
// that the tenant's records it holds are exactly as sealed and that the
// chain is whole, not that none of the tenant's records was redacted.
func ExportTenantChain(ctx context.Context, src storekit.ChainSource, tenantID string, w io.Writer) (ExportStats, error) {
	if tenantID == "" {
		return ExportStats{}, errors.New("audit: export tenant chain: a tenant ID is required")
	}
	if err := audit.CheckID(tenantID); err != nil {
		return ExportStats{}, errors.New("audit: export tenant chain: the tenant ID " + strings.TrimPrefix(err.Error(), "audit: id "))
	}
	return exportChain(ctx, src, w, &tenantID)
}

// exportChain writes src; with tenant set, the records of that tenant
// only.
func exportChain(ctx context.Context, src storekit.ChainSource, w io.Writer, tenant *string) (ExportStats, error) {
	var st ExportStats
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(safetext.NewJSONWriter(bw)) // C1 and bidi controls as \uXXXX
	enc.SetEscapeHTML(false)                           // records as stored: <, > and & unescaped
	cps, err := src.Checkpoints(ctx)
	if err != nil {
		return st, fmt.Errorf("audit: export chain: %w", err)
	}
	now := time.Now().UTC()
	header := chainLine{Type: "header", Format: ExportFormat, ExportedAt: &now, Checkpoints: cps}
	if tenant != nil {
		header.TenantID = *tenant
		// the other tenants' retention cutoffs keep their commitments
		// (the signatures cover them), not their IDs
		for i := range cps {
			for j, e := range cps[i].TenantCutoffs {
				if e.TenantID != *tenant {
					cps[i].TenantCutoffs[j] = redacted(e)
				}
			}
		}
	}
	if err := enc.Encode(header); err != nil {
		return st, fmt.Errorf("audit: export chain: %w", err)
	}
	err = src.ScanChain(ctx, 0, func(s storekit.Seal, r *audit.Record) error {
		st.Seals++
		if r != nil && tenant != nil && r.TenantID != *tenant {
			st.Redacted++
			s.SealedAt = time.Time{}
			return enc.Encode(chainLine{Type: "seal", Seal: &s, Redacted: true})
		}
		if r != nil {
			st.Records++
		}
		return enc.Encode(recordLine("seal", &s, r))
	})
	if err != nil {
		return st, fmt.Errorf("audit: export chain: %w", err)
	}
	err = src.ScanUnsealed(ctx, func(r *audit.Record) error {
		if tenant != nil && r.TenantID != *tenant {
			return nil
		}
		st.Unsealed++
		return enc.Encode(recordLine("unsealed", nil, r))
	})
	if err != nil {
		return st, fmt.Errorf("audit: export chain: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("audit: export chain: %w", err)
	}
	return st, nil
}

// NewExportSource returns a ChainSource that reads an export written by
// ExportChain. open is called once per pass over the export (Verify makes
// three), and must return it from the start each time: os.Open of the
// file, for instance.
func NewExportSource(open func() (io.ReadCloser, error)) storekit.ChainSource {
	return exportSource{open}
}

type exportSource struct {
	open func() (io.ReadCloser, error)
}

// maxExportLine bounds one line of an export (a seal and its record).
const maxExportLine = 64 << 20

// scan calls fn for each line of the export. A last line cut short (no
// newline, and not JSON) is ignored: a cut tail shows as a shorter chain,
// which the checkpoints tell.
func (e exportSource) scan(ctx context.Context, fn func(l *chainLine) (stop bool, err error)) (err error) {
	rc, err := e.open()
	if err != nil {
		return fmt.Errorf("audit: opening export: %w", err)
	}
	defer func() {
		if cerr := rc.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	cut := false
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 256<<10), maxExportLine)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			cut = true
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	n := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		n++
		var l chainLine
		if err := json.Unmarshal(line, &l); err != nil {
			if cut && n > 1 {
				return nil
			}
			return fmt.Errorf("audit: export line %d: %w", n, err)
		}
		// a line that encoding/json reads one way and jq another would
		// verify what its reader is not shown
		if err := strictjson.Check(line, "details", "changes"); err != nil {
			return fmt.Errorf("audit: export line %d: %w", n, err)
		}
		if n == 1 && (l.Type != "header" || l.Format != ExportFormat) {
			return fmt.Errorf("audit: not a %s export (first line: type %q, format %q)", ExportFormat, l.Type, l.Format)
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		restoreFields(l.Record, l.RawDetails, l.RawChanges)
		stop, err := fn(&l)
		if err != nil || stop {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("audit: export line %d: %w", n+1, err)
	}
	if n == 0 {
		return errors.New("audit: export is empty")
	}
	return nil
}

// exportedJSON returns Details or Changes as read from an export in the
// form a store returns them: canonical, and nil where the export says
// null. JSON that is not canonical and cannot be made so is kept as it is
// (Digest reports it).
func exportedJSON(j json.RawMessage) json.RawMessage {
	if string(j) == "null" {
		return nil
	}
	if c, err := canonical.JSON(j); err == nil {
		return c
	}
	return j
}

// exportTenant returns the tenant of an export of ExportTenantChain, ""
// for an export of the whole chain.
func (e exportSource) exportTenant(ctx context.Context) (string, error) {
	var t string
	err := e.scan(ctx, func(l *chainLine) (bool, error) {
		t = l.TenantID
		return true, nil
	})
	return t, err
}

// snapshotTime returns when the export was made.
func (e exportSource) snapshotTime(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := e.scan(ctx, func(l *chainLine) (bool, error) {
		if l.ExportedAt != nil {
			t = *l.ExportedAt
		}
		return true, nil
	})
	return t, err
}

func (e exportSource) Checkpoints(ctx context.Context) ([]storekit.Checkpoint, error) {
	var cps []storekit.Checkpoint
	err := e.scan(ctx, func(l *chainLine) (bool, error) {
		cps = l.Checkpoints
		return true, nil
	})
	return cps, err
}

func (e exportSource) ScanChain(ctx context.Context, from uint64, fn func(s storekit.Seal, r *audit.Record) error) error {
	return e.scanChain(ctx, from, func(s storekit.Seal, r *audit.Record, _ bool) error { return fn(s, r) })
}

// scanChain is ScanChain that also says whether a seal's record was
// redacted (ExportTenantChain) rather than missing.
func (e exportSource) scanChain(ctx context.Context, from uint64, fn func(s storekit.Seal, r *audit.Record, redacted bool) error) error {
	tenant := ""
	return e.scan(ctx, func(l *chainLine) (bool, error) {
		switch {
		case l.Type == "header":
			tenant = l.TenantID
		case l.Type == "seal" && l.Redacted && tenant == "":
			return false, errors.New("audit: export: a redacted seal line in an export of the whole chain")
		case l.Type == "seal" && l.Seal == nil:
			return false, errors.New("audit: export: seal line without a seal")
		case l.Type == "seal" && l.Redacted && l.Record != nil:
			return false, errors.New("audit: export: a redacted seal line with a record")
		case l.Type == "seal" && l.Seal.Seq >= from:
			return false, fn(*l.Seal, l.Record, l.Redacted)
		}
		return false, nil
	})
}

func (e exportSource) ScanUnsealed(ctx context.Context, fn func(r *audit.Record) error) error {
	return e.scan(ctx, func(l *chainLine) (bool, error) {
		if l.Type == "unsealed" && l.Record != nil {
			return false, fn(l.Record)
		}
		return false, nil
	})
}

// WriteCheckpoint appends c to w as one line of JSON: the form in which to
// keep checkpoints off the database. ReadCheckpoints reads them back.
func WriteCheckpoint(w io.Writer, c storekit.Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("audit: write checkpoint: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit: write checkpoint: %w", err)
	}
	return nil
}

// ReadCheckpoints reads the checkpoints WriteCheckpoint wrote.
func ReadCheckpoints(r io.Reader) ([]storekit.Checkpoint, error) {
	var cps []storekit.Checkpoint
	dec := json.NewDecoder(r)
	for {
		var c storekit.Checkpoint
		if err := dec.Decode(&c); errors.Is(err, io.EOF) {
			return cps, nil
		} else if err != nil {
			return nil, fmt.Errorf("audit: read checkpoints: entry %d: %w", len(cps)+1, err)
		}
		cps = append(cps, c)
	}
}
