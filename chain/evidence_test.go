package chain_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

// evidenceFixture is a sealed log of two tenants, org-a and org-b,
// interleaved, and records of no tenant; the newest records of org-a are
// not sealed yet.
type evidenceFixture struct {
	store    *memory.Store
	sealer   *chain.Sealer
	verifier note.Verifier // from the vkey only
	start    time.Time
	logger   *audit.Logger
	now      time.Time // the logger's clock
}

func newEvidenceFixture(t testing.TB, n int) *evidenceFixture {
	t.Helper()
	ctx := context.Background()
	store := memory.New(nil)
	key, signer := exampleKeys()
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer})
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := chain.VerifierKey(chain.DefaultOrigin, signer.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	fx := &evidenceFixture{store: store, sealer: sealer, verifier: v, start: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	fx.logger, err = audit.New(store, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}, Now: func() time.Time { return fx.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fx.logger.Close(context.Background()) })
	for i := range n {
		fx.log(t, "org-a", i)
		fx.log(t, "org-b", i)
		if i%5 == 0 {
			fx.log(t, "", i)
		}
	}
	if _, err := sealer.SealOnce(ctx); err != nil {
		t.Fatal(err)
	}
	fx.log(t, "org-a", n) // not sealed: pending
	return fx
}

// log records event i of tenant; org-b's fields are all distinctive, so
// that a test can look for each of them in org-a's evidence.
func (fx *evidenceFixture) log(t testing.TB, tenant string, i int) {
	t.Helper()
	// each tenant's records at their own times, so that a test can tell
	// them apart
	at := fx.start.Add(time.Duration(i)*time.Minute + map[string]time.Duration{"org-b": 17*time.Second + 123*time.Microsecond, "": 31 * time.Second}[tenant])
	action := audit.Action("doc.read-by-" + tenant)
	if tenant == "" {
		action = "system.tick"
	}
	fx.now = at
	e := audit.Event{TenantID: tenant, UserID: fmt.Sprintf("user-of-%s-%d", tenant, i), UserEmail: fmt.Sprintf("mail-%s-%d@example.com", tenant, i),
		Action: action, ResourceType: "document", ResourceID: fmt.Sprintf("res-%s-%d", tenant, i),
		Status: audit.StatusSuccess, Details: map[string]any{"note": fmt.Sprintf("secret-of-%s-%d", tenant, i)}}
	if err := fx.logger.Log(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func (fx *evidenceFixture) evidence(t testing.TB, tenant string, opts *chain.EvidenceOptions) ([]byte, chain.EvidenceStats) {
	t.Helper()
	var b bytes.Buffer
	st, err := chain.WriteTenantEvidence(context.Background(), fx.store, tenant, opts, &b)
	if err != nil {
		t.Fatalf("WriteTenantEvidence: %v", err)
	}
	return b.Bytes(), st
}

func (fx *evidenceFixture) records(t testing.TB, tenant string) []audit.Record {
	t.Helper()
	var out []audit.Record
	f := audit.Filter{TenantID: tenant, Limit: audit.MaxLimit}
	for {
		p, err := fx.store.Query(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			if r.TenantID == tenant {
				out = append(out, r)
			}
		}
		if p.NextCursor == "" {
			return out
		}
		f.Cursor = p.NextCursor
	}
}

func TestTenantEvidence(t *testing.T) {
	t.Parallel()
	fx := newEvidenceFixture(t, 20)
	b, st := fx.evidence(t, "org-a", nil)
	if st.Records != 20 || st.Pending != 1 || st.TreeSize != 44 {
		t.Fatalf("stats = %+v, want 20 records, 1 pending, a tree of 44", st)
	}
	rep, err := chain.VerifyTenantEvidence(bytes.NewReader(b), "org-a", fx.verifier)
	if err != nil || !rep.OK() || rep.Records != 20 || rep.Pending != 1 || rep.Checkpoint.Size != 44 {
		t.Fatalf("VerifyTenantEvidence = %+v, %v; want 20 records verified", rep, err)
	}

	// the bundle is dated by the clock given
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	if b, _ := fx.evidence(t, "org-a", &chain.EvidenceOptions{Now: func() time.Time { return at }}); !bytes.Contains(b, []byte(`"created_at":"2027-01-02T03:04:05Z"`)) {
		t.Errorf("created_at is not the clock's:\n%.300s", b)
	}

	// a range
	since, until := fx.start.Add(5*time.Minute), fx.start.Add(10*time.Minute)
	b, st = fx.evidence(t, "org-a", &chain.EvidenceOptions{Since: since, Until: until})
	rep, err = chain.VerifyTenantEvidence(bytes.NewReader(b), "org-a", fx.verifier)
	if err != nil || st.Records != 5 || rep.Records != 5 || !rep.Since.Equal(since) || !rep.Until.Equal(until) {
		t.Fatalf("range: stats %+v, report %+v, %v; want 5 records", st, rep, err)
	}

	// a tenant with no records: a bundle that proves nothing, and verifies
	b, _ = fx.evidence(t, "org-none", nil)
	if rep, err = chain.VerifyTenantEvidence(bytes.NewReader(b), "org-none", fx.verifier); err != nil || rep.Records != 0 {
		t.Fatalf("no records: %+v, %v", rep, err)
	}
}

func TestWriteTenantEvidenceErrors(t *testing.T) {
	t.Parallel()
	store := memory.New(nil)
	var b bytes.Buffer
	if _, err := chain.WriteTenantEvidence(context.Background(), store, "org-a", nil, &b); !errors.Is(err, audit.ErrNotFound) || b.Len() != 0 {
		t.Errorf("no checkpoint: %v, wrote %d bytes; want ErrNotFound and nothing written", err, b.Len())
	}
	for _, tenant := range []string{"", "bad\x00id"} {
		if _, err := chain.WriteTenantEvidence(context.Background(), store, tenant, nil, &b); err == nil {
			t.Errorf("tenant %q: no error", tenant)
		}
	}
}

// TestTenantEvidenceRevealsNothingOfOthers: org-a's bundle holds no field
// of any other record (org-b's or of no tenant), not even its digest; and
// a sibling hash on a proof's path, which is another tenant's leaf, does
// not match a guess of that record without its salt.
func TestTenantEvidenceRevealsNothingOfOthers(t *testing.T) {
	t.Parallel()
	fx := newEvidenceFixture(t, 20)
	b, _ := fx.evidence(t, "org-a", nil)
	others := append(fx.records(t, "org-b"), fx.records(t, "")...)
	if len(others) != 24 {
		t.Fatalf("%d other records, want 24", len(others))
	}
	has := func(what string, needle []byte) {
		t.Helper()
		for _, form := range [][]byte{needle, []byte(base64.StdEncoding.EncodeToString(needle)), []byte(hex.EncodeToString(needle))} {
			if len(form) > 0 && bytes.Contains(b, form) {
				t.Errorf("org-a's evidence holds %s %q", what, needle)
			}
		}
	}
	if bytes.Contains(b, []byte("org-b")) {
		t.Error("org-a's evidence names org-b")
	}
	ctx := context.Background()
	for _, r := range others {
		for name, v := range map[string]string{"id": r.ID.String(), "user_id": r.UserID, "user_email": r.UserEmail, "action": string(r.Action),
			"resource_id": r.ResourceID, "details": string(r.Details), "occurred_at": r.OccurredAt.Format(time.RFC3339Nano), "recorded_at": r.RecordedAt.Format(time.RFC3339Nano)} {
			if v != "" {
				has(name, []byte(v))
			}
		}
		has("id bytes", r.ID[:])
		d, _ := storekit.SealDigest(&r)
		has("digest", d)
		leaf, err := fx.store.LeafOf(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		has("salt", leaf.Salt)
		has("commitment", leaf.Commitment)
		// a guess without the salt: the zero salt, a wrong one
		for _, salt := range [][]byte{nil, make([]byte, 32), bytes.Repeat([]byte{1}, 32)} {
			c := chain.LeafCommitment(salt, d)
			has("unsalted commitment", c)
			lh := tlog.RecordHash(c)
			has("unsalted leaf hash", lh[:])
		}
	}

	// The audit path of org-a's leaf 0 (seal 1) starts with its sibling,
	// leaf 1: org-b's first record. It is that record's salted leaf hash,
	// and only the salt, which the bundle does not hold, matches it.
	var first struct {
		Index  *int64   `json:"index"`
		Hashes [][]byte `json:"hashes"`
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		first.Index = nil
		if err := json.Unmarshal(line, &first); err == nil && first.Index != nil && *first.Index == 0 {
			break
		}
	}
	if first.Index == nil || *first.Index != 0 {
		t.Fatal("no proof of leaf 0 in the bundle")
	}
	leaves, err := fx.store.Leaves(ctx, 2, 1)
	if err != nil || len(leaves) != 1 {
		t.Fatal(leaves, err)
	}
	sib, err := fx.store.Get(ctx, leaves[0].EventID)
	if err != nil || sib.TenantID != "org-b" {
		t.Fatalf("leaf 1 is %+v, %v; want org-b's", sib, err)
	}
	d, _ := storekit.SealDigest(&sib)
	real := tlog.RecordHash(chain.LeafCommitment(leaves[0].Salt, d))
	if !bytes.Equal(first.Hashes[0], real[:]) {
		t.Fatal("the first hash of leaf 0's path is not leaf 1's hash")
	}
	for _, salt := range [][]byte{nil, make([]byte, 32)} {
		guess := tlog.RecordHash(chain.LeafCommitment(salt, d)) // the exact record, guessed in full
		if bytes.Equal(first.Hashes[0], guess[:]) {
			t.Fatalf("a guess of org-b's record with salt %x matches its leaf", salt)
		}
	}
}

// editLines applies fn to each line of a bundle (decoded as a map),
// keeping a line when fn returns true.
func editLines(t *testing.T, b []byte, fn func(i int, l map[string]any) bool) []byte {
	t.Helper()
	var out bytes.Buffer
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var l map[string]any
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		if !fn(i, l) {
			continue
		}
		enc, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(append(enc, '\n'))
	}
	return out.Bytes()
}

func recordLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	editLines(t, b, func(_ int, l map[string]any) bool {
		if l["type"] == "record" {
			out = append(out, l)
		}
		return true
	})
	return out
}

func TestTenantEvidenceTampering(t *testing.T) {
	t.Parallel()
	fx := newEvidenceFixture(t, 10)
	older, _ := fx.evidence(t, "org-a", nil) // against the checkpoint of 22
	fx.log(t, "org-a", 20)
	if _, err := fx.sealer.SealOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	good, _ := fx.evidence(t, "org-a", nil) // against the checkpoint of 24
	orgB, _ := fx.evidence(t, "org-b", nil)
	oldLine := recordLines(t, older)[0]
	bLine := recordLines(t, orgB)[0]

	// a checkpoint of the same origin and tree, signed by another key
	_, forger, _ := ed25519.GenerateKey(nil)
	fs, err := checkpoint.NewSigner(chain.DefaultOrigin, forger)
	if err != nil {
		t.Fatal(err)
	}
	c, err := fx.store.TreeCheckpoint(context.Background(), -1)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := checkpoint.Text(c.Note)
	body, err := checkpoint.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := checkpoint.Sign(body, fs)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		edit       func(i int, l map[string]any) bool
		want       chain.EvidenceFindingKind
		unverified bool
	}{
		{"a changed record", func(i int, l map[string]any) bool {
			if i == 2 {
				l["record"].(map[string]any)["action"] = "doc.deleted"
			}
			return true
		}, chain.EvidenceBadProof, false},
		{"a changed OccurredAt", func(i int, l map[string]any) bool {
			if i == 1 {
				l["record"].(map[string]any)["timestamp"] = fx.start.Add(time.Hour).Format(time.RFC3339Nano)
			}
			return true
		}, chain.EvidenceBadProof, false},
		{"another salt", func(i int, l map[string]any) bool {
			if i == 1 {
				l["salt"] = base64.StdEncoding.EncodeToString(make([]byte, 32))
			}
			return true
		}, chain.EvidenceBadProof, false},
		{"another index", func(i int, l map[string]any) bool {
			if i == 1 {
				l["index"] = l["index"].(float64) + 1
			}
			return true
		}, chain.EvidenceBadProof, false},
		{"another tenant's record slipped in, with its true proof", func(i int, l map[string]any) bool {
			if i == 1 {
				for k, v := range bLine {
					l[k] = v
				}
			}
			return true
		}, chain.EvidenceForeignRecord, false},
		{"another tenant's record relabelled as the tenant's", func(i int, l map[string]any) bool {
			if i == 1 {
				for k, v := range bLine {
					l[k] = v
				}
				l["record"].(map[string]any)["tenant_id"] = "org-a"
			}
			return true
		}, chain.EvidenceBadProof, false},
		{"a proof against another checkpoint", func(i int, l map[string]any) bool {
			if i == 1 {
				for k, v := range oldLine {
					l[k] = v
				}
			}
			return true
		}, chain.EvidenceOtherCheckpoint, false},
		{"a proof against another checkpoint, its size relabelled", func(i int, l map[string]any) bool {
			if i == 1 {
				for k, v := range oldLine {
					l[k] = v
				}
				l["tree_size"] = recordLines(t, good)[0]["tree_size"]
			}
			return true
		}, chain.EvidenceBadProof, false},
		{"a forged checkpoint", func(i int, l map[string]any) bool {
			if i == 0 {
				l["checkpoint"] = string(forged)
			}
			return true
		}, chain.EvidenceBadCheckpoint, true},
		{"the older checkpoint in the header", func(i int, l map[string]any) bool {
			if i == 0 {
				var h map[string]any
				json.Unmarshal(bytes.SplitN(older, []byte("\n"), 2)[0], &h)
				l["checkpoint"] = h["checkpoint"]
			}
			return true
		}, chain.EvidenceOtherCheckpoint, false},
		{"relabelled to another tenant", func(i int, l map[string]any) bool {
			if i == 0 {
				l["tenant_id"] = "org-b"
			}
			return true
		}, chain.EvidenceWrongTenant, false},
		{"a record twice", func(i int, l map[string]any) bool {
			if i == 2 {
				for k, v := range recordLines(t, good)[0] {
					l[k] = v
				}
			}
			return true
		}, chain.EvidenceDuplicateIndex, false},
		{"no end line", func(i int, l map[string]any) bool { return l["type"] != "end" }, chain.EvidenceTruncated, false},
		{"a record removed", func(i int, l map[string]any) bool { return i != 3 }, chain.EvidenceTruncated, false},
		{"not a bundle", func(i int, l map[string]any) bool {
			l["format"] = "trailmark.chain.v1"
			return true
		}, chain.EvidenceMalformed, false},
		{"an out-of-range record", func(i int, l map[string]any) bool {
			if i == 0 {
				l["until"] = fx.start.Add(3 * time.Minute).Format(time.RFC3339Nano)
			}
			return true
		}, chain.EvidenceOutOfRange, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := editLines(t, good, tt.edit)
			rep, err := chain.VerifyTenantEvidence(bytes.NewReader(b), "org-a", fx.verifier)
			if !errors.Is(err, chain.ErrProof) || rep.OK() {
				t.Fatalf("err = %v, report OK %v; want ErrProof", err, rep.OK())
			}
			if got := rep.Findings[0].Kind; got != tt.want {
				t.Errorf("first finding %s, want %s (%v)", rep.Findings[0], tt.want, rep.Findings)
			}
			if errors.Is(err, checkpoint.ErrUnverified) != tt.unverified {
				t.Errorf("err = %v: ErrUnverified %v, want %v", err, !tt.unverified, tt.unverified)
			}
		})
	}

	// the untouched bundle still verifies; org-b's bundle is not org-a's
	if _, err := chain.VerifyTenantEvidence(bytes.NewReader(good), "org-a", fx.verifier); err != nil {
		t.Fatal(err)
	}
	rep, err := chain.VerifyTenantEvidence(bytes.NewReader(orgB), "org-a", fx.verifier)
	if !errors.Is(err, chain.ErrProof) || rep.Findings[0].Kind != chain.EvidenceWrongTenant {
		t.Fatalf("org-b's bundle for org-a: %v", err)
	}
	// the key of another log (the same key under another origin) is refused
	other, err := chain.LogVerifier("other/log", fx.verifierKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.VerifyTenantEvidence(bytes.NewReader(good), "org-a", other); !errors.Is(err, chain.ErrProof) {
		t.Fatalf("another log's key: %v", err)
	}
}

