package checkpoint

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxBodySize is the largest checkpoint body, in bytes, that Parse and
// Marshal accept. A body without extension lines is under 400 bytes.
const MaxBodySize = 16 << 10

// ErrMalformed is the category of every error Parse and Marshal return for
// text that is not a canonical checkpoint body.
var ErrMalformed = errors.New("audit: checkpoint: malformed")

// A Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin,
// the number of records in its tree, and the RFC 6962 root hash of that
// tree.
type Checkpoint struct {
	// Origin names the log that issued the checkpoint. It must be
	// non-empty, and it should be a schema-less URL without spaces or
	// plus signs (then it can also be the name of the log's key).
	Origin string
	// Size is the number of records in the tree.
	Size int64
	// Hash is the RFC 6962 Merkle tree hash of the first Size records.
	Hash tlog.Hash
	// Extensions are opaque, non-empty extension lines, without their
	// newlines. C2SP recommends against them: witnesses cosign them
	// without making any statement about them.
	Extensions []string
}

// Tree returns the size and root hash as a golang.org/x/mod/sumdb/tlog
// Tree, the form tlog's proof functions take.
func (c Checkpoint) Tree() tlog.Tree { return tlog.Tree{N: c.Size, Hash: c.Hash} }

// Marshal returns the body of c: origin, size and base64 root hash lines,
// then the extension lines, each line ending in a newline. It returns an
// error wrapping ErrMalformed if the result would not Parse back to c.
func (c Checkpoint) Marshal() ([]byte, error) {
	if err := checkLine("origin", c.Origin); err != nil {
		return nil, err
	}
	if c.Size < 0 {
		return nil, fmt.Errorf("%w: negative size %d", ErrMalformed, c.Size)
	}
	for i, e := range c.Extensions {
		if err := checkLine(fmt.Sprintf("extension line %d", i+1), e); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, len(c.Origin)+64)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Hash[:])
	b = append(b, '\n')
	for _, e := range c.Extensions {
		b = append(b, e...)
		b = append(b, '\n')
	}
	if len(b) > MaxBodySize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), MaxBodySize)
	}
	return b, nil
}

// checkLine reports whether s can stand as one non-empty line of a signed
// note: valid UTF-8 with no control character.
func checkLine(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrMalformed, what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrMalformed, what)
	}
	for _, r := range s {
		if r < 0x20 {
			return fmt.Errorf("%w: %s holds control character %U", ErrMalformed, what, r)
		}
	}
	return nil
}

// Parse parses a checkpoint body (the text of a signed note, without its
// signatures). It accepts only canonical bodies: at least three lines,
// each ending in a newline; a non-empty origin; a decimal size with no
// leading zeros that fits an int64; the padded standard base64 of exactly
// 32 bytes, encoded as Marshal would; non-empty extension lines; valid
// UTF-8 without control characters; at most MaxBodySize bytes. Errors
// wrap ErrMalformed.
//
// Parse checks no signature. Use Open for a signed note.
func Parse(text []byte) (Checkpoint, error) {
	if len(text) > MaxBodySize {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(text), MaxBodySize)
	}
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return Checkpoint{}, fmt.Errorf("%w: does not end in a newline", ErrMalformed)
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("%w: %d lines, want at least 3", ErrMalformed, len(lines))
	}
	c := Checkpoint{Origin: lines[0]}
	if err := checkLine("origin", c.Origin); err != nil {
		return Checkpoint{}, err
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: size %q is not a canonical non-negative decimal", ErrMalformed, lines[1])
	}
	c.Size = size
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return Checkpoint{}, fmt.Errorf("%w: root hash %q is not the base64 of %d bytes", ErrMalformed, lines[2], tlog.HashSize)
	}
	copy(c.Hash[:], h)
	if ext := lines[3:]; len(ext) > 0 {
		for i, e := range ext {
			if err := checkLine(fmt.Sprintf("extension line %d", i+1), e); err != nil {
				return Checkpoint{}, err
			}
		}
		c.Extensions = ext
	}
	return c, nil
}

// Sign marshals c and signs it as a signed note with each of signers (at
// least one). For a log, that is its key, named as its origin (see
// NewSigner); a log may add a second key while it rotates keys.
func Sign(c Checkpoint, signers ...note.Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("audit: checkpoint: sign: no signer")
	}
	text, err := c.Marshal()
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: sign: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: sign: %w", err)
	}
	return msg, nil
}

// ErrUnverified is the category of the errors Open returns when the note
// carries no valid signature by the log's key, or a signature line with
// the key's name and ID that does not verify.
var ErrUnverified = errors.New("audit: checkpoint: not signed by the log's key")

// Open verifies that msg is a signed note bearing a valid signature by
// the log's key, and that its body is a canonical checkpoint whose origin
// is origin. It returns the checkpoint and the note, whose Sigs hold the
// log's verified signature and whose UnverifiedSigs hold the others (for
// example witness cosignatures, which VerifyCosignatures in package
// witness checks).
//
// Signatures by other keys are ignored, as signed-note requires; a
// signature that claims the log key's name and ID but does not verify
// makes Open fail.
func Open(msg []byte, origin string, log note.Verifier) (Checkpoint, *note.Note, error) {
	if log == nil {
		return Checkpoint{}, nil, errors.New("audit: checkpoint: open: nil verifier")
	}
	n, err := note.Open(msg, note.VerifierList(log))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Checkpoint{}, nil, fmt.Errorf("%w (%s): %w", ErrUnverified, log.Name(), err)
		}
		return Checkpoint{}, nil, fmt.Errorf("audit: checkpoint: open: %w", err)
	}
	c, err := Parse([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("audit: checkpoint: open: %w", err)
	}
	if c.Origin != origin {
		return Checkpoint{}, nil, fmt.Errorf("%w: origin %q, want %q", ErrMalformed, c.Origin, origin)
	}
	return c, n, nil
}

// Text returns the note text of a signed note (the checkpoint body,
// without signatures) without verifying anything, and reports whether msg
// has the shape of a signed note: valid UTF-8 without control characters
// other than newlines, a text, a blank line, signature lines. It is for
// routing a note to the right verifier; never trust what it returns.
func Text(msg []byte) ([]byte, bool) {
	if !utf8.Valid(msg) || bytes.ContainsFunc(msg, func(r rune) bool { return r < 0x20 && r != '\n' }) {
		return nil, false
	}
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 || len(msg) == i+2 || msg[len(msg)-1] != '\n' {
		return nil, false
	}
	return msg[:i+1], true
}
