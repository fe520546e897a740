package manager

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte/riposte/internal/fleet"
)

// Agent statuses reported by Agents.
const (
	StatusActive         = "active"
	StatusDisconnected   = "disconnected"
	StatusNeverConnected = "never_connected"
	StatusRevoked        = "revoked"
)

// AgentStatus is a registry entry with its connection status.
type AgentStatus struct {
	fleet.Agent
	// Status is active, disconnected, never_connected or revoked.
	Status string `json:"status"`
}

type agentEntry struct {
	a         fleet.Agent
	rev       uint64
	persisted time.Time // when the entry was last written
	connected bool
}

// applyAgent merges a registry entry read from the bucket.
func (m *Manager) applyAgent(e jetstream.KeyValueEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.agents[e.Key()]
	if isDelete(e) {
		if cur != nil && e.Revision() > cur.rev {
			delete(m.agents, e.Key())
		}
		return
	}
	if cur != nil && e.Revision() <= cur.rev {
		return
	}
	var a fleet.Agent
	if !m.decode(e, &a) || a.ID != e.Key() {
		return
	}
	if cur == nil {
		m.agents[a.ID] = &agentEntry{a: a, rev: e.Revision(), persisted: m.o.Now()}
		if n, err := strconv.Atoi(a.ID); err == nil {
			m.maxID = max(m.maxID, n)
		}
		return
	}
	// Keep what this manager knows more recently than the stored entry.
	if cur.a.LastSeen.After(a.LastSeen) {
		a.Last, a.LastSeen = cur.a.Last, cur.a.LastSeen
	}
	a.Revoked = a.Revoked || cur.a.Revoked
	cur.a, cur.rev = a, e.Revision()
}

// Register enrolls an agent and returns its new id: the next free one
// ("001", "002", ...), allocated with a create-if-absent so that two
// managers never hand out the same id. A name already used by an agent
// that is not revoked is an error unless force is set; then that agent is
// revoked.
func (m *Manager) Register(ctx context.Context, name, remoteIP, keyFingerprint string, groups, labels []string, force bool) (string, error) {
	if name == "" || len(name) > 128 {
		return "", errors.New("register: missing or oversized name")
	}
	m.mu.RLock()
	var dup []string
	for id, e := range m.agents {
		if !e.a.Revoked && e.a.Name == name {
			dup = append(dup, id)
		}
	}
	next := m.maxID + 1
	m.mu.RUnlock()
	if len(dup) > 0 && !force {
		return "", fmt.Errorf("register %q: %w (%s)", name, ErrDuplicateName, strings.Join(dup, ","))
	}
	for _, id := range dup {
		if err := m.Remove(ctx, id); err != nil {
			return "", fmt.Errorf("register %q: revoke %s: %w", name, id, err)
		}
	}
	a := fleet.Agent{
		Name:            name,
		CertFingerprint: strings.ToLower(keyFingerprint),
		Enrolled:        m.o.Now().UTC(),
		RegisteredIP:    remoteIP,
		Groups:          slices.Clone(groups),
		Labels:          slices.Clone(labels),
	}
	for n := next; ; n++ {
		a.ID = fleet.FormatAgentID(n)
		if err := fleet.ValidateAgentID(a.ID); err != nil {
			return "", fmt.Errorf("register %q: no free id: %w", name, err)
		}
		b, err := json.Marshal(a)
		if err != nil {
			return "", fmt.Errorf("register %q: %w", name, err)
		}
		rev, err := m.kvAgents.Create(ctx, a.ID, b)
		if errors.Is(err, jetstream.ErrKeyExists) || isConflict(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("register %q: store %s: %w", name, a.ID, err)
		}
		m.mu.Lock()
		if cur := m.agents[a.ID]; cur == nil || cur.rev < rev {
			m.agents[a.ID] = &agentEntry{a: a, rev: rev, persisted: m.o.Now()}
		}
		m.maxID = max(m.maxID, n)
		m.mu.Unlock()
		m.record(Record{Kind: "registered", Agent: a.ID, Name: name, Note: "from " + remoteIP})
		m.log.Info("agent registered", "agent", a.ID, "name", name, "ip", remoteIP)
		return a.ID, nil
	}
}

// Authorize checks, from memory, that id is an enrolled agent that is not
// revoked and whose certificate has the given fingerprint.
func (m *Manager) Authorize(id, keyFingerprint string) error {
	m.mu.RLock()
	e := m.agents[id]
	var a fleet.Agent
	if e != nil {
		a = e.a
	}
	m.mu.RUnlock()
	switch {
	case e == nil:
		return fmt.Errorf("agent %s: %w", id, ErrUnknownAgent)
	case a.Revoked:
		return fmt.Errorf("agent %s: %w", id, ErrRevoked)
	case a.CertFingerprint == "" || subtle.ConstantTimeCompare([]byte(a.CertFingerprint), []byte(strings.ToLower(keyFingerprint))) != 1:
		return fmt.Errorf("agent %s: %w", id, ErrFingerprint)
	}
	return nil
}

