package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/trailmark/audit/chain"
)

// readKeyring reads the key file at path ($AUDIT_KEYS when empty) with
// chain.ReadKeyFile. It warns on stderr when the file may be read by its
// group or by others. Its errors never quote the file's content.
func (c cli) readKeyring(path string) (*chain.KeyFile, error) {
	if path == "" {
		path = os.Getenv("AUDIT_KEYS")
	}
	if path == "" {
		return nil, errors.New("no key file: pass --keys or set AUDIT_KEYS")
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
