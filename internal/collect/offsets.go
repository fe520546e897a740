package collect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
)

// Position identifies a read position in one specific file.
type Position struct {
	// Dev and Inode identify the file (the device and inode numbers
	// reported by stat on Unix). Both are 0 where unknown.
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
	// Offset is the byte offset just after the last consumed line.
	Offset int64 `json:"offset"`
}

// OffsetStore persists read positions across restarts, keyed by the
// followed path.
type OffsetStore interface {
	// Load returns the position saved for path. The boolean is false
	// when no position has been saved.
	Load(path string) (Position, bool, error)
	// Save records p as the position for path.
	Save(path string, p Position) error
}

// FileOffsets is an OffsetStore kept in one JSON file that maps each
// followed path to its Position. Every Save rewrites the file atomically: a
// temporary file in the same directory is written, synced and renamed over
// the old one, so a crash leaves either the old or the new contents.
//
// A FileOffsets is safe for concurrent use by several Tailers of one
// process. Several processes must not share one file.
type FileOffsets struct {
	path string

	mu  sync.Mutex
	pos map[string]Position
}

// OpenFileOffsets reads the offsets file at path. A missing file is not an
// error: it starts empty and is created by the first Save. The directory
// holding path must exist by then.
func OpenFileOffsets(path string) (*FileOffsets, error) {
	s := &FileOffsets{path: path, pos: make(map[string]Position)}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("collect: read offsets: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(data, &s.pos); err != nil {
		return nil, fmt.Errorf("collect: parse offsets %s: %w", path, err)
	}
	if s.pos == nil { // the file held "null"
		s.pos = make(map[string]Position)
	}
	return s, nil
}

// Path returns the name of the offsets file.
func (s *FileOffsets) Path() string { return s.path }

// Load returns the position saved for path.
func (s *FileOffsets) Load(path string) (Position, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pos[path]
	return p, ok, nil
}

// Save records p as the position for path and rewrites the offsets file.
// Saving the position already recorded does not touch the file. When the
// file cannot be written the recorded position is left unchanged.
func (s *FileOffsets) Save(path string, p Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.pos[path]; ok && old == p {
		return nil
	}
	next := maps.Clone(s.pos)
	next[path] = p
	data, err := json.MarshalIndent(next, "", "\t")
	if err != nil {
		return fmt.Errorf("collect: encode offsets: %w", err)
	}
	data = append(data, '\n')
	if err := writeFileAtomic(s.path, data); err != nil {
		return err
	}
	s.pos = next
	return nil
}

// writeFileAtomic replaces name with data: it writes a temporary file in the
// same directory, syncs it, renames it over name and syncs the directory.
func writeFileAtomic(name string, data []byte) (err error) {
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("collect: write offsets: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("collect: write offsets: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("collect: sync offsets: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("collect: close offsets: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("collect: replace offsets: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("collect: sync offsets directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("collect: sync offsets directory: %w", err)
	}
	return nil
}
