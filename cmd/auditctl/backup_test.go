package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storetest"
)

// TestBackupCommand: auditctl backup copies a sealed SQLite file, and
// auditctl verify passes on the copy; it refuses to overwrite a file and
// to back up PostgreSQL.
func TestBackupCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.db")
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, storetest.Records(0, 30)...); err != nil {
		t.Fatal(err)
	}
	st.Close(context.Background())
	keys := keyFile(t)
	if code, out, errOut := ctl(t, "seal", "-db", "sqlite:"+path, "-keys", keys); code != 0 || !strings.Contains(out, "sealed 30 record(s)") {
		t.Fatalf("seal: exit %d: %s%s", code, out, errOut)
	}
	backup := filepath.Join(dir, "backup.db")
	if code, _, errOut := ctl(t, "backup", "-db", "sqlite:"+path, "-o", backup); code != 0 || !strings.Contains(errOut, "wrote "+backup) {
		t.Fatalf("backup: exit %d: %s", code, errOut)
	}
	if code, out, errOut := ctl(t, "verify", "-db", "sqlite:"+backup, "-keys", keys, "-q"); code != 0 || !strings.Contains(out, "30 records verified") {
		t.Errorf("verify the backup: exit %d: %s%s", code, out, errOut)
	}
	before, _ := os.ReadFile(backup)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"existing file", []string{"-db", "sqlite:" + path, "-o", backup}, "exists"},
		{"no -o", []string{"-db", "sqlite:" + path}, "-o FILE is required"},
		{"postgres", []string{"-db", "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", "-o", filepath.Join(dir, "pg.db")}, "back up PostgreSQL with its own tools"},
	}
	for _, tt := range tests {
		code, _, errOut := ctl(t, append([]string{"backup"}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d: %s; want exit 2 and %q", tt.name, code, errOut, tt.want)
		}
	}
	if after, _ := os.ReadFile(backup); string(after) != string(before) {
		t.Error("a refused backup changed the existing file")
	}
}
