package checkpoint

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// algEd25519 is the signed-note signature type of plain Ed25519.
const algEd25519 = 0x01

// SignerKey returns the signed-note signer key ("PRIVATE+KEY+name+id+…")
// of the Ed25519 private key priv under name, the form note.NewSigner
// reads. Keep it secret: it holds the private key's seed.
func SignerKey(name string, priv ed25519.PrivateKey) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("audit: checkpoint: signer key: private key of %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pub := priv.Public().(ed25519.PublicKey)
	seed := append([]byte{algEd25519}, priv.Seed()...)
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, KeyID(name, algEd25519, pub), base64.StdEncoding.EncodeToString(seed)), nil
}

// VerifierKey returns the signed-note verifier key ("name+id+…") of the
// Ed25519 public key pub under name, the form note.NewVerifier reads and
// the form to publish.
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", fmt.Errorf("audit: checkpoint: verifier key: %w", err)
	}
	return vkey, nil
}

// NewSigner returns a note.Signer that signs with priv under name. For a
// log, name should be the log's origin. name must be non-empty and hold no
// space or plus sign.
func NewSigner(name string, priv ed25519.PrivateKey) (note.Signer, error) {
	skey, err := SignerKey(name, priv)
	if err != nil {
		return nil, err
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: signer for %q: %w", name, err)
	}
	return s, nil
}

// NewVerifier returns a note.Verifier of Ed25519 signatures by pub under
// name.
func NewVerifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := VerifierKey(name, pub)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: verifier for %q: %w", name, err)
	}
	return v, nil
}

// KeyID returns the signed-note key ID of a public key: the first four
// bytes, big-endian, of SHA-256(name || "\n" || alg || pub). alg is the
// signature type: 0x01 for Ed25519 note signatures, 0x04 for Ed25519
// cosignatures (c2sp.org/tlog-cosignature).
func KeyID(name string, alg byte, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}
