package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/internal/tlogtest"
)

const spec = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

// emptyRoot is the RFC 6962 hash of the empty tree.
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// parseTests are the cases of TestParse and the seeds of FuzzParse.
var parseTests = []struct {
	name string
	text string
	ok   bool
	ext  int
}{
	{"spec example", spec, true, 0},
	{"empty tree", "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", true, 0},
	{"extensions", spec + "ext one\next two\n", true, 2},
	{"unicode origin", "例え.jp/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", true, 0},
	{"empty", "", false, 0},
	{"no final newline", strings.TrimSuffix(spec, "\n"), false, 0},
	{"two lines", "o\n1\n", false, 0},
	{"empty origin", "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"leading zero", "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"plus sign", "o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"negative", "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"minus zero", "o\n-0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"size overflow", "o\n9223372036854775808\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"size with space", "o\n 1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"short hash", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n", false, 0},
	{"unpadded hash", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", false, 0},
	{"non-canonical hash bits", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", false, 0},
	{"url-safe hash", "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"hex hash", "o\n1\n0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62\n", false, 0},
	{"empty extension", spec + "\n", false, 0},
	{"empty extension between", spec + "a\n\nb\n", false, 0},
	{"tab in origin", "o\tx\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"carriage return", "o\r\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"invalid utf-8", "o\xff\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", false, 0},
	{"too big", spec + strings.Repeat("x", MaxBodySize) + "\n", false, 0},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.text))
			if (err == nil) != tt.ok {
				t.Fatalf("Parse(%q) error = %v, want ok = %v", tt.text, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %v, want an error wrapping ErrMalformed", err)
				}
				return
			}
			if len(c.Extensions) != tt.ext {
				t.Fatalf("got %d extension lines, want %d", len(c.Extensions), tt.ext)
			}
			b, err := c.Marshal()
			if err != nil || string(b) != tt.text {
				t.Fatalf("Marshal = %q, %v; want %q", b, err, tt.text)
			}
		})
	}
}

func TestParseSpecExample(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != "example.com/behind-the-sofa" || c.Size != 20852163 || c.Hash.String() != "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=" {
		t.Fatalf("got %+v", c)
	}
	if tr := c.Tree(); tr.N != c.Size || tr.Hash != c.Hash {
		t.Fatalf("Tree() = %+v", tr)
	}
}

func TestMarshalRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Checkpoint
	}{
		{"empty origin", Checkpoint{Size: 1}},
		{"newline in origin", Checkpoint{Origin: "a\nb"}},
		{"negative size", Checkpoint{Origin: "o", Size: -1}},
		{"empty extension", Checkpoint{Origin: "o", Extensions: []string{""}}},
		{"newline in extension", Checkpoint{Origin: "o", Extensions: []string{"a\n"}}},
		{"too big", Checkpoint{Origin: "o", Extensions: []string{strings.Repeat("x", MaxBodySize)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.c.Marshal(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Marshal() = %q, %v; want ErrMalformed", b, err)
			}
		})
	}
}

