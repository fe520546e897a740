package manager

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/jsonstr"
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

// appendJSON appends o's JSON document, as encoding/json writes it (an
// address has no character it escapes): it is written once per block.
func (o *Offender) appendJSON(b []byte) []byte {
	b = append(b, `{"address":`...)
	b = jsonstr.Append(b, o.Address)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(o.Count), 10)
	b = append(b, `,"last":"`...)
	b = o.Last.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"', '}')
}

// OffenderKey is the bucket key of ip: its text with dots and colons
// replaced (dots separate subject tokens).
func OffenderKey(ip netip.Addr) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '_'
		case ':':
			return '-'
		case '%':
			return '='
		}
		return r
	}, ip.Unmap().String())
}

// Timeout counts an offense of ip and returns the timeout for it and the
// offense's number (1 for the first). The first offense gets base. Later
// ones get, with a ladder (minutes, as Wazuh's repeated_offenders), the
// ladder's n-1-th value for the n-th repeat, its last value repeating;
// without one, base doubled per repeat. The result is capped at
// Offenders.Cap. The count starts again after Offenders.Decay without an
// offense.
//
// Counting is in memory, so that an attack from thousands of addresses is
// not held up by a store round trip per address; each count is written to
// the offenders bucket behind, and every manager follows the bucket, so the
// managers of one cluster count together (two offenses counted by two
// managers in the same instant may count as one).
func (m *Manager) Timeout(base time.Duration, ladder []int, ip netip.Addr) (time.Duration, int) {
	key := OffenderKey(ip)
	now := m.o.Now().UTC()
	m.mu.Lock()
	o := m.offenders[key]
	t, n := m.next(&o, base, ladder, ip, now)
	m.offenders[key] = o
	m.mu.Unlock()
	b := o.appendJSON(make([]byte, 0, 96))
	if m.o.Alone {
		m.putLater(fleet.BucketOffenders, key, b, 0)
	} else {
		m.behind(func() { m.fireAndForget(m.putAsync(fleet.BucketOffenders, key, b, 0)) })
	}
	return t, n
}

// applyOffender takes a count from the bucket (written by this manager or
// another), keeping whichever is newer.
func (m *Manager) applyOffender(e jetstream.KeyValueEntry) {
	if isDelete(e) {
		return
	}
	var o Offender
	if !m.decode(e, &o) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.offenders[e.Key()]; !ok || o.Last.After(cur.Last) || (o.Last.Equal(cur.Last) && o.Count > cur.Count) {
		m.offenders[e.Key()] = o
	}
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
