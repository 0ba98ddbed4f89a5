package chain_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/trailmark/audit/chain"
)

func TestReadKeyFile(t *testing.T) {
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	k1, k2 := b64(bytes.Repeat([]byte{1}, 32)), b64(bytes.Repeat([]byte{2}, 32))
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	pub := priv.Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, 32)).Public().(ed25519.PublicKey)
	hmacs := fmt.Sprintf(`"hmac_keys": [{"id": "k1", "secret": %q}, {"id": "k2", "secret": %q}]`, k1, k2)
	signer := fmt.Sprintf(`"signer": {"id": "s1", "private_key": %q}`, b64(priv))
	pubs := fmt.Sprintf(`"public_keys": [{"id": "s0", "public_key": %q}]`, b64(other))
	tests := []struct {
		name, in    string
		wantCurrent string // "" when an error is wanted
		wantErr     string
	}{
		{"current named", `{` + hmacs + `, "current": "k1", ` + signer + `, ` + pubs + `}`, "k1", ""},
		{"current defaults to the last", `{` + hmacs + `}`, "k2", ""},
		{"unknown current", `{` + hmacs + `, "current": "k9"}`, "", "current"},
		{"no HMAC key", `{"hmac_keys": []}`, "", "no HMAC key"},
		{"short secret", `{"hmac_keys": [{"id": "k1", "secret": "AAAA"}]}`, "", "32 bytes"},
		{"bad signer", `{` + hmacs + `, "signer": {"id": "s1", "private_key": "AAAA"}}`, "", "signer"},
		{"bad public key", `{` + hmacs + `, "public_keys": [{"id": "s0", "public_key": "AAAA"}]}`, "", "public key"},
		// the seed of one key and the public half of another: signatures
		// no verifier of its advertised key accepts (found by an outside
		// review, in auditctl's witness keys)
		{"signer with another public half", `{` + hmacs + `, "signer": {"id": "s1", "private_key": "` +
			b64(append(bytes.Clone(priv[:32]), other...)) + `"}}`, "", "public half"},
		{"not JSON", `{"hmac_keys": [{"id": "k1", "secret": "SECRETTEXT"`, "", "key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := chain.ReadKeyFile(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "audit: ") {
					t.Fatalf("got %v, want an error naming %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "SECRETTEXT") {
					t.Errorf("the error quotes the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := k.Current().ID; got != tt.wantCurrent {
				t.Errorf("Current: got %q, want %q", got, tt.wantCurrent)
			}
			if got := k.HMACKeys(); len(got) != 2 || len(got["k1"]) != 32 {
				t.Errorf("HMACKeys: got %d keys, want 2", len(got))
			}
		})
	}

	k, err := chain.ReadKeyFile(strings.NewReader(`{` + hmacs + `, "current": "k1", ` + signer + `, ` + pubs + `}`))
	if err != nil {
		t.Fatal(err)
	}
	so := k.SealerOptions()
	if k.Current().ID != "k1" || so.SigningKey == nil || so.SigningKey.ID != "s1" || !so.PublicKeys["s1"].Equal(pub) || !so.PublicKeys["s0"].Equal(other) {
		t.Errorf("SealerOptions: got key %q, signing key %v, %d public keys", k.Current().ID, so.SigningKey != nil, len(so.PublicKeys))
	}
	vo := k.VerifyOptions()
	if len(vo.Keys) != 2 || len(vo.PublicKeys) != 2 {
		t.Errorf("VerifyOptions: got %d keys and %d public keys, want 2 and 2", len(vo.Keys), len(vo.PublicKeys))
	}
}