// testKey is a fixed Ed25519 key, so that key strings can be compared.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// TestKeysMatchNote checks SignerKey and VerifierKey against the strings
// note.GenerateKey makes for the same key.
func TestKeysMatchNote(t *testing.T) {
	t.Parallel()
	const name = "example.com/audit"
	priv := testKey(7)
	wantS, wantV, err := note.GenerateKey(bytes.NewReader(priv.Seed()), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := SignerKey(name, priv)
	if err != nil || s != wantS {
		t.Fatalf("SignerKey = %q, %v; want %q", s, err, wantS)
	}
	v, err := VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil || v != wantV {
		t.Fatalf("VerifierKey = %q, %v; want %q", v, err, wantV)
	}
	nv, err := NewVerifier(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if id := KeyID(name, 0x01, priv.Public().(ed25519.PublicKey)); nv.KeyHash() != id {
		t.Fatalf("KeyID = %08x, verifier's = %08x", id, nv.KeyHash())
	}
	if _, err := NewSigner("has space", priv); err == nil {
		t.Fatal("NewSigner accepted a name with a space")
	}
	if _, err := NewSigner(name, priv[:10]); err == nil {
		t.Fatal("NewSigner accepted a short key")
	}
	if _, err := NewVerifier(name, []byte{1, 2}); err == nil {
		t.Fatal("NewVerifier accepted a short key")
	}
}

// TestSignOpen signs checkpoints of a real tree and opens them with
// note.Open directly and with Open.
func TestSignOpen(t *testing.T) {
	t.Parallel()
	const origin = "example.com/audit"
	var tree tlogtest.Tree
	tree.AppendN("record", 1000)
	priv := testKey(1)
	signer, err := NewSigner(origin, priv)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := NewVerifier(origin, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSigner("other.example/key", testKey(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{0, 1, 255, 256, 1000} {
		c := Checkpoint{Origin: origin, Size: size, Hash: tree.Root(size)}
		msg, err := Sign(c, signer, other)
		if err != nil {
			t.Fatal(err)
		}
		// Straight through x/mod's note.
		n, err := note.Open(msg, note.VerifierList(verifier))
		if err != nil {
			t.Fatalf("note.Open: %v", err)
		}
		if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 {
			t.Fatalf("got %d verified, %d unverified signatures; want 1 and 1", len(n.Sigs), len(n.UnverifiedSigs))
		}
		got, _, err := Open(msg, origin, verifier)
		if err != nil {
			t.Fatal(err)
		}
		if got.Size != size || got.Hash != tree.Root(size) || got.Origin != origin {
			t.Fatalf("Open = %+v, want size %d", got, size)
		}
		if size == 0 && got.Hash != emptyRoot {
			t.Fatalf("empty tree root = %v, want %v", got.Hash, emptyRoot)
		}
		if text, ok := Text(msg); !ok || string(text) != n.Text {
			t.Fatalf("Text = %q, %v; want %q", text, ok, n.Text)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	const origin = "example.com/audit"
	priv := testKey(1)
	signer, _ := NewSigner(origin, priv)
	verifier, _ := NewVerifier(origin, priv.Public().(ed25519.PublicKey))
	impostor, _ := NewSigner(origin, testKey(9)) // same name, other key
	good, err := Sign(Checkpoint{Origin: origin, Size: 5, Hash: tlog.RecordHash([]byte("x"))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	byImpostor, _ := Sign(Checkpoint{Origin: origin, Size: 5}, impostor)
	otherOrigin, _ := Sign(Checkpoint{Origin: "elsewhere.example", Size: 5}, signer)
	tampered := bytes.Replace(good, []byte("\n5\n"), []byte("\n6\n"), 1)
	// A body that is not canonical, but validly signed.
	loose, _ := note.Sign(&note.Note{Text: origin + "\n05\n" + tlog.Hash{}.String() + "\n"}, signer)

	tests := []struct {
		name string
		msg  []byte
		is   error
	}{
		{"impostor key", byImpostor, ErrUnverified},
		{"tampered size", tampered, ErrUnverified},
		{"other origin", otherOrigin, ErrMalformed},
		{"non-canonical body", loose, ErrMalformed},
		{"not a note", []byte("hello\n"), nil},
		{"control character", append([]byte("\x01"), good...), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Open(tt.msg, origin, verifier)
			if err == nil {
				t.Fatal("Open accepted it")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("got %v, want %v", err, tt.is)
			}
			if !strings.HasPrefix(err.Error(), "audit: ") {
				t.Fatalf("error %q lacks the audit: prefix", err)
			}
		})
	}
	if _, _, err := Open(good, origin, nil); err == nil {
		t.Fatal("Open accepted a nil verifier")
	}
	if _, err := Sign(Checkpoint{Origin: origin}); err == nil {
		t.Fatal("Sign without signers succeeded")
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.text))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := Parse(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Canonical: what parses marshals back to the same bytes.
		b, err := c.Marshal()
		if err != nil || !bytes.Equal(b, text) {
			t.Fatalf("Parse(%q) then Marshal = %q, %v", text, b, err)
		}
		// What Parse accepts, x/mod's note accepts as a note text.
		signer, _ := NewSigner("fuzz.example", testKey(3))
		if _, err := note.Sign(&note.Note{Text: string(text)}, signer); err != nil {
			t.Fatalf("note.Sign refused a parsed body: %v", err)
		}
	})
}
