package main

import (
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit"
)

// TestTenantAges checks --tenant-max-age: the tenant is everything before
// the last '=' (a duration holds none), so that an id holding '=' is
// taken whole; an id that is not an identity is refused, never cut.
func TestTenantAges(t *testing.T) {
	long := strings.Repeat("t", audit.MaxIDBytes)
	tests := []struct {
		flags  []string
		want   map[string]time.Duration // nil: refused
		errMsg string
	}{
		{[]string{"org-1=720h"}, map[string]time.Duration{"org-1": 720 * time.Hour}, ""},
		{[]string{"org=eu=8760h"}, map[string]time.Duration{"org=eu": 8760 * time.Hour}, ""},
		{[]string{"a==1h"}, map[string]time.Duration{"a=": time.Hour}, ""},
		{[]string{"org 1=1h", "org=1=2h"}, map[string]time.Duration{"org 1": time.Hour, "org=1": 2 * time.Hour}, ""},
		{[]string{long + "=1h"}, map[string]time.Duration{long: time.Hour}, ""},
		{[]string{long + "x=1h"}, nil, "longer than 1024 bytes"},
		{[]string{"inv\xff=1h"}, nil, "not valid UTF-8"},
		{[]string{"a\tb=1h"}, nil, "control character U+0009"},
		{[]string{"org-1"}, nil, "want tenant=duration"},
		{[]string{"=1h"}, nil, "want tenant=duration"},
		{[]string{"org=1h="}, nil, "want a positive duration"},
		{[]string{"org=-1h"}, nil, "want a positive duration"},
		{[]string{"org=1h", "org=2h"}, nil, "given twice"},
	}
	for _, tt := range tests {
		got := tenantAges{}
		var err error
		for _, f := range tt.flags {
			if err = got.Set(f); err != nil {
				break
			}
		}
		switch {
		case tt.want == nil && (err == nil || !strings.Contains(err.Error(), tt.errMsg)):
			t.Errorf("%.40q: got %v, want an error saying %q", tt.flags, err, tt.errMsg)
		case tt.want == nil:
			if len(err.Error()) > 200 {
				t.Errorf("%.40q: an error of %d bytes echoes the id", tt.flags, len(err.Error()))
			}
		case err != nil:
			t.Errorf("%.40q: %v", tt.flags, err)
		case len(got) != len(tt.want):
			t.Errorf("%.40q: got %d tenants, want %d", tt.flags, len(got), len(tt.want))
		default:
			for k, d := range tt.want {
				if got[k] != d {
					t.Errorf("%.40q: tenant %.40q kept %v, want %v", tt.flags, k, got[k], d)
				}
			}
		}
	}
}
