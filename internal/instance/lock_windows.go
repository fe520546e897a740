//go:build windows

package instance

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir opens the data directory's lock file. Windows keeps no advisory
// lock here; the execd state file's own lock still stops a second instance.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "riposte.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	return f, nil
}
