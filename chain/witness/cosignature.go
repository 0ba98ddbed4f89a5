package witness

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/trailmark/audit/chain/checkpoint"
)

// algCosignatureV1 is the signed-note signature type of Ed25519
// cosignatures (c2sp.org/tlog-cosignature).
const algCosignatureV1 = 0x04

// sigSize is the size of a cosignature: an 8-byte big-endian POSIX
// timestamp and a 64-byte Ed25519 signature.
const sigSize = 8 + ed25519.SignatureSize

// cosignedMessage returns what a cosignature/v1 signs: the header line,
// the timestamp line, then the checkpoint body.
func cosignedMessage(t uint64, body []byte) []byte {
	m := make([]byte, 0, len("cosignature/v1\ntime \n")+20+len(body))
	m = append(m, "cosignature/v1\ntime "...)
	m = strconv.AppendUint(m, t, 10)
	m = append(m, '\n')
	return append(m, body...)
}

// validName reports whether name can name a signed-note key: non-empty
// UTF-8 with no Unicode space and no plus sign.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// cosigner makes cosignature/v1 signatures.
type cosigner struct {
	name string
	id   uint32
	key  ed25519.PrivateKey
	now  func() time.Time
}

// NewSigner returns a note.Signer that makes C2SP tlog-cosignature
// cosignature/v1 signatures with key under name: the signature is an
// 8-byte big-endian POSIX timestamp taken from now (time.Now when nil)
// followed by the Ed25519 signature of "cosignature/v1\ntime <t>\n" and
// the checkpoint body, and the key ID is SHA-256(name || "\n" || 0x04 ||
// public key)[:4]. It signs only canonical checkpoint bodies.
//
// A Witness makes its cosignatures with it; use it directly only to
// cosign outside the add-checkpoint protocol (for example in tests).
func NewSigner(name string, key ed25519.PrivateKey, now func() time.Time) (note.Signer, error) {
	if !validName(name) {
		return nil, fmt.Errorf("audit: witness: key name %q is empty or holds a space or a plus sign", name)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("audit: witness: private key of %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if now == nil {
		now = time.Now
	}
	pub := key.Public().(ed25519.PublicKey)
	return &cosigner{name: name, id: checkpoint.KeyID(name, algCosignatureV1, pub), key: key, now: now}, nil
}

func (s *cosigner) Name() string    { return s.name }
func (s *cosigner) KeyHash() uint32 { return s.id }

func (s *cosigner) Sign(msg []byte) ([]byte, error) {
	if _, err := checkpoint.Parse(msg); err != nil {
		return nil, fmt.Errorf("audit: witness: cosign: %w", err)
	}
	t := s.now().Unix()
	if t <= 0 {
		return nil, fmt.Errorf("audit: witness: cosign: clock reads %d, before 1970", t)
	}
	sig := make([]byte, 0, sigSize)
	sig = binary.BigEndian.AppendUint64(sig, uint64(t))
	return append(sig, ed25519.Sign(s.key, cosignedMessage(uint64(t), msg))...), nil
}

// cosignatureVerifier checks cosignature/v1 signatures.
type cosignatureVerifier struct {
	name string
	id   uint32
	pub  ed25519.PublicKey
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.id }

func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != sigSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t == 0 || t > math.MaxInt64 {
		return false
	}
	if _, err := checkpoint.Parse(msg); err != nil {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(t, msg), sig[8:])
}

// VerifierKey returns the signed-note verifier key of a witness: name,
// the hex key ID, and the base64 of 0x04 || the Ed25519 public key, the
// form C2SP tlog-cosignature gives for cosigner keys and the form
// NewVerifier reads.
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("audit: witness: key name %q is empty or holds a space or a plus sign", name)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("audit: witness: public key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	key := append([]byte{algCosignatureV1}, pub...)
	return fmt.Sprintf("%s+%08x+%s", name, checkpoint.KeyID(name, algCosignatureV1, pub), base64.StdEncoding.EncodeToString(key)), nil
}

// NewVerifier returns the note.Verifier of a witness's cosignatures from
// its verifier key (see VerifierKey). It refuses keys of any other
// signature type, and a key ID that does not match the key.
func NewVerifier(vkey string) (note.Verifier, error) {
	name, rest, _ := strings.Cut(vkey, "+")
	id16, key64, _ := strings.Cut(rest, "+")
	id, err1 := strconv.ParseUint(id16, 16, 32)
	key, err2 := base64.StdEncoding.Strict().DecodeString(key64)
	if !validName(name) || len(id16) != 8 || err1 != nil || err2 != nil || len(key) != 1+ed25519.PublicKeySize {
		return nil, fmt.Errorf("audit: witness: malformed verifier key %q", vkey)
	}
	if key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("audit: witness: verifier key %q has signature type %#02x, want %#02x (cosignature/v1)", vkey, key[0], algCosignatureV1)
	}
	pub := ed25519.PublicKey(key[1:])
	if want := checkpoint.KeyID(name, algCosignatureV1, pub); uint32(id) != want {
		return nil, fmt.Errorf("audit: witness: verifier key %q: key ID %s, want %08x", vkey, id16, want)
	}
	return &cosignatureVerifier{name: name, id: uint32(id), pub: pub}, nil
}

