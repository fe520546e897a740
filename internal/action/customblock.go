package action

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
)

// ipCustomBlock is ip-customblock: an empty marker file /ipblock/<address>
// for external tooling to act on. It blocks nothing by itself. The address
// is validated and written canonically; a block is named <address>_<bits>
// so that its slash never makes a directory.
type ipCustomBlock struct{ env *Env }

func newIPCustomBlock(env *Env) Action { return &ipCustomBlock{env: env} }

// Keys returns the normalised address.
func (c *ipCustomBlock) Keys(in *Input) ([]string, error) { return ipKeys(c.env, in) }

// markerName is the file name for p: the address, or address_bits.
func markerName(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.Addr().String() + "_" + strconv.Itoa(p.Bits())
}

func (c *ipCustomBlock) path(in *Input) (string, error) {
	p, err := target(c.env, in)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.env.Path("/ipblock"), markerName(p)), nil
}

// Add creates the marker (and /ipblock). A marker already there is fine;
// anything else of that name (a link, a directory) is an error.
func (c *ipCustomBlock) Add(_ context.Context, in *Input) error {
	path, err := c.path(in)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create /ipblock: %w", err)
	}
	// O_EXCL does not follow a link planted under that name.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create marker: %w", err)
	}
	if ok, err := c.present(path); err != nil || !ok {
		return fmt.Errorf("marker /ipblock/%s exists and is not a regular file", filepath.Base(path))
	}
	return nil
}

// Delete removes the marker; a missing one is fine.
func (c *ipCustomBlock) Delete(_ context.Context, in *Input) error {
	path, err := c.path(in)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("error deleting /ipblock/%s file: %w", filepath.Base(path), err)
	}
	return nil
}

// Present reports whether the marker is there.
func (c *ipCustomBlock) Present(_ context.Context, in *Input) (bool, error) {
	path, err := c.path(in)
	if err != nil {
		return false, err
	}
	return c.present(path)
}

func (c *ipCustomBlock) present(path string) (bool, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.Mode().IsRegular(), nil
}

var (
	_ Action   = (*ipCustomBlock)(nil)
	_ Verifier = (*ipCustomBlock)(nil)
)
