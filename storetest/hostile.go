package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
)

// HostileRecord is a record of the hostile corpus, with its name.
type HostileRecord struct {
	Name   string
	Record audit.Record
}

// nest returns a JSON object whose arrays and objects nest depth deep.
func nest(depth int) json.RawMessage {
	return json.RawMessage(`{"a":` + strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1) + "}")
}

// hostileMutations change a record in the ways that outside review
// tried (issue 20): depth, size, invalid UTF-8, NUL, bidi controls, long
// ids, and the shapes no store can hold. Each is named.
var hostileMutations = []struct {
	name string
	f    func(r *audit.Record, rnd *rand.Rand)
}{
	{"details nested 5001 deep", func(r *audit.Record, _ *rand.Rand) {
		r.Details = json.RawMessage(strings.Repeat(`{"a":`, 5001) + "1" + strings.Repeat("}", 5001))
	}},
	{"details nested at the limit", func(r *audit.Record, _ *rand.Rand) { r.Details = nest(audit.MaxRecordDepth) }},
	{"details nested one past the limit", func(r *audit.Record, _ *rand.Rand) { r.Details = nest(audit.MaxRecordDepth + 1) }},
	{"changes nested near the limit", func(r *audit.Record, rnd *rand.Rand) {
		r.Changes = nest(audit.MaxRecordDepth - 5 + rnd.IntN(10))
	}},
	{"details of 256 KiB", func(r *audit.Record, _ *rand.Rand) {
		r.Details = json.RawMessage(`{"big":"` + strings.Repeat("x", 256<<10) + `"}`)
	}},
	{"details not JSON", func(r *audit.Record, _ *rand.Rand) { r.Details = json.RawMessage(`{"a": tru`) }},
	{"details not an object", func(r *audit.Record, _ *rand.Rand) { r.Details = json.RawMessage(`[1,2]`) }},
	{"details with invalid UTF-8", func(r *audit.Record, _ *rand.Rand) { r.Details = json.RawMessage("{\"a\":\"\xff\xfe\"}") }},
	{"details with an escaped NUL", func(r *audit.Record, _ *rand.Rand) { r.Details = json.RawMessage(`{"a\u0000":"\u0000"}`) }},
	{"details with bidi controls", func(r *audit.Record, _ *rand.Rand) {
		r.Details = json.RawMessage(`{"email":"\u202emoc.elpmaxe@ecila","x":"` + "\u2066\u200f\u061c" + `"}`)
	}},
	{"field with invalid UTF-8", func(r *audit.Record, rnd *rand.Rand) { setField(r, rnd, "inv\xff") }},
	{"field with NUL", func(r *audit.Record, rnd *rand.Rand) { setField(r, rnd, "nul\x00") }},
	{"field with bidi controls", func(r *audit.Record, rnd *rand.Rand) { setField(r, rnd, "\u202eevil\u2069\u200e") }},
	{"long field", func(r *audit.Record, rnd *rand.Rand) {
		setField(r, rnd, strings.Repeat("i", []int{1 << 10, 4 << 10, audit.MaxRecordFieldBytes}[rnd.IntN(3)]))
	}},
	{"field one byte too long", func(r *audit.Record, rnd *rand.Rand) {
		setField(r, rnd, strings.Repeat("i", audit.MaxRecordFieldBytes+1))
	}},
	{"year 10000", func(r *audit.Record, _ *rand.Rand) { r.OccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
}

// setField sets one string field of r, chosen by rnd, to v.
func setField(r *audit.Record, rnd *rand.Rand, v string) {
	fields := []*string{&r.UserID, &r.UserEmail, &r.UserAgent, &r.ResourceID, &r.RequestID,
		&r.SessionID, &r.ErrorMessage, &r.TenantID, &r.TraceID, &r.SpanID}
	*fields[rnd.IntN(len(fields))] = v
}

// HostileRecords returns the hostile corpus every door is walked with:
// Record(i) changed by each of the mutations in turn (nesting at, past
// and far past MaxRecordDepth, size, invalid UTF-8, NUL, bidi controls,
// long ids, text that is not JSON, an impossible year), then random
// records with one to three mutations each, drawn by rnd. Each has an ID
// of its own and occurred within the last hour.
func HostileRecords(rnd *rand.Rand, random int) []HostileRecord {
	var out []HostileRecord
	add := func(name string, muts ...int) {
		r := Record(len(out))
		r.ID = uuid.New()
		r.OccurredAt = time.Now().Add(-time.Hour + time.Duration(len(out))*time.Millisecond).UTC().Truncate(time.Microsecond)
		for _, m := range muts {
			hostileMutations[m].f(&r, rnd)
		}
		out = append(out, HostileRecord{Name: name, Record: r})
	}
	for i, m := range hostileMutations {
		add(m.name, i)
	}
	for range random {
		muts := make([]int, 1+rnd.IntN(3))
		names := make([]string, len(muts))
		for j := range muts {
			muts[j] = rnd.IntN(len(hostileMutations))
			names[j] = hostileMutations[muts[j]].name
		}
		add("random: "+strings.Join(names, ", "), muts...)
	}
	return out
}

// HostileJSON returns r as a producer other than the JetStream publisher
// could put it in a stream: its JSON, with Details as they are (not JSON,
// nested 5000 deep, …) and OccurredAt in any year.
func HostileJSON(r audit.Record) []byte {
	c := r
	c.Details, c.OccurredAt = nil, time.Time{}
	b, _ := json.Marshal(c) // a Record without Details always encodes
	b = bytes.Replace(b, []byte(`"timestamp":"0001-01-01T00:00:00Z"`), []byte(`"timestamp":"`+r.OccurredAt.Format(time.RFC3339Nano)+`"`), 1)
	if r.Details != nil {
		b = bytes.Replace(b, []byte(`"details":null`), append([]byte(`"details":`), r.Details...), 1)
	}
	return b
}

// EventOf returns the event an application would log for r: its fields,
// and its Details as far as they decode.
func EventOf(r *audit.Record) audit.Event {
	ev := audit.Event{ID: r.ID, OccurredAt: r.OccurredAt, UserID: r.UserID, UserEmail: r.UserEmail, IPAddress: r.IPAddress,
		UserAgent: r.UserAgent, Action: r.Action, ResourceType: r.ResourceType, ResourceID: r.ResourceID,
		RequestID: r.RequestID, SessionID: r.SessionID, Status: r.Status, ErrorMessage: r.ErrorMessage,
		TenantID: r.TenantID, TraceID: r.TraceID, SpanID: r.SpanID}
	json.Unmarshal(r.Details, &ev.Details) // what does not decode, the application could not have passed
	return ev
}

// contractChecker is a Store that fails the test when it is handed a
// record that breaks the record contract: what the Logger hands on never
// does.
type contractChecker struct {
	audit.Store
	t testing.TB
}

func (c contractChecker) Append(ctx context.Context, rs ...audit.Record) error {
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			c.t.Errorf("the Logger handed the store a record that breaks the contract: %v", err)
		}
	}
	return c.Store.Append(ctx, rs...)
}

