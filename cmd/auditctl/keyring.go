package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/trailmark/audit/chain"
)

// keyring is the key file keygen writes, in the format chain.KeyFile
// documents and chain.ReadKeyFile reads.
type keyring struct {
	HMACKeys []struct {
		ID     string `json:"id"`
		Secret []byte `json:"secret"` // base64
	} `json:"hmac_keys"`
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

// readKeyring reads the key file at path ($AUDIT_KEYRING when empty) with
// chain.ReadKeyFile. It warns on stderr when the file may be read by its
// group or by others. Its errors never quote the file's content.
func (c cli) readKeyring(path string) (*chain.KeyFile, error) {
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
	k, err := chain.ReadKeyFile(f)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
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
