// Package ruleset holds Riposte's default decoders and rules, embedded in
// the binary: Wazuh-format XML written for Riposte (nothing is copied from
// Wazuh's ruleset) that uses Wazuh's rule ids and groups for the same
// detections, so active-response configuration written for Wazuh keeps its
// meaning.
//
// The tree has two directories, decoders/ and rules/. FS exposes it;
// WriteTo copies it to disk for loaders that take file paths, such as
// analysis.Load:
//
//	if err := ruleset.WriteTo(dir); err != nil { ... }
//	eng, err := analysis.Load(analysis.Options{
//		Decoders: []string{filepath.Join(dir, ruleset.DecodersDir)},
//		Rules:    []string{filepath.Join(dir, ruleset.RulesDir)},
//	})
package ruleset

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

// The two directories of the tree.
const (
	DecodersDir = "decoders"
	RulesDir    = "rules"
)

//go:embed decoders/*.xml rules/*.xml
var files embed.FS

// FS returns the embedded tree: decoders/*.xml and rules/*.xml.
func FS() fs.FS { return files }

// WriteTo writes the embedded files into dir/decoders and dir/rules,
// creating the directories as needed and overwriting files of the same
// names. Other files in those directories are left alone.
func WriteTo(dir string) error {
	return fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
