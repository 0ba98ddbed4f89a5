package chain

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/internal/safetext"
	"github.com/trailmark/audit/internal/strictjson"
	"github.com/trailmark/audit/storekit"
)

// EvidenceFormat names the format WriteTenantEvidence writes.
const EvidenceFormat = "trailmark.tenant-evidence.v1"

// maxEvidenceLine bounds one line of a bundle (a record and its proof) as
// VerifyTenantEvidence reads it: as a line of a chain export, room for a
// record's Details and Changes (audit.MaxRecordJSONBytes each) escaped.
const maxEvidenceLine = maxExportLine

// maxEvidenceHashes bounds the audit path of one record: a tree of 2^63
// leaves has paths of 63 hashes.
const maxEvidenceHashes = 63

// maxEvidenceFindings bounds the findings an EvidenceReport lists; it
// counts them all.
const maxEvidenceFindings = 100

// EvidenceSource is what WriteTenantEvidence reads: the records, by a
// tenant's filter, and the Merkle tree. The stores of this module that
// seal (memory, SQLite, PostgreSQL) are EvidenceSources.
type EvidenceSource interface {
	audit.Querier
	storekit.TreeReader
}

// EvidenceOptions selects the records of a tenant's evidence. The zero
// value selects them all.
type EvidenceOptions struct {
	// Since and Until bound the records' OccurredAt, as audit.Filter's:
	// Since <= OccurredAt < Until; a zero time leaves that side open.
	Since, Until time.Time
	// Now is the clock that dates the bundle (its created_at). Default
	// time.Now.
	Now func() time.Time
}

// EvidenceStats counts what WriteTenantEvidence wrote.
type EvidenceStats struct {
	// TreeSize is the size of the tree of the bundle's checkpoint.
	TreeSize int64
	// Records counts the records written, each with its proof.
	Records int64
	// Pending counts the tenant's records left out because the bundle's
	// checkpoint does not cover them yet: not sealed yet, or sealed after
	// it. A later bundle holds them.
	Pending int64
}

// evidenceLine is one line of a bundle: a header, a record with its
// proof, or the end.
type evidenceLine struct {
	Type string `json:"type"` // header, record, end

	// header
	Format     string     `json:"format,omitempty"`
	TenantID   string     `json:"tenant_id,omitempty"`
	Since      *time.Time `json:"since,omitempty"`
	Until      *time.Time `json:"until,omitempty"`
	CreatedAt  *time.Time `json:"created_at,omitempty"`
	Checkpoint string     `json:"checkpoint,omitempty"`

	// record
	Index    *int64        `json:"index,omitempty"`
	TreeSize int64         `json:"tree_size,omitempty"`
	Salt     []byte        `json:"salt,omitempty"`
	Hashes   [][]byte      `json:"hashes,omitempty"`
	Record   *audit.Record `json:"record,omitempty"`
	// RawDetails and RawChanges carry Details or Changes that are not
	// JSON, as the chain export does.
	RawDetails *string `json:"raw_details,omitempty"`
	RawChanges *string `json:"raw_changes,omitempty"`

	// end
	Records *int64 `json:"records,omitempty"`
	Pending *int64 `json:"pending,omitempty"`
}

// cachedHashes is a tlog.HashReader that keeps the first hashes it read,
// up to a bound: the upper levels of the tree, which every proof of a
// bundle shares, are read once. It is safe for concurrent use.
type cachedHashes struct {
	r     tlog.HashReader
	mu    sync.Mutex
	cache map[int64]tlog.Hash
}

const maxCachedHashes = 1 << 16

func (c *cachedHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var miss []int64
	c.mu.Lock()
	for i, x := range indexes {
		if h, ok := c.cache[x]; ok {
			out[i] = h
		} else {
			miss = append(miss, x)
		}
	}
	c.mu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	hs, err := c.r.ReadHashes(miss)
	if err != nil {
		return nil, err
	}
	read := make(map[int64]tlog.Hash, len(miss))
	c.mu.Lock()
	for i, x := range miss {
		read[x] = hs[i]
		if len(c.cache) < maxCachedHashes {
			c.cache[x] = hs[i]
		}
	}
	c.mu.Unlock()
	for i, x := range indexes {
		if h, ok := read[x]; ok {
			out[i] = h
		}
	}
	return out, nil
}

