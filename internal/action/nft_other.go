//go:build !linux

package action

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// nftBackend is the nftables backend of firewall-drop, which exists only
// on Linux; elsewhere every call fails.
type nftBackend struct{}

var errNoNft = errors.New("nftables: not available on this system")

func newNftBackend(*Env) *nftBackend { return &nftBackend{} }

func (b *nftBackend) works() bool { return false }

func (b *nftBackend) add(context.Context, netip.Prefix) error { return errNoNft }

func (b *nftBackend) del(context.Context, netip.Prefix) error { return errNoNft }

func (b *nftBackend) present(context.Context, netip.Prefix) (bool, error) { return false, errNoNft }

// AddMany fails outside Linux.
func (b *nftBackend) AddMany(context.Context, []netip.Prefix, time.Duration) error { return errNoNft }

var _ dropBackend = (*nftBackend)(nil)
