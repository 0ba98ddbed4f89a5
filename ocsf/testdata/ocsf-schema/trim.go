//go:build ignore

// Trim rewrites dictionary.json in this directory to the dictionary
// attributes that the class, object and profile files beside it name, and
// all its types, each entry unchanged. Run it from this directory after
// copying the files from a checkout of github.com/ocsf/ocsf-schema:
//
//	go run trim.go
package main

import (
	"encoding/json"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	used := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || path == "dictionary.json" ||
			path == "categories.json" || path == "version.json" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var f struct {
			Attributes map[string]json.RawMessage `json:"attributes"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		for name := range f.Attributes {
			used[name] = true
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile("dictionary.json")
	if err != nil {
		log.Fatal(err)
	}
	var dict map[string]json.RawMessage
	if err := json.Unmarshal(b, &dict); err != nil {
		log.Fatal(err)
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(dict["attributes"], &attrs); err != nil {
		log.Fatal(err)
	}
	for name := range attrs {
		if !used[name] {
			delete(attrs, name)
		}
	}
	if dict["attributes"], err = json.Marshal(attrs); err != nil {
		log.Fatal(err)
	}
	out, err := json.MarshalIndent(dict, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("dictionary.json", append(out, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}
