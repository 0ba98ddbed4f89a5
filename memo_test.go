package audit

import (
	"strconv"
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
		r, err := c.clean(&ev, nil)
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
	for k, m := range e.secrets {
		if k == "username" && m.secret || m.k != k {
			t.Errorf(`the memo holds %q as %+v: it kept the caller's memory of "password"`, k, m)
		}
	}
	for _, m := range e.memo {
		if m.k == "username" && m.secret {
			t.Errorf(`the memo's table holds "username" as a secret: it kept the caller's memory of "password"`)
		}
	}
	if c.secret(e, shared) {
		t.Errorf(`"username" is a secret`)
	}
	// two keys of one slot of the table, a secret and not, in turn
	var other string
	for i := 0; other == ""; i++ {
		if k := "note" + strconv.Itoa(i); memoSlot(k) == memoSlot("token") {
			other = k
		}
	}
	for range 4 {
		if !c.secret(e, "token") || c.secret(e, other) {
			t.Fatalf(`"token" and %q share a slot: want a secret and not`, other)
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
