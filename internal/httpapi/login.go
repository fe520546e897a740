package httpapi

import (
	"net/netip"
	"sync"
	"time"
)

// loginLimiter blocks an address after too many failed logins, as Wazuh's
// API does (max_login_attempts 50 within block_time 300 s).
type loginLimiter struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	fails map[netip.Addr]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{max: 50, window: 300 * time.Second, fails: make(map[netip.Addr]*failWindow)}
}

// blocked reports whether addr has used up its failed attempts.
func (l *loginLimiter) blocked(addr netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fails[addr]
	return f != nil && now.Sub(f.start) < l.window && f.n >= l.max
}

// fail counts a failed attempt from addr.
func (l *loginLimiter) fail(addr netip.Addr, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) >= 10000 { // bound the memory: forget finished windows
		for a, f := range l.fails {
			if now.Sub(f.start) >= l.window {
				delete(l.fails, a)
			}
		}
	}
	f := l.fails[addr]
	if f == nil || now.Sub(f.start) >= l.window {
		f = &failWindow{start: now}
		l.fails[addr] = f
	}
	f.n++
}

// succeed forgets the failures of addr.
func (l *loginLimiter) succeed(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, addr)
}

// remoteAddr is the client's address, or the zero Addr.
func remoteAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
