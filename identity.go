package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// MaxIDBytes is the longest identity, in bytes. Identities are the
// fields that records are found and told apart by: the tenant, the
// actor's user id, the action, the resource type and id, the request and
// session ids. The same limit and the same check (CheckID) apply wherever
// an identity enters: events (Logger.Log, LogTo), filters
// (Filter.Validate), the API's scopes and query parameters, viewer
// tokens, retention's TenantMaxAge and auditctl's flags.
//
// An identity is stored exactly as given or refused, never cut or
// repaired: a tenant id cut to its first kilobyte, or with U+FFFD in
// place of an invalid byte, would be another tenant's id, and the two
// tenants would read each other's records.
const MaxIDBytes = 1 << 10

// CheckID reports why id cannot be an identity (see MaxIDBytes), or nil
// if it can: it is at most MaxIDBytes bytes of valid UTF-8 and holds no
// control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F;
// NUL included). Every other character is allowed, spaces and '='
// included. The empty string is valid: it means "none". The error never
// repeats id.
func CheckID(id string) error {
	if p := idProblem(id); p != "" {
		return errors.New("audit: id " + p)
	}
	return nil
}

// idProblem says what is wrong with id as an identity ("is longer than
// 1024 bytes"), or returns "" when nothing is. It does not allocate for a
// valid id.
func idProblem(id string) string {
	if len(id) > MaxIDBytes {
		return fmt.Sprintf("is longer than %d bytes (%d)", MaxIDBytes, len(id))
	}
	for i := 0; i < len(id); {
		c := id[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return controlProblem(rune(c), i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(id[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Sprintf("is not valid UTF-8 (at byte %d)", i)
		case r < 0xa0: // C1 controls
			return controlProblem(r, i)
		}
		i += n
	}
	return ""
}

// printable reports whether s is printable ASCII (U+0020–U+007E), as
// nearly every identity and string field is: such a string is valid
// UTF-8 without control characters, and needs neither idProblem nor
// cleanString.
func printable(s string) bool {
	// eight bytes at a time: a byte below 0x20 borrows in w-lo (the
	// borrow starts at such a byte, so the answer is exact), a byte above
	// 0x7e carries into its top bit in w+1 or has it set already
	const (
		ones = 0x0101010101010101
		tops = 0x8080808080808080
	)
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if ((w-0x20*ones)&^w|(w+ones)|w)&tops != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func controlProblem(r rune, at int) string {
	return fmt.Sprintf("holds the control character U+%04X (at byte %d)", r, at)
}
