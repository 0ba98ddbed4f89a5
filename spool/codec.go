package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"time"

	"github.com/trailmark/audit"
)

// A frame is one record in a segment:
//
//	length  uint32, little endian: of the payload; 0 ends the segment
//	crc     uint32, little endian: CRC-32C of the payload
//	payload the record (see appendRecord)
//
// A segment's unwritten space is zeros, so a reader stops at the first
// frame whose length is 0, runs past the segment, or whose CRC does not
// match: a frame being copied when the process died.
const frameHeader = 8

// version is the first byte of a payload. Version 1 held OccurredAt as
// Unix nanoseconds, which hold only the years 1678 to 2262; version 2
// holds Unix seconds and nanoseconds, all of the years 1 to 9999. Both
// are read.
const version = 2

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is wrapped by decode's errors.
var errCorrupt = errors.New("audit: spool: corrupt record")

// appendFrame appends rec's frame to b.
func appendFrame(b []byte, rec *audit.Record) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeader)...)
	b = appendRecord(b, rec)
	payload := b[start+frameHeader:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b
}

// appendRecord appends the payload of rec: the version, the ID, OccurredAt
// as Unix seconds (varint) and nanoseconds (uvarint), the IP address (netip.Addr's binary form),
// then each string field as a uvarint length and its bytes. Details and
// Changes are written as length+1, so that 0 stands for nil. RecordedAt is
// not kept: stores set it.
func appendRecord(b []byte, r *audit.Record) []byte {
	b = append(b, version)
	b = append(b, r.ID[:]...)
	b = binary.AppendVarint(b, r.OccurredAt.Unix())
	b = binary.AppendUvarint(b, uint64(r.OccurredAt.Nanosecond()))
	var buf [32]byte
	ip, _ := r.IPAddress.AppendBinary(buf[:0])
	b = binary.AppendUvarint(b, uint64(len(ip)))
	b = append(b, ip...)
	for _, s := range [...]string{
		r.UserID, r.UserEmail, r.UserAgent, string(r.Action), r.ResourceType, r.ResourceID,
		r.RequestID, r.SessionID, string(r.Status), r.ErrorMessage, r.TenantID, r.TraceID, r.SpanID,
	} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, raw := range [...][]byte{r.Details, r.Changes} {
		if raw == nil {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(raw))+1)
		b = append(b, raw...)
	}
	return b
}

// decoder reads the fields of a payload in turn; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str(what string) string {
	return string(d.bytes(d.uvarint(what), what))
}

// decodeRecord decodes a payload of appendRecord. The record shares no
// memory with p.
func decodeRecord(p []byte) (audit.Record, error) {
	var r audit.Record
	if len(p) < 1+16 || p[0] != 1 && p[0] != version {
		return r, fmt.Errorf("%w: unknown version or short record", errCorrupt)
	}
	copy(r.ID[:], p[1:17])
	d := decoder{b: p[17:]}
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		return r, fmt.Errorf("%w: occurred_at", errCorrupt)
	}
	d.b = d.b[n:]
	if p[0] == 1 {
		r.OccurredAt = time.Unix(0, sec).UTC() // Unix nanoseconds
	} else {
		ns := d.uvarint("occurred_at")
		if d.err == nil && ns >= 1e9 {
			return r, fmt.Errorf("%w: occurred_at: %d ns", errCorrupt, ns)
		}
		r.OccurredAt = time.Unix(sec, int64(ns)).UTC()
	}
	ip := d.bytes(d.uvarint("ip_address"), "ip_address")
	if d.err == nil {
		var a netip.Addr
		if err := a.UnmarshalBinary(ip); err != nil {
			return r, fmt.Errorf("%w: ip_address: %w", errCorrupt, err)
		}
		r.IPAddress = a
	}
	var action, status string
	for _, f := range [...]struct {
		s    *string
		name string
	}{
		{&r.UserID, "user_id"}, {&r.UserEmail, "user_email"}, {&r.UserAgent, "user_agent"},
		{&action, "action"}, {&r.ResourceType, "resource_type"}, {&r.ResourceID, "resource_id"},
		{&r.RequestID, "request_id"}, {&r.SessionID, "session_id"}, {&status, "status"},
		{&r.ErrorMessage, "error_message"}, {&r.TenantID, "tenant_id"}, {&r.TraceID, "trace_id"},
		{&r.SpanID, "span_id"},
	} {
		*f.s = d.str(f.name)
	}
	r.Action, r.Status = audit.Action(action), audit.Status(status)
	for _, f := range [...]struct {
		raw  *[]byte
		name string
	}{{(*[]byte)(&r.Details), "details"}, {(*[]byte)(&r.Changes), "changes"}} {
		n := d.uvarint(f.name)
		if n > 0 {
			*f.raw = append([]byte{}, d.bytes(n-1, f.name)...)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return audit.Record{}, d.err
	}
	return r, nil
}

// tornTail reports whether b, where nextFrame found no frame, is the end
// of a segment: zeros, or the one frame being written when the process
// died, then zeros. A frame is written whole or torn, never past the end
// of its segment, and nothing is written after it: a length that runs
// past the end, or data after the frame, is damage. A zero length is an
// end (a copy may write a frame's tail before its head).
func tornTail(b []byte) bool {
	if len(b) < frameHeader {
		return true
	}
	n := binary.LittleEndian.Uint32(b)
	switch {
	case n == 0:
		return true
	case uint64(n) > uint64(len(b)-frameHeader):
		return false
	}
	return allZero(b[frameHeader+int(n):])
}

// nextFrame returns the payload of the frame at the start of b and the
// length of the frame, or ok false at the end of the records: a zero
// length, a frame that runs past b, or a CRC that does not match.
func nextFrame(b []byte) (payload []byte, size int, ok bool) {
	if len(b) < frameHeader {
		return nil, 0, false
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || uint64(n) > uint64(len(b)-frameHeader) {
		return nil, 0, false
	}
	payload = b[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, false
	}
	return payload, frameHeader + int(n), true
}
