package storekit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/internal/canonical"
)

const (
	recordDomain     = "trailmark.record.v2\n"
	unsealableDomain = "trailmark.unsealable-record.v2\n"
	// the digests of the seals made before v2 (see LegacySealDigest)
	recordDomainV1     = "trailmark.record.v1\n"
	unsealableDomainV1 = "trailmark.unsealable-record.v1\n"
)

// Digest returns the SHA-256 of r's canonical form: every field of the
// record in a fixed order, each prefixed by its length (4 bytes, big
// endian), Details and Changes in canonical JSON (nil, empty and null
// alike: absent; {} is an empty object), times as UnixMicro in 8 bytes,
// big endian; TenantID, TraceID and SpanID follow as tagged fields, only
// when set, so that the records sealed before they existed keep their
// digests. A record read back from any store (PostgreSQL jsonb reorders
// keys and rewrites white space) has the digest it had when it was
// written. This is the digest "trailmark.record.v2"; LegacySealDigest
// is the one of the seals made before it.
func Digest(r *audit.Record) ([]byte, error) {
	h := sha256.New()
	if err := writeCanonical(h, r, recordDomain, digestJSON, false); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// SealDigest returns the digest a seal of r covers, and whether r is
// unsealable: its Digest when r can be put in canonical form; otherwise
// (Details or Changes nested deeper than MaxRecordDepth, or not JSON:
// what Record.Validate refuses at every door, stored around them) the
// digest of its stored form, under a domain of its own: every field as
// Digest writes it, but Details and Changes each canonical where it can
// be and flat where not (canonical.Flat: white space removed, strings
// re-encoded, in one pass however deep). Which of the two a seal covers
// follows from the record itself, so Verify recomputes the same; a
// change to the record, to either form, changes the digest.
func SealDigest(r *audit.Record) (d []byte, unsealable bool) {
	d, err := Digest(r)
	if err == nil {
		return d, false
	}
	h := sha256.New()
	writeCanonical(h, r, unsealableDomain, flatJSON, false) // flatJSON never fails
	return h.Sum(nil), true
}

// LegacySealDigest returns the digest the seals made before digest v2
// covered (domains "trailmark.record.v1" and
// "trailmark.unsealable-record.v1"): SealDigest's, except that its time
// fields hashed only the low 32 bits of UnixMicro, so that OccurredAt and
// RecordedAt counted only modulo 2³² µs (71 min 34.967296 s). Verify and
// the proofs accept it for a seal whose digest is of that form: its
// record's OccurredAt is held by the seal's EventTime, which the chain's
// link covers whole, and its RecordedAt, and in a proof of its Merkle
// leaf its OccurredAt too, only modulo 2³² µs. A v2 seal never accepts
// a legacy digest: the domains differ, so the digests do.
func LegacySealDigest(r *audit.Record) (d []byte, unsealable bool) {
	h := sha256.New()
	if err := writeCanonical(h, r, recordDomainV1, digestJSON, true); err == nil {
		return h.Sum(nil), false
	}
	h.Reset()
	writeCanonical(h, r, unsealableDomainV1, flatJSON, true)
	return h.Sum(nil), true
}

// flatJSON is the form of Details or Changes that an unsealable record's
// digest covers: digestJSON's, or canonical.Flat of what it cannot encode.
func flatJSON(j json.RawMessage) ([]byte, error) {
	if c, err := digestJSON(j); err == nil {
		return c, nil
	}
	return canonical.Flat(j), nil
}

// writeCanonical writes r's canonical form to h. legacy writes digest
// v1's time fields: their first four bytes overwritten by the length
// prefix, which shared their buffer (see LegacySealDigest).
func writeCanonical(h hash.Hash, r *audit.Record, domain string, jsonForm func(json.RawMessage) ([]byte, error), legacy bool) error {
	var n, t8 [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(b)))
		h.Write(n[:4])
		h.Write(b)
	}
	str := func(s string) { field([]byte(s)) }
	micros := func(t time.Time) {
		if legacy {
			binary.BigEndian.PutUint64(n[:], uint64(t.UnixMicro()))
			field(n[:]) // the length prefix overwrites n[:4]: v1's form
			return
		}
		binary.BigEndian.PutUint64(t8[:], uint64(t.UnixMicro()))
		field(t8[:])
	}
	h.Write([]byte(domain))
	field(r.ID[:])
	micros(r.OccurredAt)
	micros(r.RecordedAt)
	str(r.UserID)
	str(r.UserEmail)
	if r.IPAddress.IsValid() {
		str(r.IPAddress.Unmap().String())
	} else {
		str("")
	}
	str(r.UserAgent)
	str(string(r.Action))
	str(r.ResourceType)
	str(r.ResourceID)
	for _, j := range []json.RawMessage{r.Details, r.Changes} {
		c, err := jsonForm(j)
		if err != nil {
			return fmt.Errorf("audit: digest of %s: %w", r.ID, err)
		}
		field(c)
	}
	str(r.RequestID)
	str(r.SessionID)
	str(string(r.Status))
	str(r.ErrorMessage)
	// The fields added after the first release follow as tagged pairs
	// (tag, value), in this order, each only when its value is not empty:
	// a record without them has the encoding, and so the digest, it always
	// had. Every field is length-prefixed, so the encoding stays
	// unambiguous: one more pair is two more fields, and the tags say
	// which pairs are present.
	for _, x := range [...]struct{ tag, v string }{
		{"tenant_id", r.TenantID}, {"trace_id", r.TraceID}, {"span_id", r.SpanID},
	} {
		if x.v != "" {
			str(x.tag)
			str(x.v)
		}
	}
	return nil
}

// digestJSON is the form of Details or Changes that Digest covers: the
// canonical JSON, with absent, empty and JSON null all the same (absent),
// since a record without Details reads back from an export, or a jsonb
// column, as null.
func digestJSON(j json.RawMessage) ([]byte, error) {
	c, err := canonical.Bytes(j)
	if err != nil || string(c) == "null" {
		return nil, err
	}
	return c, nil
}
