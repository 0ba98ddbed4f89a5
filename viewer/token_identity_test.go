package viewer

import (
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit"
)

// TestTokenIdentities: a token takes exactly the identities an event may
// hold (audit.CheckID): every scope of valid ids, each at the limit and
// made of the characters JSON escapes the most, is issued and verified;
// an id one byte over the limit is refused at Issue. Before, Issue took
// ids of 4 KiB, which the Logger cut to 1 KiB, and Verify refused a token
// over 4,096 bytes that Issue had returned.
func TestTokenIdentities(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tk := testTokens(t, &now)
	for _, c := range []string{"<", "\u2028", "é", "𝄞", `"`} {
		id := strings.Repeat(c, audit.MaxIDBytes/len(c))
		s := Scope{Subject: id, TenantID: id, UserID: id, ResourceType: id, ResourceID: id}
		tok, err := tk.Issue(s)
		if err != nil {
			t.Errorf("Issue of five ids of %d bytes of %q: %v", len(id), c, err)
			continue
		}
		if got, err := tk.Verify(tok); err != nil || got != s {
			t.Errorf("Verify of a token of %d bytes (five ids of %q): %v", len(tok), c, err)
		}
	}
	over := strings.Repeat("t", audit.MaxIDBytes) + "a"
	for _, s := range []Scope{
		{Subject: over},
		{Subject: "s", TenantID: over},
		{Subject: "s", TenantID: "inv\xff"},
		{Subject: "s", UserID: "u\n"},
		{Subject: "s", ResourceType: "t", ResourceID: over},
	} {
		if _, err := tk.Issue(s); err == nil || !strings.Contains(err.Error(), "audit: viewer: Scope") {
			t.Errorf("Issue(%.40q…): %v, want it refused", s, err)
		}
	}
}
