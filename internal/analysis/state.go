package analysis

import (
	"strings"
	"time"
)

// ignoreKey builds the key <ignore> records and <check_if_ignored> looks
// up: the field names and values. ok is false when the event lacks one of
// the fields.
func ignoreKey(ev *Event, fields []string) (key string, ok bool) {
	var b strings.Builder
	for _, f := range fields {
		var v string
		if f == "name" {
			v, ok = ev.DecoderName(), ev.decoder != nil
		} else {
			v, ok = value(ev, f)
		}
		if !ok {
			return "", false
		}
		b.WriteString(f)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.String(), true
}

// addIgnore records the values of r's <ignore> fields. They stay ignored
// for r's ignore= seconds when it has them, else for the session's life.
func (s *Session) addIgnore(ev *Event, r *Rule, now time.Time) {
	k, ok := ignoreKey(ev, r.ignoreFields)
	if !ok {
		return
	}
	if s.ignored == nil || len(s.ignored) >= maxFTS {
		s.ignored = make(map[string]time.Time) // bounded memory: start over
	}
	var until time.Time
	if r.ignore > 0 {
		until = now.Add(time.Duration(r.ignore) * time.Second)
	}
	s.ignored[k] = until
}

// isIgnored reports whether the values of fields were recorded by an
// <ignore> that has not lapsed.
func (s *Session) isIgnored(ev *Event, fields []string, now time.Time) bool {
	if len(s.ignored) == 0 {
		return false
	}
	k, ok := ignoreKey(ev, fields)
	if !ok {
		return false
	}
	until, found := s.ignored[k]
	if !found {
		return false
	}
	if !until.IsZero() && !now.Before(until) {
		delete(s.ignored, k)
		return false
	}
	return true
}

// accumulated are the fields an <accumulate> decoder carries from one
// event to the next events with the same id.
var accumulated = [...]string{"srcip", "dstip", "srcport", "dstport", "srcuser", "dstuser",
	"protocol", "action", "url", "data", "extra_data", "status", "system_name"}

// accExpire is how long an accumulated id is kept after its last event.
const accExpire = 120 * time.Second

// accEntry is what is known of one event id.
type accEntry struct {
	seen   time.Time
	values [len(accumulated)]string // by index in accumulated; "" unknown
}

// accumulate implements <accumulate>: events of the same host and
// location with the same decoded id share their fields. The event gets
// the fields it lacks from the earlier events of its id, and the fields it
// has are kept for the next ones. An id not seen for two minutes is
// forgotten.
func (s *Session) accumulate(ev *Event, now time.Time) {
	id, ok := ev.Get("id")
	if !ok || id == "" {
		return
	}
	k := ev.Hostname + "\x00" + ev.Location + "\x00" + id
	a := s.acc[k]
	if a != nil && now.Sub(a.seen) > accExpire {
		a = nil
	}
	if a == nil {
		if s.acc == nil || len(s.acc) >= maxFTS {
			s.acc = make(map[string]*accEntry) // bounded memory: start over
		}
		a = &accEntry{}
		s.acc[k] = a
	}
	a.seen = now
	for i, f := range accumulated {
		if v, ok := ev.Get(f); ok {
			a.values[i] = v
		} else if a.values[i] != "" {
			ev.set(f, a.values[i])
		}
	}
}