// Timestamp returns the time a cosignature was made, from its first 8
// bytes after the key ID. It checks no signature.
func Timestamp(sig note.Signature) (time.Time, error) {
	b, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(b) != 4+sigSize {
		return time.Time{}, fmt.Errorf("audit: witness: %q is not a cosignature/v1 signature", sig.Base64)
	}
	t := binary.BigEndian.Uint64(b[4:])
	if t > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("audit: witness: cosignature timestamp %d out of range", t)
	}
	return time.Unix(int64(t), 0).UTC(), nil
}

// ErrTooFewCosignatures is returned by VerifyCosignatures when fewer than
// k of the witnesses cosigned the checkpoint.
var ErrTooFewCosignatures = errors.New("audit: witness: too few witness cosignatures")

// VerifyCosignatures checks a signed checkpoint (a note) for a valid
// signature by the log's key and valid cosignatures by at least k
// distinct keys among witnesses, and returns the checkpoint. The body
// must be a canonical checkpoint of origin.
//
// witnesses should be verifiers made by NewVerifier; a key listed twice
// counts once. Signatures by keys neither the log's nor listed are
// ignored. A signature that claims a known key's name and ID but does not
// verify fails the whole note, as C2SP signed-note advises. Errors are
// checkpoint.ErrUnverified when the log's signature is missing or bad,
// and ErrTooFewCosignatures when fewer than k witnesses cosigned.
//
// A cosignature says the witness saw this tree head as the largest one,
// consistent with all it had seen of the log, at its timestamp; it says
// nothing about extension lines. Timestamps are not checked against a
// clock: use Timestamp on the note's signatures for a freshness policy.
func VerifyCosignatures(msg []byte, origin string, log note.Verifier, witnesses []note.Verifier, k int) (checkpoint.Checkpoint, error) {
	if log == nil {
		return checkpoint.Checkpoint{}, errors.New("audit: witness: verify cosignatures: nil log verifier")
	}
	type keyRef struct {
		name string
		id   uint32
	}
	known := []note.Verifier{log}
	seen := map[keyRef]bool{{log.Name(), log.KeyHash()}: true}
	for _, w := range witnesses {
		if w == nil {
			return checkpoint.Checkpoint{}, errors.New("audit: witness: verify cosignatures: nil witness verifier")
		}
		r := keyRef{w.Name(), w.KeyHash()}
		if r == (keyRef{log.Name(), log.KeyHash()}) {
			return checkpoint.Checkpoint{}, fmt.Errorf("audit: witness: verify cosignatures: witness key %s+%08x is the log's key", r.name, r.id)
		}
		if !seen[r] {
			seen[r] = true
			known = append(known, w)
		}
	}
	if k < 0 || k > len(known)-1 {
		return checkpoint.Checkpoint{}, fmt.Errorf("audit: witness: verify cosignatures: k = %d with %d distinct witness keys", k, len(known)-1)
	}
	n, err := note.Open(msg, note.VerifierList(known...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return checkpoint.Checkpoint{}, fmt.Errorf("%w: %w", checkpoint.ErrUnverified, err)
		}
		return checkpoint.Checkpoint{}, fmt.Errorf("audit: witness: verify cosignatures: %w", err)
	}
	logSigned, cosigned := false, 0
	for _, s := range n.Sigs {
		if s.Name == log.Name() && s.Hash == log.KeyHash() {
			logSigned = true
		} else {
			cosigned++ // note.Open keeps one signature per key
		}
	}
	if !logSigned {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w (%s): only witness signatures", checkpoint.ErrUnverified, log.Name())
	}
	c, err := checkpoint.Parse([]byte(n.Text))
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("audit: witness: verify cosignatures: %w", err)
	}
	if c.Origin != origin {
		return checkpoint.Checkpoint{}, fmt.Errorf("audit: witness: verify cosignatures: %w: origin %q, want %q", checkpoint.ErrMalformed, c.Origin, origin)
	}
	if cosigned < k {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: %d of %d required", ErrTooFewCosignatures, cosigned, k)
	}
	return c, nil
}

// signatureLines formats signatures as signed-note signature lines.
func signatureLines(sigs []note.Signature) []byte {
	var b bytes.Buffer
	for _, s := range sigs {
		b.WriteString("— ")
		b.WriteString(s.Name)
		b.WriteByte(' ')
		b.WriteString(s.Base64)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
