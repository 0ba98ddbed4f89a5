package witness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"
)

// logState is what the witness keeps of one log: the tree head it last
// cosigned, and that checkpoint with the log's signatures and its own
// cosignature, for monitors.
type logState struct {
	Size       int64     `json:"size"`
	Hash       tlog.Hash `json:"hash"`
	Checkpoint string    `json:"checkpoint"`
}

// stateFile is the JSON document the witness keeps on disk.
type stateFile struct {
	Logs map[string]logState `json:"logs"`
}

// loadState reads the state file at path; a missing file is an empty
// state (a witness that never cosigned). A file that cannot be read or
// parsed is an error: starting over from nothing would let the log fork.
func loadState(path string) (map[string]logState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]logState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: witness: state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("audit: witness: state file %s is corrupt (not starting over, which would forget what was cosigned): %w", path, err)
	}
	if f.Logs == nil {
		f.Logs = map[string]logState{}
	}
	for origin, s := range f.Logs {
		if s.Size < 0 {
			return nil, fmt.Errorf("audit: witness: state file %s: log %q has size %d", path, origin, s.Size)
		}
	}
	return f.Logs, nil
}

// saveState writes logs to path atomically and durably: a temporary file
// in the same directory is written and synced, renamed over path, and the
// directory is synced, so that after a crash the file holds either the
// old state or the new one, never a mix, and a cosignature returned after
// saveState is never forgotten.
func saveState(path string, logs map[string]logState) (err error) {
	b, err := json.MarshalIndent(stateFile{Logs: logs}, "", "\t")
	if err != nil {
		return fmt.Errorf("audit: witness: state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("audit: witness: state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit: witness: state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("audit: witness: state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("audit: witness: state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("audit: witness: state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit: witness: state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("audit: witness: state: sync %s: %w", dir, err)
	}
	return nil
}
