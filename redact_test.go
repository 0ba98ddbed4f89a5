package audit

import (
	"bytes"
	"strings"
	"testing"
)

// TestRedactionBypasses: each key was stored in clear before keys were
// normalised; each innocent key must stay in clear.
func TestRedactionBypasses(t *testing.T) {
	tests := []struct {
		key    string
		secret bool
	}{
		{strings.Repeat("a", 250) + "_password", true}, // longer than the stored key
		{strings.Repeat("é", 200) + "password", true},
		{"pass\xffword", true},
		{"p\u0430ssword", true},  // Cyrillic а
		{"ＰＡＳＳＷＯＲＤ", true},       // fullwidth
		{"pass\u200bword", true}, // zero-width space
		{"pass\u00adword", true}, // soft hyphen
		{"\ufeffpassword", true}, // byte-order mark
		{"pass\u202eword", true}, // bidi override
		{"pass\u3164word", true}, // Hangul filler: a letter, and default-ignorable
		{"pass\u115fword", true}, // Hangul choseong filler
		{"pass\u1160word", true}, // Hangul jungseong filler
		{"pass\uffa0word", true}, // halfwidth Hangul filler
		{"p\u3164in", true},
		{"to\U000E0020ken", true}, // tag space
		{"se\u180bcret", true},    // Mongolian free variation selector
		{"to\u212aen", true},      // Kelvin sign K
		{"\u017fecret", true},     // long s
		{"ѕеcrеt", true},          // Cyrillic ѕ, е
		{"ΤΟΚΕΝ", true},           // Greek capitals
		{"pässword", true},        // a mark
		{"api:key", true},         // separators
		{"api/key", true},
		{"api\tkey", true},
		{"pwd", true},
		{"old_pwd", true},
		{"pin", true},
		{"userPin", true},
		{"PIN", true},
		{"pin_code", true},
		{"card-pin2", true},
		{"otp", true},
		{"OTPCode", true},
		{"totp", true},
		{"ssn", true},
		{"customer_ssn", true},
		{"auth", true},
		{"X-Auth", true},
		{"basic_auth", true},
		{"access_key_id", true},
		{"AWS_ACCESS_KEY", true},
		{"cvv", true},
		{"ｐｉｎ", true},
		{"р\u0131n", true}, // Cyrillic р, dotless ı

		{"spinner", false},
		{"shipping", false},
		{"author", false},
		{"authors", false},
		{"pinned", false},
		{"opinion", false},
		{"topping", false},
		{"isbn", false},
		{"lessness", false},
		{"session_id", false},
		{"user_id", false},
		{"email", false},
		{"keyboard", false},
		{"spin", false},
		{"aspinwall", false},
		{"photo", false},
		{"mapping", false},
	}
	c := defaultCleaner()
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			ev := validEvent()
			ev.Details = map[string]any{tt.key: "hunter2-MARK", "nested": map[string]any{tt.key: "hunter2-MARK"}}
			ev.Changes = map[string]Change{tt.key: {Before: "hunter2-MARK", After: "x"},
				"profile": {Before: map[string]any{tt.key: "hunter2-MARK"}}}
			r := mustClean(t, c, ev)
			for _, b := range [][]byte{r.Details, r.Changes} {
				if got := bytes.Count(b, []byte("hunter2-MARK")); tt.secret && got != 0 || !tt.secret && got == 0 {
					t.Errorf("key %q (secret: %v): got %s", tt.key, tt.secret, b)
				}
			}
		})
	}
}

// TestRedactionNestedChanges: secrets inside the before and after values
// of a change are redacted, not only changes whose field is a secret.
func TestRedactionNestedChanges(t *testing.T) {
	ev := validEvent()
	ev.Changes = map[string]Change{
		"credentials": {Before: map[string]any{"api_key": "k1"}, After: map[string]any{"api_key": "k2"}},
		"settings":    {Before: map[string]any{"api_key": "k1", "theme": "dark"}, After: []any{map[string]any{"password": "p"}}},
	}
	r := mustClean(t, defaultCleaner(), ev)
	want := `{"credentials":{"after":"[REDACTED]","before":"[REDACTED]"},"settings":{"after":[{"password":"[REDACTED]"}],"before":{"api_key":"[REDACTED]","theme":"dark"}}}`
	if string(r.Changes) != want {
		t.Errorf("got  %s\nwant %s", r.Changes, want)
	}
}

// TestRedactionCustomShortKey: fragments given in Redaction.Keys follow
// the same rules: short ones match whole words.
func TestRedactionCustomShortKey(t *testing.T) {
	c := newCleaner(Redaction{Keys: []string{"DOB", "Mother_Maiden"}, NoDefaults: true}, Limits{}.withDefaults())
	ev := validEvent()
	ev.Details = map[string]any{"user_dob": 1, "dobby": 2, "motherMaidenName": 3, "password": 4}
	r := mustClean(t, c, ev)
	if want := `{"dobby":2,"motherMaidenName":"[REDACTED]","password":4,"user_dob":"[REDACTED]"}`; string(r.Details) != want {
		t.Errorf("got  %s\nwant %s", r.Details, want)
	}
}

func TestKeyNormWords(t *testing.T) {
	tests := []struct{ key, want string }{
		{"userPin", "user pin"},
		{"OTPCode", "otp code"},
		{"X-Auth-Token", "x auth token"},
		{"card2pin", "card 2 pin"},
		{"ＡＰＩ＿ＫＥＹ", "api key"},
		{"pass\u200bword", "password"},
		{"", ""},
	}
	var n keyNorm
	for _, tt := range tests {
		n.normalize(tt.key)
		var words []string
		for i, s := range n.words {
			e := len(n.text)
			if i+1 < len(n.words) {
				e = n.words[i+1]
			}
			words = append(words, string(n.text[s:e]))
		}
		if got := strings.Join(words, " "); got != tt.want {
			t.Errorf("words of %q: got %q, want %q", tt.key, got, tt.want)
		}
	}
}

func BenchmarkRedactionMatch(b *testing.B) {
	c := defaultCleaner()
	e := c.pool.Get().(*encoder)
	keys := []string{"title", "X-Request-Id", "user_password", "shippingAddress", "ｐａｓｓ"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.secret(keys[i%len(keys)])
	}
}
