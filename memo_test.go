package audit

import (
	"strings"
	"testing"
	"unsafe"
)

// TestSecretMemo: the encoder's memo of which keys are secrets answers as
// matching does, for keys seen before and after it is full, and is not
// fooled by a key whose memory the caller changes after logging (a string
// made with unsafe.String over a reused buffer, as zero-copy decoders do).
func TestSecretMemo(t *testing.T) {
	c := defaultCleaner()
	redacted := func(key string) bool {
		t.Helper()
		ev := validEvent()
		ev.Details = map[string]any{key: "v"}
		r, err := c.clean(&ev)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(r.Details), Redacted)
	}
	buf := []byte("password")
	shared := unsafe.String(&buf[0], len(buf))
	e := &encoder{c: c}
	if !c.secret(e, shared) {
		t.Fatalf("%q is not a secret", shared)
	}
	copy(buf, "username")
	for k, secret := range e.secrets {
		if k == "username" && secret {
			t.Errorf(`the memo holds "username" as a secret: it kept the caller's memory of "password"`)
		}
	}
	for i := range 3 * maxMemoKeys {
		k := "field" + strings.Repeat("x", i%50) + string(rune('a'+i%26))
		if redacted(k) {
			t.Fatalf("%q redacted", k)
		}
		if !redacted("api_key") || !redacted("userPin") || redacted("spinner") {
			t.Fatalf("after %d keys: api_key, userPin redacted and spinner not, want all three right", i)
		}
	}
}