// WantSealed seals everything waiting in s and verifies the chain: every
// record s accepted is sealed and verifies, none is unsealable, and the
// chain holds want records. A store that accepted a record it cannot
// seal fails here: sealing stalls, or Verify reports unsealable_record.
func WantSealed(t testing.TB, s storekit.SealStore, want int) {
	t.Helper()
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	if n := sl.Stats().Unsealable; n != 0 {
		t.Errorf("the Sealer met %d unsealable records", n)
	}
	rep := mustVerify(t, s, verifyOpts())
	if !rep.OK() || rep.Records != uint64(want) {
		t.Errorf("Verify: %d records, problems %v; want %d records and none", rep.Records, rep.Problems, want)
	}
	// and verified offline, from an export
	var buf bytes.Buffer
	if _, err := chain.ExportChain(context.Background(), s, &buf); err != nil {
		t.Fatalf("ExportChain: %v", err)
	}
	rep = mustVerify(t, exportSource(buf.Bytes()), verifyOpts())
	if !rep.OK() || rep.Records != uint64(want) {
		t.Errorf("Verify of the export: %d records, problems %v; want %d records and none", rep.Records, rep.Problems, want)
	}
}

// testHostileDoors walks the hostile corpus, and random hostile records,
// through the doors of a store: Append, and a Logger's LogTo. Each
// record is refused with a permanent error, or stored; and everything
// stored is sealed and verifies: "accepted" implies "sealed and
// verified" (issue 20, item 1).
func testHostileDoors(t *testing.T, newChain ChainFactory, rnd *rand.Rand, random int) {
	s, _ := newChain(t)
	ctx := context.Background()
	l, err := audit.New(contractChecker{s, t}, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}, OnError: func(error) {}})
	check(t, err)
	t.Cleanup(func() { l.Close(context.Background()) })
	stored, refused, logged := 0, 0, 0
	for _, h := range HostileRecords(rnd, random) {
		err := s.Append(ctx, h.Record)
		switch {
		case err == nil:
			stored++
		case !storekit.IsPermanent(err):
			t.Errorf("%s: Append: %v; want nil or a permanent error", h.Name, err)
		default:
			refused++
		}
		ev := EventOf(&h.Record)
		ev.ID = uuid.Nil // a new record
		switch err := l.LogTo(ctx, s, ev); {
		case err == nil:
			logged++
		case !errors.Is(err, audit.ErrInvalidEvent):
			t.Errorf("%s: LogTo: %v; want nil or an invalid event", h.Name, err)
		}
	}
	t.Logf("Append stored %d hostile records and refused %d; LogTo stored %d", stored, refused, logged)
	if refused == 0 || stored == 0 {
		t.Errorf("stored %d, refused %d: the corpus should have both", stored, refused)
	}
	WantSealed(t, s, stored+logged)
}

// testHostileProperty is testHostileDoors with random hostile records
// only, many of them, in batches: "accepted by the store" implies "sealed
// and verified".
func testHostileProperty(t *testing.T, newChain ChainFactory, rnd *rand.Rand) {
	s, _ := newChain(t)
	ctx := context.Background()
	stored := 0
	for batch := range 10 {
		var recs []audit.Record
		for _, h := range HostileRecords(rnd, 8)[len(hostileMutations):] {
			recs = append(recs, h.Record)
		}
		// one batch: all or nothing; then each alone
		if err := s.Append(ctx, recs...); err == nil {
			stored += len(recs)
			continue
		} else if !storekit.IsPermanent(err) {
			t.Fatalf("batch %d: Append: %v; want nil or a permanent error", batch, err)
		}
		for i := range recs {
			if err := s.Append(ctx, recs[i]); err == nil {
				stored++
			} else if !storekit.IsPermanent(err) {
				t.Errorf("batch %d: Append of record %d: %v; want nil or a permanent error", batch, i, err)
			}
		}
	}
	t.Logf("stored %d random hostile records", stored)
	WantSealed(t, s, stored)
}

// seeded returns the random source of a randomized test, seeded from
// SeedEnv or the clock (the seed is logged), on stream.
func seeded(t *testing.T, stream uint64) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(SeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, v, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, SeedEnv, seed)
	return rand.New(rand.NewPCG(seed, stream))
}
