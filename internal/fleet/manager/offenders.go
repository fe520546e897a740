package manager

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Offender is the central repeat-offender count of one address, as stored
// in fleet.BucketOffenders under OffenderKey.
type Offender struct {
	Address string `json:"address"`
	// Count is how many offenses were counted since the last decay.
	Count int `json:"count"`
	// Last is when the last one was counted.
	Last time.Time `json:"last"`
}

// OffenderKey is the bucket key of ip: its text with dots and colons
// replaced (dots separate subject tokens).
func OffenderKey(ip netip.Addr) string {
	return strings.NewReplacer(".", "_", ":", "-", "%", "=").Replace(ip.Unmap().String())
}

// Timeout counts an offense of ip and returns the timeout for it and the
// offense's number (1 for the first). The first offense gets base. Later
// ones get, with a ladder (minutes, as Wazuh's repeated_offenders), the
// ladder's n-1-th value for the n-th repeat, its last value repeating;
// without one, base doubled per repeat. The result is capped at
// Offenders.Cap. The count starts again after Offenders.Decay without an
// offense. Counts live in the offenders bucket, updated with
// compare-and-set, so managers on one cluster count together.
func (m *Manager) Timeout(base time.Duration, ladder []int, ip netip.Addr) (time.Duration, int) {
	ctx, cancel := withTimeout()
	defer cancel()
	key := OffenderKey(ip)
	now := m.o.Now().UTC()
	for range 10 {
		var (
			o   Offender
			rev uint64
		)
		e, err := m.kvOffenders.Get(ctx, key)
		switch {
		case err == nil:
			if !m.decode(e, &o) {
				o = Offender{}
			}
			rev = e.Revision()
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			m.log.Warn("offender count unavailable; counting in memory", "ip", ip, "err", err)
			return m.timeoutMem(base, ladder, ip, now)
		}
		t, n := m.next(&o, base, ladder, ip, now)
		b, _ := json.Marshal(o)
		if rev == 0 {
			_, err = m.kvOffenders.Create(ctx, key, b)
		} else {
			_, err = m.kvOffenders.Update(ctx, key, b, rev)
		}
		if err == nil {
			return t, n
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isConflict(err) {
			m.log.Warn("offender count not stored", "ip", ip, "err", err)
			return t, n
		}
	}
	m.log.Warn("offender count contended; counting in memory", "ip", ip)
	return m.timeoutMem(base, ladder, ip, now)
}

func (m *Manager) timeoutMem(base time.Duration, ladder []int, ip netip.Addr, now time.Time) (time.Duration, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.offenders[OffenderKey(ip)]
	t, n := m.next(&o, base, ladder, ip, now)
	m.offenders[OffenderKey(ip)] = o
	return t, n
}

// next counts one offense in o and returns its timeout and number.
func (m *Manager) next(o *Offender, base time.Duration, ladder []int, ip netip.Addr, now time.Time) (time.Duration, int) {
	if !o.Last.IsZero() && now.Sub(o.Last) > m.o.Offenders.Decay {
		o.Count = 0
	}
	n := o.Count // earlier offenses
	o.Count, o.Last, o.Address = n+1, now, ip.String()
	t := base
	switch {
	case n == 0:
	case len(ladder) > 0:
		if v := ladder[min(n-1, len(ladder)-1)]; v > 0 {
			t = time.Duration(v) * time.Minute
		}
	default:
		for range n {
			if t >= m.o.Offenders.Cap {
				break
			}
			t *= 2
		}
	}
	return min(t, m.o.Offenders.Cap), n + 1
}
