package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
)

// The JSON of a page and of a record, written as encoding/json writes
// them (TestAppendPageMatchesMarshal holds the two to the same bytes),
// without its reflection: the page's encoding was a quarter of the list
// handler's time.

// appendPage appends the JSON of p to dst, byte for byte what
// json.Marshal(p) returns. It returns an error where json.Marshal would:
// for a time json.Marshal cannot write, or Details or Changes that are not
// valid JSON; the error names the record and the field.
func appendPage(dst []byte, p *audit.Page) ([]byte, error) {
	dst = append(dst, `{"items":`...)
	if p.Records == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range p.Records {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendRecord(dst, &p.Records[i]); err != nil {
				return nil, err
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"next_cursor":`...)
	dst = appendString(dst, p.NextCursor)
	if p.Tail != "" {
		dst = append(dst, `,"tail":`...)
		dst = appendString(dst, p.Tail)
	}
	return append(dst, '}'), nil
}

// appendRecord appends the JSON of r to dst, byte for byte what
// json.Marshal(r) returns.
func appendRecord(dst []byte, r *audit.Record) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = appendUUID(dst, r.ID)
	dst = append(dst, `,"timestamp":"`...)
	if dst, err = r.OccurredAt.AppendText(dst); err != nil {
		return nil, fmt.Errorf("record %s: timestamp: %w", r.ID, err)
	}
	dst = append(dst, `","recorded_at":"`...)
	if dst, err = r.RecordedAt.AppendText(dst); err != nil {
		return nil, fmt.Errorf("record %s: recorded_at: %w", r.ID, err)
	}
	dst = append(dst, `","user_id":`...)
	dst = appendString(dst, r.UserID)
	dst = append(dst, `,"user_email":`...)
	dst = appendString(dst, r.UserEmail)
	dst = append(dst, `,"ip_address":`...)
	var ip [64]byte
	b, _ := r.IPAddress.AppendText(ip[:0]) // never fails
	dst = appendString(dst, string(b))
	dst = append(dst, `,"user_agent":`...)
	dst = appendString(dst, r.UserAgent)
	dst = append(dst, `,"action":`...)
	dst = appendString(dst, string(r.Action))
	dst = append(dst, `,"resource_type":`...)
	dst = appendString(dst, r.ResourceType)
	dst = append(dst, `,"resource_id":`...)
	dst = appendString(dst, r.ResourceID)
	dst = append(dst, `,"details":`...)
	if dst, err = appendRaw(dst, r.Details); err != nil {
		return nil, fmt.Errorf("record %s: details: %w", r.ID, err)
	}
	dst = append(dst, `,"changes":`...)
	if dst, err = appendRaw(dst, r.Changes); err != nil {
		return nil, fmt.Errorf("record %s: changes: %w", r.ID, err)
	}
	dst = append(dst, `,"request_id":`...)
	dst = appendString(dst, r.RequestID)
	dst = append(dst, `,"session_id":`...)
	dst = appendString(dst, r.SessionID)
	dst = append(dst, `,"status":`...)
	dst = appendString(dst, string(r.Status))
	dst = append(dst, `,"error_message":`...)
	dst = appendString(dst, r.ErrorMessage)
	dst = append(dst, `,"tenant_id":`...)
	dst = appendString(dst, r.TenantID)
	dst = append(dst, `,"trace_id":`...)
	dst = appendString(dst, r.TraceID)
	dst = append(dst, `,"span_id":`...)
	dst = appendString(dst, r.SpanID)
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendUUID appends u quoted, as its MarshalText writes it.
func appendUUID(dst []byte, u uuid.UUID) []byte {
	dst = append(dst, '"')
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return append(dst, '"')
}

// plain8 reports whether the first eight bytes of s (it has as many) are
// copied as they are into a JSON string: none is a control character,
// '"', '\\', '<', '>', '&' or above 0x7F. A byte below 0x20 borrows when
// 0x20 is taken from each byte, and a byte equal to one of the five is
// zero in s XOR that byte and borrows when 1 is taken; the first borrow
// starts at such a byte, so the answer is exact.
func plain8(s string) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8))
	q, b, lt, gt, amp := w^'"'*ones, w^'\\'*ones, w^'<'*ones, w^'>'*ones, w^'&'*ones
	return ((w-0x20*ones)&^w|(q-ones)&^q|(b-ones)&^b|(lt-ones)&^lt|(gt-ones)&^gt|(amp-ones)&^amp|w)&tops == 0
}

// appendString appends s as encoding/json writes a string: HTML
// characters, control characters, U+2028 and U+2029 escaped, invalid
// UTF-8 written as U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:]) {
			i += 8
			continue
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendRaw appends raw JSON as encoding/json writes a json.RawMessage:
// null when nil, else compacted with the HTML characters, U+2028 and
// U+2029 escaped.
func appendRaw(dst []byte, raw json.RawMessage) ([]byte, error) {
	if raw == nil {
		return append(dst, "null"...), nil
	}
	if !json.Valid(raw) {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		return nil, errors.New("invalid JSON")
	}
	start, inString := 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, raw[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			dst = append(dst, raw[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
			i += 2
			start = i + 1
		case inString:
			if c == '\\' {
				i++ // the escaped byte, never one of the above
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			dst = append(dst, raw[start:i]...)
			start = i + 1
		}
	}
	return append(dst, raw[start:]...), nil
}