func (fx *evidenceFixture) verifierKey(t *testing.T) ed25519.PublicKey {
	_, signer := exampleKeys()
	return signer.Key.Public().(ed25519.PublicKey)
}

// TestTenantEvidenceLargeAndStrange: blank lines are accepted; a line
// beyond the bound is a finding, not an allocation without end. (Records
// whose Details are not JSON: storetest's TreeEvidenceUnsealable.)
func TestTenantEvidenceLargeAndStrange(t *testing.T) {
	t.Parallel()
	fx := newEvidenceFixture(t, 1)
	b, _ := fx.evidence(t, "org-a", nil)
	if !strings.HasSuffix(string(b), "\n") || bytes.Count(b, []byte("\n")) != 3 {
		t.Fatalf("bundle of one record:\n%s", b)
	}
	// blank lines and a missing final newline are accepted
	b = append(bytes.ReplaceAll(b, []byte("\n"), []byte("\n\n")), ' ')
	if _, err := chain.VerifyTenantEvidence(bytes.NewReader(b), "org-a", fx.verifier); err != nil {
		t.Fatal(err)
	}
	// a line beyond the bound is a finding, not an allocation without end
	huge := append([]byte(`{"type":"header","format":"`+chain.EvidenceFormat+`","tenant_id":"org-a","checkpoint":"`), bytes.Repeat([]byte("x"), 65<<20)...)
	if _, err := chain.VerifyTenantEvidence(bytes.NewReader(huge), "org-a", fx.verifier); !errors.Is(err, chain.ErrProof) {
		t.Fatalf("a huge line: %v", err)
	}
}