// Remove revokes agent id at once: its record is kept with Revoked set,
// its pending commands are recorded undeliverable, and OnRevoke is called
// so the broker drops its connections.
func (m *Manager) Remove(ctx context.Context, id string) error {
	m.mu.Lock()
	e := m.agents[id]
	if e == nil {
		m.mu.Unlock()
		return fmt.Errorf("remove %s: %w", id, ErrUnknownAgent)
	}
	already := e.a.Revoked
	e.a.Revoked = true
	a := e.a
	m.mu.Unlock()
	if !already {
		b, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("remove %s: %w", id, err)
		}
		rev, err := m.kvAgents.Put(ctx, id, b)
		if err != nil {
			return fmt.Errorf("remove %s: store: %w", id, err)
		}
		m.mu.Lock()
		e.rev = max(e.rev, rev)
		m.mu.Unlock()
		m.record(Record{Kind: "revoked", Agent: id, Name: a.Name})
		m.log.Info("agent revoked", "agent", id, "name", a.Name)
	}
	m.finish(ctx, m.pendingOf(id), CmdUndeliverable, "undeliverable", "agent revoked")
	if m.o.OnRevoke != nil {
		m.o.OnRevoke(id)
	}
	return nil
}

// Agents lists the registry, the manager itself (000) first, then by id.
func (m *Manager) Agents() []AgentStatus {
	now := m.o.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	// Sorted as pointers: an AgentStatus is large to swap.
	es := make([]*agentEntry, 0, len(m.agents))
	for _, e := range m.agents {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *agentEntry) int { return cmpID(a.a.ID, b.a.ID) })
	out := make([]AgentStatus, 0, len(es)+1)
	out = append(out, AgentStatus{Agent: fleet.Agent{ID: fleet.ManagerID, Name: m.o.Node, LastSeen: now}, Status: StatusActive})
	for _, e := range es {
		out = append(out, AgentStatus{Agent: e.a, Status: m.statusOf(e, now)})
	}
	return out
}

// cmpID orders agent ids numerically.
func cmpID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func (m *Manager) statusOf(e *agentEntry, now time.Time) string {
	switch {
	case e.a.Revoked:
		return StatusRevoked
	case e.a.LastSeen.IsZero():
		return StatusNeverConnected
	case now.Sub(e.a.LastSeen) > m.o.DisconnectAfter:
		return StatusDisconnected
	}
	return StatusActive
}

// handleHeartbeat updates the registry from a heartbeat of agent id and,
// on a hello, sends again the agent's pending commands.
func (m *Manager) handleHeartbeat(id string, data []byte) {
	var hb fleet.Heartbeat
	if !m.decodeMessage("heartbeat", id, data, &hb) {
		return
	}
	now := m.o.Now()
	m.mu.Lock()
	e := m.agents[id]
	if e == nil || e.a.Revoked {
		m.mu.Unlock()
		m.drop("heartbeat", id, "unknown or revoked agent", len(data))
		return
	}
	changed := !sameHeartbeat(e.a.Last, hb)
	e.a.Last, e.a.LastSeen = hb, now.UTC()
	wasConnected := e.connected
	e.connected = true
	// Commands sent from now on reach the agent on this connection.
	sent := m.sends
	var (
		b   []byte
		rev = e.rev
	)
	if hb.Hello || changed || now.Sub(e.persisted) >= persistEvery {
		e.persisted = now
		b, _ = json.Marshal(e.a)
	}
	m.mu.Unlock()
	if !wasConnected {
		m.log.Info("agent connected", "agent", id, "name", hb.Name, "version", hb.Version)
	}
	if b != nil {
		// Compare-and-set, so that a heartbeat never overwrites a
		// revocation made meanwhile by another manager; a conflict only
		// delays the write to the next heartbeat that needs one.
		opts := []jetstream.PublishOpt{jetstream.WithStallWait(stallWait)}
		if rev != 0 {
			opts = append(opts, jetstream.WithExpectLastSequencePerSubject(rev))
		}
		m.fireAndForget(m.js.PublishMsgAsync(newKVMsg(fleet.BucketAgents, id, b), opts...))
	}
	m.heartbeats.Add(1) // after the write is issued (tests rely on it)
	if hb.Hello {
		m.resend(id, now, 0, sent)
		// Record at once the commands that expired while it was away.
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// sameHeartbeat reports whether two heartbeats differ only in times and
// counters.
func sameHeartbeat(a, b fleet.Heartbeat) bool {
	return a.Name == b.Name && a.Version == b.Version && a.OS == b.OS && a.Arch == b.Arch &&
		a.Hostname == b.Hostname && a.Started.Equal(b.Started) &&
		slices.Equal(a.Addresses, b.Addresses) && slices.Equal(a.Labels, b.Labels) && slices.Equal(a.Groups, b.Groups)
}

// handleEvents passes an agent's log lines to OnEvents.
func (m *Manager) handleEvents(id string, data []byte) {
	var ev fleet.Events
	if !m.decodeMessage("events", id, data, &ev) {
		return
	}
	m.mu.RLock()
	e := m.agents[id]
	var a fleet.Agent
	if e != nil {
		a = e.a
	}
	m.mu.RUnlock()
	if e == nil || a.Revoked {
		m.drop("events", id, "unknown or revoked agent", len(data))
		return
	}
	m.events.Add(1)
	if m.o.OnEvents != nil {
		m.o.OnEvents(a, ev)
	}
}

// detectOffline logs agents that stopped sending heartbeats.
func (m *Manager) detectOffline() {
	now := m.o.Now()
	m.mu.Lock()
	var gone []string
	for id, e := range m.agents {
		if e.connected && m.statusOf(e, now) != StatusActive {
			e.connected = false
			gone = append(gone, id)
		}
	}
	m.mu.Unlock()
	for _, id := range gone {
		m.log.Info("agent disconnected", "agent", id)
	}
}

// agentState returns the registry entry of id: known, revoked, connected.
func (m *Manager) agentState(id string, now time.Time) (known, revoked, connected bool) {
	e := m.agents[id]
	if e == nil {
		return false, false, false
	}
	return true, e.a.Revoked, m.statusOf(e, now) == StatusActive
}
