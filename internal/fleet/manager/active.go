package manager

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/riposte/riposte/internal/fleet"
	"github.com/riposte/riposte/internal/jsonstr"
)

// Active is a stateful response in effect on an agent, as stored in
// fleet.BucketActive under its ID.
type Active struct {
	// ID is "<agent>.<short hash of Key>".
	ID         string   `json:"id"`
	Agent      string   `json:"agent"`
	Name       string   `json:"name,omitempty"`
	Executable string   `json:"executable,omitempty"`
	Key        string   `json:"key"`
	Keys       []string `json:"keys,omitempty"`
	SrcIP      string   `json:"srcip,omitempty"`
	CommandID  string   `json:"command_id,omitempty"`
	// Added is when the agent applied it; Until when it ends.
	Added   time.Time `json:"added"`
	Until   time.Time `json:"until"`
	Backend string    `json:"backend,omitempty"`
}

// appendJSON appends a's JSON document, the same as encoding/json's but
// for the characters encoding/json writes as \u escapes (<, >, &, U+2028,
// U+2029, invalid UTF-8; see jsonstr.Append), and faster: the central
// list is written once per block.
func (a *Active) appendJSON(b []byte) []byte {
	str := func(b []byte, key, v string, omitEmpty bool) []byte {
		if omitEmpty && v == "" {
			return b
		}
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		return jsonstr.Append(b, v)
	}
	b = append(b, `{"id":`...)
	b = jsonstr.Append(b, a.ID)
	b = str(b, "agent", a.Agent, false)
	b = str(b, "name", a.Name, true)
	b = str(b, "executable", a.Executable, true)
	b = str(b, "key", a.Key, false)
	if len(a.Keys) > 0 {
		b = append(b, `,"keys":[`...)
		for i, k := range a.Keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, k)
		}
		b = append(b, ']')
	}
	b = str(b, "srcip", a.SrcIP, true)
	b = str(b, "command_id", a.CommandID, true)
	b = append(b, `,"added":"`...)
	b = a.Added.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","until":"`...)
	b = a.Until.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = str(b, "backend", a.Backend, true)
	return append(b, '}')
}

type activeEntry struct {
	a   Active
	rev uint64
}

// ActiveID is the id of the active response key on agent.
func ActiveID(agent, key string) string {
	h := sha256.Sum256([]byte(key))
	return agent + "." + hex.EncodeToString(h[:8])
}

// Filter selects active responses; zero fields match everything.
type Filter struct {
	Agent string
	// IP matches SrcIP or any key.
	IP netip.Addr
	// Command matches the command name or the executable.
	Command string
}

func (f Filter) match(a *Active) bool {
	if f.Agent != "" && a.Agent != f.Agent {
		return false
	}
	if f.Command != "" && a.Name != f.Command && a.Executable != f.Command {
		return false
	}
	if f.IP.IsValid() {
		ip := f.IP.String()
		return a.SrcIP == ip || a.Key == ip || slices.Contains(a.Keys, ip)
	}
	return true
}

// Active lists the active responses f selects, oldest first.
func (m *Manager) Active(f Filter) []Active {
	return m.ActiveBy(f, func(a *Active) time.Time { return a.Added })
}

// ActiveVersion counts the changes to the active responses, so that a
// list of them can be kept until the next change.
func (m *Manager) ActiveVersion() uint64 { return m.activeVer.Load() }

// ActiveBy lists the active responses f selects, ordered by the time by
// gives (ties by ID).
func (m *Manager) ActiveBy(f Filter, by func(*Active) time.Time) []Active {
	m.mu.RLock()
	all := make([]Active, 0, len(m.active))
	for _, e := range m.active {
		if f.match(&e.a) {
			a := e.a
			a.Keys = slices.Clone(a.Keys)
			all = append(all, a)
		}
	}
	m.mu.RUnlock()
	if len(all) == 0 {
		return nil
	}
	return sortActive(all, by)
}

// sortActive returns list ordered by the time by gives (ties by ID), in a
// new slice. It sorts small keys, not the entries, which is several times
// faster for the 100,000 responses of a large attack.
func sortActive(list []Active, by func(*Active) time.Time) []Active {
	type key struct {
		t int64
		i int32
	}
	keys := make([]key, len(list))
	for i := range list {
		keys[i] = key{by(&list[i]).UnixNano(), int32(i)}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return strings.Compare(list[a.i].ID, list[b.i].ID)
	})
	out := make([]Active, len(list))
	for i, k := range keys {
		out[i] = list[k.i]
	}
	return out
}

// applyActive merges an active response read from the bucket.
func (m *Manager) applyActive(e jetstream.KeyValueEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.active[e.Key()]
	if isDelete(e) {
		if cur != nil && cur.rev != 0 && e.Revision() > cur.rev {
			delete(m.active, e.Key())
			m.activeVer.Add(1)
		}
		return
	}
	if cur != nil && e.Revision() <= cur.rev {
		return
	}
	var a Active
	if !m.decode(e, &a) || a.ID != e.Key() {
		return
	}
	m.active[a.ID] = &activeEntry{a: a, rev: e.Revision()}
	m.activeVer.Add(1)
}

// putActive returns the write of a; m.mu must be held to call it, not to
// run the returned function. The entries of this host (000) are written
// when a burst is over (see lazyWrites): its executor keeps them too, and
// Reconcile rebuilds them from there after a crash. Other agents' entries
// are written at once.
func (m *Manager) putActive(a Active) func() {
	b := a.appendJSON(make([]byte, 0, 384))
	ttl := a.Until.Sub(m.o.Now()) + activeGrace + markerTTL
	if a.Agent != fleet.ManagerID {
		return func() { m.fireAndForget(m.putAsync(fleet.BucketActive, a.ID, b, ttl)) }
	}
	return func() { m.putLater(fleet.BucketActive, a.ID, b, ttl) }
}

// purgeActive returns the removal of the entry id from the store, put off
// or at once as putActive writes it.
func (m *Manager) purgeActive(id string) func() {
	if !strings.HasPrefix(id, fleet.ManagerID+".") {
		return func() { m.fireAndForget(m.purgeAsync(fleet.BucketActive, id)) }
	}
	return func() { m.purgeLater(fleet.BucketActive, id) }
}

// applyRunState updates the central state from a run's result: a stateful
// add that took effect becomes active until Started+Timeout; a delete ends
// it; an aborted add changes nothing. m.mu is held; the returned function
// (if any) writes the change.
func (m *Manager) applyRunState(agent string, r fleet.Result, srcIP string) func() {
	if r.Key == "" {
		return nil
	}
	id := ActiveID(agent, r.Key)
	switch {
	case r.Verb == "add" && r.Outcome == "ok" && r.Timeout > 0:
		started := r.Started
		if started.IsZero() {
			started = r.Time
		}
		if started.IsZero() {
			started = m.o.Now()
		}
		if srcIP == "" {
			srcIP = addrIn(append([]string{r.Key}, r.Keys...))
		}
		a := Active{
			ID: id, Agent: agent, Name: r.Name, Executable: r.Executable,
			Key: r.Key, Keys: slices.Clone(r.Keys), SrcIP: srcIP, CommandID: r.CommandID,
			Added: started.UTC(), Until: started.Add(r.Timeout.D()).UTC(), Backend: r.Backend,
		}
		e := m.active[id]
		if e == nil {
			e = &activeEntry{}
			m.active[id] = e
		}
		e.a = a
		m.activeVer.Add(1)
		return m.putActive(a)
	case r.Verb == "delete":
		switch r.Outcome {
		case "failed", "error", "killed":
			// The response may still be in effect; the sweep drops it
			// after its end if no later delete succeeds.
			return nil
		}
		if _, ok := m.active[id]; !ok {
			return nil
		}
		delete(m.active, id)
		m.activeVer.Add(1)
		return m.purgeActive(id)
	}
	return nil
}

// addrIn returns the first of keys that is an IP address.
func addrIn(keys []string) string {
	for _, k := range keys {
		if a, err := netip.ParseAddr(k); err == nil {
			return a.String()
		}
	}
	return ""
}

// extendActive moves the end of agent's active response key; m.mu is held.
func (m *Manager) extendActive(agent, key string, until time.Time) func() {
	e := m.active[ActiveID(agent, key)]
	if e == nil {
		return nil
	}
	e.a.Until = until.UTC()
	m.activeVer.Add(1)
	return m.putActive(e.a)
}

// Reconcile makes the active list of agent what its executor holds: held
// are its stateful responses in effect (their Agent is set to agent, and
// ID and SrcIP are filled in when empty). Entries the list lacks are
// added, entries whose end differs take the executor's, and entries the
// executor no longer holds are dropped. A lone manager calls it at start
// for its own host, whose executor keeps its timers in a store of its own:
// the list's writes for that host are put off (see lazyWrites), so a crash
// may have lost the last ones. It returns how many entries it added or
// changed, and dropped.
func (m *Manager) Reconcile(agent string, held []Active) (changed, dropped int) {
	keep := make(map[string]bool, len(held))
	var writes []func()
	m.mu.Lock()
	for _, a := range held {
		a.Agent = agent
		if a.ID == "" {
			a.ID = ActiveID(agent, a.Key)
		}
		if a.SrcIP == "" {
			a.SrcIP = addrIn(append([]string{a.Key}, a.Keys...))
		}
		a.Added, a.Until = a.Added.UTC(), a.Until.UTC()
		keep[a.ID] = true
		e := m.active[a.ID]
		if e != nil {
			if d := e.a.Until.Sub(a.Until); d > -time.Second && d < time.Second {
				continue
			}
			// Extended (or shortened) after its last write.
			e.a.Until = a.Until
			if len(a.Keys) > 0 {
				e.a.Keys = a.Keys
			}
		} else {
			e = &activeEntry{a: a}
			m.active[a.ID] = e
		}
		changed++
		writes = append(writes, m.putActive(e.a))
	}
	for id, e := range m.active {
		if e.a.Agent == agent && !keep[id] {
			delete(m.active, id)
			dropped++
			writes = append(writes, m.purgeActive(id))
		}
	}
	if changed+dropped > 0 {
		m.activeVer.Add(1)
	}
	m.mu.Unlock()
	for _, w := range writes {
		w()
	}
	return changed, dropped
}

// sweepActive drops active responses past their end by more than a grace
// period: their agent was offline when it deleted them.
func (m *Manager) sweepActive() {
	now := m.o.Now()
	var gone []string
	m.mu.Lock()
	for id, e := range m.active {
		if now.Sub(e.a.Until) > activeGrace {
			delete(m.active, id)
			m.activeVer.Add(1)
			gone = append(gone, id)
		}
	}
	m.mu.Unlock()
	for _, id := range gone {
		m.purgeActive(id)()
		m.log.Debug("active response past its end dropped", "id", id)
	}
}

// matching returns the active responses with the given id, or every one
// for ip.
func (m *Manager) matching(id string, ip netip.Addr) ([]Active, error) {
	var out []Active
	if id != "" {
		m.mu.RLock()
		e := m.active[id]
		var a Active
		if e != nil {
			a = e.a
		}
		m.mu.RUnlock()
		if e != nil && (!ip.IsValid() || (Filter{IP: ip}).match(&a)) {
			out = append(out, a)
		}
	} else if ip.IsValid() {
		out = m.Active(Filter{IP: ip})
	} else {
		return nil, errors.New("neither an id nor an address given")
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// Undo sends undo commands wherever matching responses are active: the
// one with Active.ID id, or (id empty) every one for ip. The responses end
// when their agents report the delete.
func (m *Manager) Undo(id string, ip netip.Addr) ([]Active, error) {
	return m.control("undo", id, ip, func(c *fleet.Command) { c.Kind = fleet.KindUndo })
}

// Extend sends extend commands moving the end of matching responses (as
// for Undo) to until.
func (m *Manager) Extend(id string, ip netip.Addr, until time.Time) ([]Active, error) {
	if !until.After(m.o.Now()) {
		return nil, fmt.Errorf("extend: %s is not in the future", until.Format(time.RFC3339))
	}
	return m.control("extend", id, ip, func(c *fleet.Command) { c.Kind, c.Until = fleet.KindExtend, until.UTC() })
}

func (m *Manager) control(verb, id string, ip netip.Addr, set func(*fleet.Command)) ([]Active, error) {
	acts, err := m.matching(id, ip)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	now := m.o.Now().UTC()
	cmds := make([]fleet.Command, len(acts))
	srcs := make([]string, len(acts))
	for i, a := range acts {
		cmds[i] = fleet.Command{
			ID: nuid.Next(), Agent: a.Agent, Issued: now, Expires: now.Add(m.o.CommandTTL), Origin: m.o.Node,
			Name: a.Name, Executable: a.Executable, Key: a.Key,
		}
		set(&cmds[i])
		srcs[i] = a.SrcIP
	}
	out := m.issue(cmds, srcs)
	var failed []string
	for agent, s := range out {
		if strings.HasPrefix(s, NotDeliverable) || strings.HasPrefix(s, "failed") {
			failed = append(failed, agent+": "+s)
		}
	}
	if len(failed) == len(out) && len(failed) > 0 {
		slices.Sort(failed)
		return acts, fmt.Errorf("%s: %s", verb, strings.Join(failed, "; "))
	}
	return acts, nil
}
