package collect

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestFileOffsetsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "offsets.json")
	s, err := OpenFileOffsets(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Load("/var/ossec/logs/alerts/alerts.json"); ok || err != nil {
		t.Fatalf("Load on an empty store: ok=%v err=%v", ok, err)
	}
	want := map[string]Position{
		"/var/ossec/logs/alerts/alerts.json": {Dev: 2049, Inode: 131077, Offset: 1 << 40},
		"/var/log/auth.log":                  {Dev: 2049, Inode: 7, Offset: 0},
		"relative/path with spaces":          {Offset: 12},
	}
	for p, pos := range want {
		if err := s.Save(p, pos); err != nil {
			t.Fatalf("Save(%q): %v", p, err)
		}
	}
	// Overwrite one.
	want["/var/log/auth.log"] = Position{Dev: 2049, Inode: 8, Offset: 99}
	if err := s.Save("/var/log/auth.log", want["/var/log/auth.log"]); err != nil {
		t.Fatal(err)
	}

	// The file is plain JSON: path → position.
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk map[string]Position
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatalf("offsets file is not JSON: %v\n%s", err, data)
	}
	if fmt.Sprint(onDisk) != fmt.Sprint(want) {
		t.Errorf("file holds %v, want %v", onDisk, want)
	}

	s2, err := OpenFileOffsets(name)
	if err != nil {
		t.Fatal(err)
	}
	for p, pos := range want {
		got, ok, err := s2.Load(p)
		if err != nil || !ok || got != pos {
			t.Errorf("Load(%q) = %+v, %v, %v; want %+v", p, got, ok, err, pos)
		}
	}
	assertNoTempFiles(t, dir)
}

func TestOpenFileOffsets(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" means no file
		wantErr bool
		want    map[string]Position
	}{
		{name: "missing"},
		{name: "empty", content: " \n"},
		{name: "null", content: "null"},
		{name: "valid", content: `{"/a": {"dev": 1, "inode": 2, "offset": 3}}`,
			want: map[string]Position{"/a": {Dev: 1, Inode: 2, Offset: 3}}},
		{name: "corrupt", content: `{"/a": {"dev": 1`, wantErr: true},
		{name: "wrong shape", content: `[1, 2]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "offsets.json")
			if tt.content != "" {
				if err := os.WriteFile(name, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := OpenFileOffsets(name)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for p, pos := range tt.want {
				if got, ok, _ := s.Load(p); !ok || got != pos {
					t.Errorf("Load(%q) = %+v, %v; want %+v", p, got, ok, pos)
				}
			}
			// A store opened from any of these accepts saves.
			if err := s.Save("/b", Position{Offset: 1}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFileOffsetsSaveFailure(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFileOffsets(filepath.Join(dir, "missing-dir", "offsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save("/a", Position{Offset: 5}); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
	// The failed position is not recorded, so saving it again retries.
	if _, ok, _ := s.Load("/a"); ok {
		t.Error("failed Save recorded the position")
	}
	if err := os.Mkdir(filepath.Join(dir, "missing-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("/a", Position{Offset: 5}); err != nil {
		t.Fatalf("Save after the directory appeared: %v", err)
	}
}

func TestFileOffsetsConcurrentSave(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "offsets.json")
	s, err := OpenFileOffsets(name)
	if err != nil {
		t.Fatal(err)
	}
	const workers, saves = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			path := fmt.Sprintf("/log/%d", w)
			for i := 1; i <= saves; i++ {
				if err := s.Save(path, Position{Dev: 1, Inode: uint64(w), Offset: int64(i)}); err != nil {
					t.Errorf("Save(%q): %v", path, err)
					return
				}
				if _, _, err := s.Load(path); err != nil {
					t.Errorf("Load(%q): %v", path, err)
					return
				}
			}
		})
	}
	wg.Wait()

	s2, err := OpenFileOffsets(name)
	if err != nil {
		t.Fatal(err)
	}
	for w := range workers {
		path := fmt.Sprintf("/log/%d", w)
		want := Position{Dev: 1, Inode: uint64(w), Offset: saves}
		if got, ok, _ := s2.Load(path); !ok || got != want {
			t.Errorf("Load(%q) = %+v, %v; want %+v", path, got, ok, want)
		}
	}
	assertNoTempFiles(t, dir)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "offsets.json" {
			t.Errorf("unexpected file left in %s: %s", dir, e.Name())
		}
	}
}
