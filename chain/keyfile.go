package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
)

// KeyFile holds the keys of a key file, the JSON file that auditctl
// keygen writes and that a service's Sealer and auditctl share:
//
//	{
//	  "hmac_keys": [{"id": "k1", "secret": "<base64>"}],
//	  "current": "k1",
//	  "signer": {"id": "s1", "private_key": "<base64>"},
//	  "public_keys": [{"id": "s1", "public_key": "<base64>"}]
//	}
//
// hmac_keys are the chain keys, each with an ID and a secret of at least
// 32 bytes: every key that ever sealed records (Verify needs them all).
// current is the ID of the key new seals use; without it, the last one.
// signer, optional, is the Ed25519 private key (64 bytes, as
// crypto/ed25519 holds it) that signs checkpoints. public_keys are the
// Ed25519 public keys (32 bytes) of the signers whose checkpoints are
// trusted, by signer ID. Byte strings are standard base64, padded, as
// encoding/json writes []byte. A verifier needs hmac_keys and
// public_keys only: give it a file without signer. The file holds
// secrets: keep it mode 0600, out of the database and out of code.
type KeyFile struct {
	keys       []HMACKey
	current    HMACKey
	signer     *SigningKey
	publicKeys map[string]ed25519.PublicKey
}

// keyFileJSON is the format documented at KeyFile.
type keyFileJSON struct {
	HMACKeys []struct {
		ID     string `json:"id"`
		Secret []byte `json:"secret"`
	} `json:"hmac_keys"`
	Current string `json:"current,omitempty"`
	Signer  *struct {
		ID         string `json:"id"`
		PrivateKey []byte `json:"private_key"`
	} `json:"signer,omitempty"`
	PublicKeys []struct {
		ID        string `json:"id"`
		PublicKey []byte `json:"public_key"`
	} `json:"public_keys"`
}

// maxKeyFile bounds what ReadKeyFile reads.
const maxKeyFile = 1 << 20

// ReadKeyFile reads a key file (see KeyFile) from r, at most 1 MiB. It
// refuses a file without HMAC keys, with a key too short, or whose
// current names no key. Its errors never quote the file's content.
func ReadKeyFile(r io.Reader) (*KeyFile, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("audit: key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("audit: key file: larger than %d bytes", maxKeyFile)
	}
	var j keyFileJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("audit: key file: %s", jsonErrorWithoutContent(err))
	}
	k := &KeyFile{publicKeys: map[string]ed25519.PublicKey{}}
	if len(j.HMACKeys) == 0 {
		return nil, errors.New("audit: key file: no HMAC key")
	}
	for _, h := range j.HMACKeys {
		if h.ID == "" || len(h.Secret) < 32 {
			return nil, errors.New("audit: key file: every HMAC key needs an id and a secret of at least 32 bytes")
		}
		k.keys = append(k.keys, HMACKey{ID: h.ID, Secret: h.Secret})
	}
	k.current = k.keys[len(k.keys)-1]
	if j.Current != "" {
		found := false
		for _, h := range k.keys {
			if h.ID == j.Current {
				k.current, found = h, true
			}
		}
		if !found {
			return nil, fmt.Errorf("audit: key file: current names %q, which is not among hmac_keys", j.Current)
		}
	}
	for _, p := range j.PublicKeys {
		if p.ID == "" || len(p.PublicKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("audit: key file: public key %q needs an id and %d bytes", p.ID, ed25519.PublicKeySize)
		}
		k.publicKeys[p.ID] = p.PublicKey
	}
	if s := j.Signer; s != nil {
		if s.ID == "" || len(s.PrivateKey) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("audit: key file: the signer needs an id and a private_key of %d bytes", ed25519.PrivateKeySize)
		}
		// an Ed25519 private key is its seed, then the seed's public key:
		// another public half would sign what its own key does not verify
		if !bytes.Equal(ed25519.NewKeyFromSeed(s.PrivateKey[:ed25519.SeedSize]), s.PrivateKey) {
			return nil, errors.New("audit: key file: the signer's private_key is not an Ed25519 key: its public half is not its seed's")
		}
		k.signer = &SigningKey{ID: s.ID, Key: s.PrivateKey}
		k.publicKeys[s.ID] = k.signer.Key.Public().(ed25519.PublicKey)
	}
	return k, nil
}

// jsonErrorWithoutContent describes a decoding error without the text
// encoding/json quotes from the input (a syntax error names the offending
// character, which may be part of a key).
func jsonErrorWithoutContent(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s holds the wrong type (at byte %d)", te.Field, te.Offset)
	}
	return "not a key file (a key is not valid base64, or the JSON is cut short)"
}

// Current returns the HMAC key new seals use: NewSealer's key.
func (k *KeyFile) Current() HMACKey { return k.current }

// HMACKeys returns every chain key by ID: VerifyOptions.Keys.
func (k *KeyFile) HMACKeys() map[string][]byte {
	m := make(map[string][]byte, len(k.keys))
	for _, h := range k.keys {
		m[h.ID] = h.Secret
	}
	return m
}

// SigningKey returns the key that signs checkpoints, or nil when the file
// has none: SealerOptions.SigningKey.
func (k *KeyFile) SigningKey() *SigningKey { return k.signer }

// PublicKeys returns the trusted signers' public keys by ID, the
// signer's own included: SealerOptions.PublicKeys and
// VerifyOptions.PublicKeys.
func (k *KeyFile) PublicKeys() map[string]ed25519.PublicKey { return maps.Clone(k.publicKeys) }

// SealerOptions returns new SealerOptions with the file's SigningKey and
// PublicKeys; the other fields are left to the caller. With Current:
//
//	sealer, err := chain.NewSealer(store, keys.Current(), keys.SealerOptions())
func (k *KeyFile) SealerOptions() *SealerOptions {
	return &SealerOptions{SigningKey: k.signer, PublicKeys: k.PublicKeys()}
}

// VerifyOptions returns new VerifyOptions with the file's HMACKeys and
// PublicKeys; the other fields are left to the caller:
//
//	report, err := chain.Verify(ctx, store, keys.VerifyOptions())
func (k *KeyFile) VerifyOptions() *VerifyOptions {
	return &VerifyOptions{Keys: k.HMACKeys(), PublicKeys: k.PublicKeys()}
}

// WriteNewKeyFile writes a new key file (see KeyFile) to w: one HMAC key
// of 32 random bytes with ID hmacID, current, and one Ed25519 signing key
// with ID signingID and its public key. This is what auditctl keygen
// writes. The file holds secrets: write it to a file of mode 0600.
func WriteNewKeyFile(w io.Writer, hmacID, signingID string) error {
	if hmacID == "" || signingID == "" {
		return errors.New("audit: new key file: the keys need IDs")
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("audit: new key file: %w", err)
	}
	var k keyFileJSON
	k.HMACKeys = append(k.HMACKeys, struct {
		ID     string `json:"id"`
		Secret []byte `json:"secret"`
	}{hmacID, secret})
	k.Current = hmacID
	k.Signer = &struct {
		ID         string `json:"id"`
		PrivateKey []byte `json:"private_key"`
	}{signingID, priv}
	k.PublicKeys = append(k.PublicKeys, struct {
		ID        string `json:"id"`
		PublicKey []byte `json:"public_key"`
	}{signingID, pub})
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(k); err != nil {
		return fmt.Errorf("audit: new key file: %w", err)
	}
	return nil
}
