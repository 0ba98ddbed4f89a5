package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/trailmark/audit"
)

// keyring is the key file auditctl reads: the chain keys (secret), the
// checkpoint signer (secret) and the signers' public keys. A verifier
// needs hmac_keys and public_keys only.
type keyring struct {
	HMACKeys []struct {
		ID     string `json:"id"`
		Secret []byte `json:"secret"` // base64
	} `json:"hmac_keys"`
	// Current is the ID of the HMAC key new seals use; default the last.
	Current string `json:"current,omitempty"`
	Signer  *struct {
		ID         string `json:"id"`
		PrivateKey []byte `json:"private_key"` // base64, 64 bytes
	} `json:"signer,omitempty"`
	PublicKeys []struct {
		ID        string `json:"id"`
		PublicKey []byte `json:"public_key"` // base64, 32 bytes
	} `json:"public_keys"`
}

// readKeyring reads the key file at path ($AUDIT_KEYRING when empty). It
// warns on stderr when the file may be read by its group or by others.
// Its errors never quote the file's content.
func (c cli) readKeyring(path string) (*keyring, error) {
	if path == "" {
		path = os.Getenv("AUDIT_KEYRING")
	}
	if path == "" {
		return nil, errors.New("no key file: pass --keys or set AUDIT_KEYRING")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(c.stderr, "auditctl: warning: key file %s has mode %04o: its group or others may read the keys; run chmod 600 %s\n",
			path, fi.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	var k keyring
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("key file %s: %s", path, jsonErrorWithoutContent(err))
	}
	for _, h := range k.HMACKeys {
		if h.ID == "" || len(h.Secret) < 32 {
			return nil, fmt.Errorf("key file %s: every HMAC key needs an id and a secret of at least 32 bytes", path)
		}
	}
	if k.Signer != nil && len(k.Signer.PrivateKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("key file %s: signer private_key must be %d bytes", path, ed25519.PrivateKeySize)
	}
	for _, p := range k.PublicKeys {
		if len(p.PublicKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key file %s: public key %q must be %d bytes", path, p.ID, ed25519.PublicKeySize)
		}
	}
	return &k, nil
}

// jsonErrorWithoutContent describes a decoding error of a key file
// without the text encoding/json quotes from it (a syntax error names the
// offending character, which may be part of a key).
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

func (k *keyring) verifyOptions() audit.VerifyOptions {
	o := audit.VerifyOptions{Keys: map[string][]byte{}, PublicKeys: map[string]ed25519.PublicKey{}}
	for _, h := range k.HMACKeys {
		o.Keys[h.ID] = h.Secret
	}
	for _, p := range k.PublicKeys {
		o.PublicKeys[p.ID] = p.PublicKey
	}
	if k.Signer != nil {
		o.PublicKeys[k.Signer.ID] = ed25519.PrivateKey(k.Signer.PrivateKey).Public().(ed25519.PublicKey)
	}
	return o
}

func (k *keyring) sealerConfig() (audit.SealerOptions, error) {
	var c audit.SealerOptions
	if len(k.HMACKeys) == 0 {
		return c, errors.New("the key file has no HMAC key")
	}
	cur := k.HMACKeys[len(k.HMACKeys)-1]
	for _, h := range k.HMACKeys {
		if h.ID == k.Current {
			cur = h
		}
	}
	c.Key = audit.HMACKey{ID: cur.ID, Secret: cur.Secret}
	c.PublicKeys = k.verifyOptions().PublicKeys // stored checkpoints by these signers steer the Sealer
	if k.Signer != nil {
		c.Signer = &audit.Signer{ID: k.Signer.ID, Key: k.Signer.PrivateKey}
	}
	return c, nil
}

// writeNewKeyring writes a fresh key file: one HMAC key, one signer, and
// the signer's public key.
func writeNewKeyring(w io.Writer, hmacID, signerID string) error {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	var k keyring
	k.HMACKeys = append(k.HMACKeys, struct {
		ID     string `json:"id"`
		Secret []byte `json:"secret"`
	}{hmacID, secret})
	k.Current = hmacID
	k.Signer = &struct {
		ID         string `json:"id"`
		PrivateKey []byte `json:"private_key"`
	}{signerID, priv}
	k.PublicKeys = append(k.PublicKeys, struct {
		ID        string `json:"id"`
		PublicKey []byte `json:"public_key"`
	}{signerID, pub})
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(k)
}