func BenchmarkVerifyTenantEvidence(b *testing.B) {
	fx := newEvidenceFixture(b, 10000) // a bundle of 10,000 records
	bundle, _ := fx.evidence(b, "org-a", nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(bundle)))
	for b.Loop() {
		if _, err := chain.VerifyTenantEvidence(bytes.NewReader(bundle), "org-a", fx.verifier); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzVerifyTenantEvidence feeds VerifyTenantEvidence any bytes: it never
// panics, returns a nil error only for a report without a finding, and
// what verifies holds only org-a's records, each at a leaf of its own.
// (Each fuzzing process makes its own log under the same key: a seed
// made by another process is a genuine bundle of another log.)
func FuzzVerifyTenantEvidence(f *testing.F) {
	fx := newEvidenceFixture(f, 3)
	good, _ := fx.evidence(f, "org-a", nil)
	orgB, _ := fx.evidence(f, "org-b", nil)
	lines := bytes.SplitAfter(good, []byte("\n"))
	f.Add(good)
	f.Add(orgB)
	f.Add(bytes.Join(lines[:2], nil))
	f.Add(append(bytes.Join(lines[:2], nil), bytes.SplitAfter(orgB, []byte("\n"))[1]...))
	f.Add([]byte(`{"type":"header","format":"trailmark.tenant-evidence.v1","tenant_id":"org-a"}`))
	f.Add([]byte(`{"type":"end","records":0}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := chain.VerifyTenantEvidence(bytes.NewReader(data), "org-a", fx.verifier)
		if (err == nil) != rep.OK() {
			t.Fatalf("err %v with report OK %v", err, rep.OK())
		}
		if err != nil {
			if !errors.Is(err, chain.ErrProof) {
				t.Fatalf("not ErrProof: %v", err)
			}
			return
		}
		seen := map[int64]bool{}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var l struct {
				Type   string
				Index  int64
				Record *struct {
					TenantID string `json:"tenant_id"`
				}
			}
			if json.Unmarshal(bytes.TrimSpace(line), &l) != nil || l.Type != "record" {
				continue
			}
			if l.Record == nil || l.Record.TenantID != "org-a" || seen[l.Index] {
				t.Fatalf("verified: a record line that is not one of org-a's at a leaf of its own: %s", line)
			}
			seen[l.Index] = true
		}
		if int64(len(seen)) != rep.Records {
			t.Fatalf("%d record lines verified, the report counts %d", len(seen), rep.Records)
		}
	})
}

func BenchmarkWriteTenantEvidence(b *testing.B) {
	fx := newEvidenceFixture(b, 10000) // a bundle of 10,000 records, of a log of 22,001
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chain.WriteTenantEvidence(context.Background(), fx.store, "org-a", nil, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// failingLeaves fails LeafOf for every record after the first few.
type failingLeaves struct {
	*memory.Store
	calls atomic.Int64
}

func (f *failingLeaves) LeafOf(ctx context.Context, id uuid.UUID) (storekit.Leaf, error) {
	if f.calls.Add(1) > 3 {
		return storekit.Leaf{}, errors.New("the database went away")
	}
	return f.Store.LeafOf(ctx, id)
}

// TestWriteTenantEvidenceGoroutines: the goroutines that prove a page's
// records end before WriteTenantEvidence returns, when it fails too. Not
// parallel, so that no other test's goroutines run meanwhile.
func TestWriteTenantEvidenceGoroutines(t *testing.T) {
	fx := newEvidenceFixture(t, 50)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fx.evidence(t, "org-a", nil)
	_, err := chain.WriteTenantEvidence(context.Background(), &failingLeaves{Store: fx.store}, "org-a", nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the database went away") {
		t.Fatalf("a store failing: %v", err)
	}
}

// TestCompareTenantEvidence: a tenant that kept an earlier bundle finds,
// with the public key alone, a record removed since, and a history the
// operator rewrote with every key it holds.
func TestCompareTenantEvidence(t *testing.T) {
	t.Parallel()
	fx := newEvidenceFixture(t, 10)
	older, _ := fx.evidence(t, "org-a", nil) // the tree of 22
	fx.log(t, "org-a", 20)
	if _, err := fx.sealer.SealOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	newer, _ := fx.evidence(t, "org-a", nil) // the tree of 24
	compare := func(older, newer []byte) (chain.EvidenceReport, error) {
		return chain.CompareTenantEvidence(bytes.NewReader(older), bytes.NewReader(newer), "org-a", fx.verifier)
	}
	rep, err := compare(older, newer)
	if err != nil || rep.Records != 12 || rep.Checkpoint.Size != 24 {
		t.Fatalf("the log only grew: %d records, tree %d, %v", rep.Records, rep.Checkpoint.Size, err)
	}

	// a record of the earlier bundle left out of the newer (removed from
	// the store: the operator can no longer write it)
	var dropped string
	cut := editLines(t, newer, func(i int, l map[string]any) bool {
		switch {
		case i == 4:
			dropped = l["record"].(map[string]any)["id"].(string)
			return false
		case l["type"] == "end":
			l["records"] = l["records"].(float64) - 1
		}
		return true
	})
	rep, err = compare(older, cut)
	if !errors.Is(err, chain.ErrProof) || rep.FindingCount != 1 || rep.Findings[0].Kind != chain.EvidenceMissingRecord || rep.Findings[0].RecordID.String() != dropped {
		t.Fatalf("a record left out: %v, %v; want missing_record of %s", err, rep.Findings, dropped)
	}
	// ... unless the newer bundle does not cover its time
	since := editLines(t, cut, func(i int, l map[string]any) bool {
		if i == 0 {
			l["since"] = fx.start.Add(9 * time.Minute).Format(time.RFC3339Nano)
		}
		return i == 0 || l["type"] == "end" || l["type"] == "record" && l["record"].(map[string]any)["timestamp"].(string) >= fx.start.Add(9*time.Minute).Format(time.RFC3339Nano)
	})
	since = editLines(t, since, func(i int, l map[string]any) bool {
		if l["type"] == "end" {
			l["records"] = float64(bytes.Count(since, []byte(`"type":"record"`)))
		}
		return true
	})
	if rep, err := compare(older, since); err != nil {
		t.Fatalf("a newer bundle since minute 9: %v, %v", err, rep.Findings)
	}

	// The operator rewrites history with every key it holds: the same
	// keys, a log sealed anew. Each bundle verifies alone; together they
	// show two records at one leaf.
	rewritten := newEvidenceFixture(t, 10)
	rewritten.log(t, "org-a", 20)
	if _, err := rewritten.sealer.SealOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	forged, _ := rewritten.evidence(t, "org-a", nil)
	if _, err := chain.VerifyTenantEvidence(bytes.NewReader(forged), "org-a", fx.verifier); err != nil {
		t.Fatalf("the rewritten log's evidence alone: %v", err)
	}
	rep, err = compare(older, forged)
	if !errors.Is(err, chain.ErrProof) || rep.Findings[0].Kind != chain.EvidenceForked {
		t.Fatalf("a rewritten history: %v, %v; want forked", err, rep.Findings)
	}
	// a tree that shrank
	rep, err = compare(newer, older)
	if !errors.Is(err, chain.ErrProof) || rep.Findings[0].Kind != chain.EvidenceForked || !strings.Contains(rep.Findings[0].Detail, "shrank") {
		t.Fatalf("a tree that shrank: %v, %v", err, rep.Findings)
	}
	// an earlier bundle that does not verify is said to be the earlier
	if _, err := compare(cut[:len(cut)/2], newer); !errors.Is(err, chain.ErrEarlierEvidence) || !errors.Is(err, chain.ErrProof) {
		t.Fatalf("a cut earlier bundle: %v", err)
	}
}