// evidenceWorkers is how many of a page's records WriteTenantEvidence
// proves at once: each proof is two reads of the store (the leaf, the
// path), which a database answers in parallel.
const evidenceWorkers = 8

// proveAll returns the record lines of recs against the tree of size
// (nil for a record the tree does not cover yet), proving up to
// evidenceWorkers records at once. Its goroutines end before it returns.
func proveAll(ctx context.Context, store storekit.TreeReader, hr tlog.HashReader, size int64, recs []audit.Record) ([]*evidenceLine, error) {
	out := make([]*evidenceLine, len(recs))
	errs := make([]error, len(recs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(evidenceWorkers, len(recs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = proveOne(ctx, store, hr, size, &recs[i])
			}
		}()
	}
	for i := range recs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

// proveOne returns the record line of rec, or nil if the tree of size
// does not cover it.
func proveOne(ctx context.Context, store storekit.TreeReader, hr tlog.HashReader, size int64, rec *audit.Record) (*evidenceLine, error) {
	leaf, err := leafOf(ctx, store, rec.ID, rec) // never another record's salt (see ProveRecord)
	if errors.Is(err, audit.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", rec.ID, err)
	}
	index := int64(leaf.Seq) - 1
	if leaf.Salt == nil || index < 0 || index >= size {
		return nil, nil
	}
	p, err := tlog.ProveRecord(size, index, hr)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", rec.ID, err)
	}
	l := &evidenceLine{Type: "record", Index: &index, TreeSize: size, Salt: leaf.Salt, Hashes: hashesOut(p)}
	l.Record, l.RawDetails, l.RawChanges = rawFields(rec)
	return l, nil
}

// WriteTenantEvidence writes to w the evidence of one tenant's records: a
// bundle that the tenant checks with the log's public key alone
// (VerifyTenantEvidence), and that holds nothing of any other tenant's
// records but hashes.
//
// The bundle is NDJSON (format EvidenceFormat, docs/tenants.md): a header
// with the tenant, the range and the newest signed checkpoint of the
// tree; one line per record of the tenant (Record.TenantID is tenantID,
// OccurredAt within opts' range, newest first) that the checkpoint
// covers, with its leaf index, its salt and its inclusion proof against
// that one checkpoint; and an end line with the counts. The tenant's
// records the checkpoint does not cover yet are counted as pending and
// left out. It streams: memory use does not grow with the records (but
// for a bounded cache of the tree's upper hashes); it proves up to 8 of a
// page's records at once, so store must be safe for concurrent use (the
// stores of this module are).
//
// The salts open the tenant's own commitments, never another's; the
// proofs' hashes are inner nodes of the tree and other records' leaf
// hashes, which are salted commitments: they do not let anyone confirm a
// guess of another tenant's record.
//
// It returns an error wrapping audit.ErrNotFound, having written nothing,
// when the store has no signed checkpoint yet. It does not check who may
// read the tenant's records: that is the caller's.
func WriteTenantEvidence(ctx context.Context, store EvidenceSource, tenantID string, opts *EvidenceOptions, w io.Writer) (EvidenceStats, error) {
	var st EvidenceStats
	if store == nil || w == nil {
		return st, errors.New("audit: tenant evidence: nil store or writer")
	}
	if err := checkTenant(tenantID); err != nil {
		return st, err
	}
	var o EvidenceOptions
	if opts != nil {
		o = *opts
	}
	f := audit.Filter{TenantID: tenantID, Since: o.Since, Until: o.Until, Limit: audit.MaxLimit}
	if err := f.Validate(); err != nil {
		return st, fmt.Errorf("audit: tenant evidence: %w", err)
	}
	c, err := treeCheckpoint(ctx, store, -1)
	if err != nil {
		return st, fmt.Errorf("audit: tenant evidence: %w", err)
	}
	st.TreeSize = c.Size
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(safetext.NewJSONWriter(bw))
	enc.SetEscapeHTML(false)
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now().UTC()
	header := evidenceLine{Type: "header", Format: EvidenceFormat, TenantID: tenantID, CreatedAt: &now, Checkpoint: string(c.Note)}
	if !o.Since.IsZero() {
		s := o.Since.UTC().Truncate(time.Microsecond) // as the filter has it
		header.Since = &s
	}
	if !o.Until.IsZero() {
		u := o.Until.UTC().Truncate(time.Microsecond)
		header.Until = &u
	}
	if err := enc.Encode(header); err != nil {
		return st, fmt.Errorf("audit: tenant evidence: %w", err)
	}
	hr := &cachedHashes{r: hashReader(ctx, store), cache: map[int64]tlog.Hash{}}
	for {
		page, err := store.Query(ctx, f)
		if err != nil {
			return st, fmt.Errorf("audit: tenant evidence: %w", err)
		}
		recs := slices.DeleteFunc(page.Records, func(r audit.Record) bool {
			return r.TenantID != tenantID // the store's filter let it through: never another tenant's
		})
		lines, err := proveAll(ctx, store, hr, c.Size, recs)
		if err != nil {
			return st, fmt.Errorf("audit: tenant evidence: %w", err)
		}
		for _, l := range lines {
			if l == nil {
				st.Pending++
				continue
			}
			if err := enc.Encode(l); err != nil {
				return st, fmt.Errorf("audit: tenant evidence: %w", err)
			}
			st.Records++
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if err := enc.Encode(evidenceLine{Type: "end", Records: &st.Records, Pending: &st.Pending}); err != nil {
		return st, fmt.Errorf("audit: tenant evidence: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("audit: tenant evidence: %w", err)
	}
	return st, nil
}

// checkTenant reports whether tenantID can name a tenant's evidence.
func checkTenant(tenantID string) error {
	if tenantID == "" {
		return errors.New("audit: tenant evidence: a tenant ID is required")
	}
	if err := audit.CheckID(tenantID); err != nil {
		return errors.New("audit: tenant evidence: the tenant ID " + strings.TrimPrefix(err.Error(), "audit: id "))
	}
	return nil
}

// ErrEarlierEvidence is the category of the errors CompareTenantEvidence
// returns when the earlier bundle does not verify: the report is then the
// earlier bundle's.
var ErrEarlierEvidence = errors.New("audit: compare tenant evidence: the earlier evidence does not verify")

// EvidenceFindingKind says what is wrong with a bundle.
type EvidenceFindingKind string

// The kinds of EvidenceFinding.
const (
	// EvidenceMalformed: the bundle, or one of its lines, is not of
	// EvidenceFormat.
	EvidenceMalformed EvidenceFindingKind = "malformed"
	// EvidenceBadCheckpoint: the bundle's checkpoint is not signed by
	// the log's key (forged, or of another log); no record is checked.
	EvidenceBadCheckpoint EvidenceFindingKind = "bad_checkpoint"
	// EvidenceWrongTenant: the bundle says it is of another tenant.
	EvidenceWrongTenant EvidenceFindingKind = "wrong_tenant"
	// EvidenceForeignRecord: a record of another tenant (its TenantID,
	// which its leaf commits to, is not the tenant's).
	EvidenceForeignRecord EvidenceFindingKind = "foreign_record"
	// EvidenceOtherCheckpoint: a proof made against another checkpoint
	// than the bundle's (a tree of another size).
	EvidenceOtherCheckpoint EvidenceFindingKind = "other_checkpoint"
	// EvidenceBadProof: the record is not the leaf at its index of the
	// checkpoint's tree: it was changed after sealing, or the proof, the
	// salt or the index is not the log's.
	EvidenceBadProof EvidenceFindingKind = "bad_proof"
	// EvidenceDuplicateIndex: two records claim one leaf.
	EvidenceDuplicateIndex EvidenceFindingKind = "duplicate_index"
	// EvidenceOutOfRange: a record outside the bundle's since/until.
	EvidenceOutOfRange EvidenceFindingKind = "out_of_range"
	// EvidenceTruncated: the bundle has no end line, or its end line
	// counts other records than it holds.
	EvidenceTruncated EvidenceFindingKind = "truncated"
	// EvidenceForked (CompareTenantEvidence): an earlier bundle and this
	// one prove different records at one leaf, or trees that cannot both
	// be the log's: the log rewrote its history.
	EvidenceForked EvidenceFindingKind = "forked"
	// EvidenceMissingRecord (CompareTenantEvidence): a record of an
	// earlier bundle, within this one's range, is not in this one.
	EvidenceMissingRecord EvidenceFindingKind = "missing_record"
)

// EvidenceFinding is one thing wrong with a bundle.
type EvidenceFinding struct {
	Kind EvidenceFindingKind `json:"kind"`
	// Line is the bundle's line, from 1; 0 for a finding of
	// CompareTenantEvidence that no line of the newer bundle holds.
	Line int64 `json:"line"`
	// Index is the leaf the line claims, -1 for none.
	Index int64 `json:"index"`
	// RecordID is the record the line holds, if any.
	RecordID uuid.UUID `json:"record_id,omitzero"`
	Detail   string    `json:"detail"`
}

// String returns the finding for a reader.
func (f EvidenceFinding) String() string {
	s := string(f.Kind)
	if f.Line > 0 {
		s += fmt.Sprintf(" at line %d", f.Line)
	}
	if f.Index >= 0 {
		s += fmt.Sprintf(" (leaf %d", f.Index)
		if f.RecordID != uuid.Nil {
			s += ", record " + f.RecordID.String()
		}
		s += ")"
	}
	return s + ": " + f.Detail
}

// EvidenceReport is what VerifyTenantEvidence found.
type EvidenceReport struct {
	TenantID string `json:"tenant_id"`
	// Checkpoint is the bundle's checkpoint, once its signature verified:
	// keep the newest you saw, and ask the log for consistency from it
	// next time (ProveConsistency, VerifyConsistency).
	Checkpoint checkpoint.Checkpoint `json:"checkpoint"`
	// CheckpointNote is its signed note.
	CheckpointNote string `json:"checkpoint_note,omitempty"`
	// Since and Until are the range the bundle says it covers.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Records counts the records whose proof holds: each the tenant's, at
	// its own leaf.
	Records int64 `json:"records"`
	// Pending is what the bundle says of the tenant's records it left
	// out, not covered by its checkpoint yet: the operator's word.
	Pending int64 `json:"pending"`
	// FindingCount counts every finding; Findings lists the first 100.
	FindingCount int64             `json:"finding_count"`
	Findings     []EvidenceFinding `json:"findings,omitempty"`

	unverified error // the checkpoint's, when the key did not sign it
}

// OK reports whether the bundle verified, without a finding.
func (r *EvidenceReport) OK() bool { return r.FindingCount == 0 }

func (r *EvidenceReport) find(f EvidenceFinding) {
	r.FindingCount++
	if len(r.Findings) < maxEvidenceFindings {
		r.Findings = append(r.Findings, f)
	}
}

// VerifyTenantEvidence reads a bundle WriteTenantEvidence wrote and
// checks it with the log's public key alone (log: LogVerifier, or
// note.NewVerifier of the log's vkey), never the HMAC secret: that its
// checkpoint is signed by log for the origin log.Name(); that every
// record is tenantID's, within the bundle's range, and the leaf its
// index names in the tree of that one checkpoint (its inclusion proof
// against the checkpoint's root, under its salt); that no two records
// claim one leaf; and that the bundle ends as its end line says. It
// streams: memory grows by a few bytes per record (the indexes seen).
//
// It returns the report, and a nil error only when the bundle verified
// without a finding; when one was found, an error wrapping ErrProof (and
// checkpoint.ErrUnverified too when the checkpoint is not the log's),
// with every finding in the report. Any other error is one of reading r.
//
// A bundle proves that each record it holds is in the log exactly as
// sealed, at its place; not that it holds every record of the tenant (the
// operator chooses what it writes). Keep the checkpoint of the report,
// and check that the log only grew from it (VerifyConsistency).
func VerifyTenantEvidence(r io.Reader, tenantID string, log note.Verifier) (EvidenceReport, error) {
	rep, err := verifyEvidence(r, tenantID, log, nil)
	if err != nil {
		return rep, err
	}
	return rep, rep.outcome()
}

// provedLeaf is a record a bundle proves: at its leaf, with its leaf hash.
type provedLeaf struct {
	id   uuid.UUID
	leaf tlog.Hash
	at   time.Time
}

// verifyEvidence checks the bundle r, as VerifyTenantEvidence says, and
// calls proved, if set, for each record whose proof holds. Its error is
// one of reading r; the findings are in the report.
func verifyEvidence(r io.Reader, tenantID string, log note.Verifier, proved func(index int64, p provedLeaf)) (EvidenceReport, error) {
	rep := EvidenceReport{TenantID: tenantID}
	if r == nil || log == nil {
		return rep, errors.New("audit: verify tenant evidence: nil reader or verifier")
	}
	if err := checkTenant(tenantID); err != nil {
		return rep, err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEvidenceLine)
	var (
		n       int64
		cp      checkpoint.Checkpoint
		seen    = map[int64]struct{}{}
		lines   int64 // record lines
		ended   bool
		endWant int64 = -1
	)
	finish := func() (EvidenceReport, error) { return rep, nil }
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		n++
		var l evidenceLine
		// strictly: a record line that encoding/json reads one way and
		// jq another would verify what the tenant is not shown
		if err := strictjson.Unmarshal(line, &l, "details", "changes"); err != nil {
			if n == 1 {
				rep.find(EvidenceFinding{Kind: EvidenceMalformed, Line: n, Index: -1, Detail: "not a " + EvidenceFormat + " bundle: " + err.Error()})
				return finish()
			}
			if errors.Is(err, strictjson.ErrAmbiguous) {
				rep.find(EvidenceFinding{Kind: EvidenceMalformed, Line: n, Index: -1, Detail: err.Error()})
			} else {
				rep.find(EvidenceFinding{Kind: EvidenceMalformed, Line: n, Index: -1, Detail: "not JSON: " + err.Error()})
			}
			continue
		}
		if n == 1 {
			if l.Type != "header" || l.Format != EvidenceFormat {
				rep.find(EvidenceFinding{Kind: EvidenceMalformed, Line: n, Index: -1, Detail: fmt.Sprintf("not a %s bundle (first line: type %q, format %q)", EvidenceFormat, l.Type, l.Format)})
				return finish()
			}
			if l.TenantID != tenantID {
				rep.find(EvidenceFinding{Kind: EvidenceWrongTenant, Line: n, Index: -1, Detail: fmt.Sprintf("the bundle is of tenant %q, not %q", l.TenantID, tenantID)})
				return finish()
			}
			c, _, err := checkpoint.Open([]byte(l.Checkpoint), log.Name(), log)
			if err != nil {
				if errors.Is(err, checkpoint.ErrUnverified) {
					rep.unverified = err
				}
				rep.find(EvidenceFinding{Kind: EvidenceBadCheckpoint, Line: n, Index: -1, Detail: "the checkpoint is not the log's: " + err.Error()})
				return finish()
			}
			cp, rep.Checkpoint, rep.CheckpointNote = c, c, l.Checkpoint
			if l.Since != nil {
				rep.Since = *l.Since
			}
			if l.Until != nil {
				rep.Until = *l.Until
			}
			continue
		}
		if ended {
			rep.find(EvidenceFinding{Kind: EvidenceMalformed, Line: n, Index: -1, Detail: "a line after the end line"})
			continue
		}
		switch l.Type {
		case "end":
			ended = true
			if l.Records != nil {
				endWant = *l.Records
			}
			if l.Pending != nil {
				rep.Pending = *l.Pending
			}
		case "record":
			lines++
			checkEvidenceRecord(&rep, &l, n, tenantID, cp, seen, proved)
		default:
			rep.find(EvidenceFinding{Kind: EvidenceMalformed, Line: n, Index: -1, Detail: fmt.Sprintf("a line of type %q", l.Type)})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			rep.find(EvidenceFinding{Kind: EvidenceMalformed, Line: n + 1, Index: -1, Detail: fmt.Sprintf("a line longer than %d bytes", maxEvidenceLine)})
			return finish()
		}
		return rep, fmt.Errorf("audit: verify tenant evidence: line %d: %w", n+1, err)
	}
	switch {
	case n == 0:
		rep.find(EvidenceFinding{Kind: EvidenceMalformed, Line: 1, Index: -1, Detail: "the bundle is empty"})
	case !ended:
		rep.find(EvidenceFinding{Kind: EvidenceTruncated, Line: n, Index: -1, Detail: "no end line: the bundle was cut short"})
	case endWant != lines:
		rep.find(EvidenceFinding{Kind: EvidenceTruncated, Line: n, Index: -1, Detail: fmt.Sprintf("the end line counts %d records, the bundle holds %d", endWant, lines)})
	}
	return finish()
}

// checkEvidenceRecord checks one record line of a bundle.
func checkEvidenceRecord(rep *EvidenceReport, l *evidenceLine, n int64, tenantID string, cp checkpoint.Checkpoint, seen map[int64]struct{}, proved func(int64, provedLeaf)) {
	bad := func(kind EvidenceFindingKind, index int64, id uuid.UUID, detail string) {
		rep.find(EvidenceFinding{Kind: kind, Line: n, Index: index, RecordID: id, Detail: detail})
	}
	if l.Index == nil || l.Record == nil {
		bad(EvidenceMalformed, -1, uuid.Nil, "a record line without its index or record")
		return
	}
	index, rec := *l.Index, l.Record
	restoreFields(rec, l.RawDetails, l.RawChanges)
	if len(l.Hashes) > maxEvidenceHashes {
		bad(EvidenceMalformed, index, rec.ID, fmt.Sprintf("an audit path of %d hashes", len(l.Hashes)))
		return
	}
	if rec.TenantID != tenantID {
		bad(EvidenceForeignRecord, index, rec.ID, fmt.Sprintf("a record of another tenant (%q), not %q", rec.TenantID, tenantID))
		return
	}
	if l.TreeSize != cp.Size {
		bad(EvidenceOtherCheckpoint, index, rec.ID, fmt.Sprintf("its proof is against a tree of %d records, the bundle's checkpoint is of %d", l.TreeSize, cp.Size))
		return
	}
	leaf, err := checkLeaf(rec, l.Salt, index, l.Hashes, cp)
	if err != nil {
		bad(EvidenceBadProof, index, rec.ID, strings.TrimPrefix(err.Error(), ErrProof.Error()+": "))
		return
	}
	if _, dup := seen[index]; dup {
		bad(EvidenceDuplicateIndex, index, rec.ID, "another record of the bundle claims this leaf")
		return
	}
	seen[index] = struct{}{}
	if (!rep.Since.IsZero() && rec.OccurredAt.Before(rep.Since)) || (!rep.Until.IsZero() && !rec.OccurredAt.Before(rep.Until)) {
		bad(EvidenceOutOfRange, index, rec.ID, "the record occurred outside the bundle's since and until")
		return
	}
	rep.Records++
	if proved != nil {
		proved(index, provedLeaf{id: rec.ID, leaf: leaf, at: rec.OccurredAt})
	}
}

// outcome returns nil if the report has no finding, else an error wrapping
// ErrProof (and checkpoint.ErrUnverified for a checkpoint the key did not
// sign) that names the first.
func (r *EvidenceReport) outcome() error {
	if r.FindingCount == 0 {
		return nil
	}
	first := r.Findings[0]
	if r.unverified != nil {
		return fmt.Errorf("%w: tenant evidence: %d finding(s), first: %s: %w", ErrProof, r.FindingCount, first, r.unverified)
	}
	return fmt.Errorf("%w: tenant evidence: %d finding(s), first: %s", ErrProof, r.FindingCount, first)
}

// CompareTenantEvidence checks newer as VerifyTenantEvidence does, and
// against older, an earlier bundle of the same tenant and log that the
// tenant kept (which must verify too): each leaf that both prove must
// hold one same record (EvidenceForked otherwise: the log rewrote its
// history, even if the operator signed both checkpoints with its own
// key), newer's tree must be at least as large, and each record of older
// that occurred within newer's since and until must be in newer
// (EvidenceMissingRecord otherwise: removed from the log, or left out of
// the bundle). Retention removes old records: ask for newer evidence
// since the retention cutoff, or read a missing record's time against
// it. It returns newer's report, with these findings too, and an error
// wrapping ErrProof when there is one; when older does not verify, older's
// report and an error wrapping ErrEarlierEvidence (and ErrProof). Memory
// grows with older's records.
func CompareTenantEvidence(older, newer io.Reader, tenantID string, log note.Verifier) (EvidenceReport, error) {
	kept := map[int64]provedLeaf{}
	orep, err := verifyEvidence(older, tenantID, log, func(i int64, p provedLeaf) { kept[i] = p })
	if err == nil {
		err = orep.outcome()
	}
	if err != nil {
		return orep, fmt.Errorf("%w: %w", ErrEarlierEvidence, err)
	}
	var forks []EvidenceFinding
	rep, err := verifyEvidence(newer, tenantID, log, func(i int64, p provedLeaf) {
		o, ok := kept[i]
		if !ok {
			return
		}
		delete(kept, i)
		if o.leaf != p.leaf {
			forks = append(forks, EvidenceFinding{Kind: EvidenceForked, Index: i, RecordID: p.id,
				Detail: fmt.Sprintf("the earlier evidence proves record %s at this leaf: the log rewrote its history", o.id)})
		}
	})
	if err != nil || rep.Checkpoint.Size == 0 && rep.FindingCount > 0 {
		return rep, cmp.Or(err, rep.outcome()) // newer is not read, or its checkpoint not verified
	}
	if rep.Checkpoint.Size < orep.Checkpoint.Size {
		rep.find(EvidenceFinding{Kind: EvidenceForked, Index: -1, Detail: fmt.Sprintf("the log's tree shrank from %d records to %d", orep.Checkpoint.Size, rep.Checkpoint.Size)})
	} else if rep.Checkpoint.Size == orep.Checkpoint.Size && rep.Checkpoint.Hash != orep.Checkpoint.Hash {
		rep.find(EvidenceFinding{Kind: EvidenceForked, Index: -1, Detail: fmt.Sprintf("two trees of %d records with different roots: the log forked", rep.Checkpoint.Size)})
	}
	for _, f := range forks {
		rep.find(f)
	}
	for _, i := range slices.Sorted(maps.Keys(kept)) {
		o := kept[i]
		if (!rep.Since.IsZero() && o.at.Before(rep.Since)) || (!rep.Until.IsZero() && !o.at.Before(rep.Until)) {
			continue // outside what newer covers
		}
		rep.find(EvidenceFinding{Kind: EvidenceMissingRecord, Index: i, RecordID: o.id,
			Detail: fmt.Sprintf("in the earlier evidence (it occurred at %s), not in this one: removed from the log, or left out", o.at.UTC().Format(time.RFC3339Nano))})
	}
	return rep, rep.outcome()
}
