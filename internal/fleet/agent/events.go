package agent

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riposte/riposte/internal/fleet"
)

// PublishEvents publishes lines collected on this host on the agent's
// events subject, split into as many messages as needed to keep each
// under fleet.MaxMessage (a line too long for a message of its own is
// cut). It returns once the server has them all. On an error
// (ErrDisconnected while the agent is not connected) the caller keeps its
// file offset and sends the lines again later; lines of a batch that
// failed halfway may then arrive twice.
func (a *Agent) PublishEvents(ev fleet.Events) error {
	if len(ev.Lines) == 0 {
		return nil
	}
	a.mu.Lock()
	nc, closed := a.nc, a.closed
	a.mu.Unlock()
	if nc == nil || closed || !nc.IsConnected() {
		return ErrDisconnected
	}
	msgs, err := splitEvents(ev, fleet.MaxMessage)
	if err != nil {
		return fmt.Errorf("fleet agent: events of %s: %w", ev.Location, err)
	}
	subject := a.o.Subjects.Events(a.o.ID)
	for _, m := range msgs {
		if err := nc.Publish(subject, m); err != nil {
			return fmt.Errorf("fleet agent: publishing events of %s: %w", ev.Location, err)
		}
	}
	if err := nc.FlushTimeout(flushTimeout); err != nil {
		return fmt.Errorf("fleet agent: publishing events of %s: %w", ev.Location, err)
	}
	return nil
}

// splitEvents encodes ev as messages of at most limit bytes each, lines in
// order; a line that does not fit in a message alone is cut to fit.
func splitEvents(ev fleet.Events, limit int) ([][]byte, error) {
	empty := fleet.Events{Location: ev.Location, Format: ev.Format, Lines: []string{}}
	base, err := json.Marshal(empty)
	if err != nil {
		return nil, err
	}
	// Room for the lines: the empty message plus at least a short line.
	room := limit - len(base)
	if room < 16 {
		return nil, errors.New("location and format leave no room for lines")
	}
	var out [][]byte
	batch := empty
	size := 0 // encoded lines and commas in batch
	emit := func() error {
		b, err := json.Marshal(batch)
		if err != nil {
			return err
		}
		out = append(out, b)
		batch.Lines, size = nil, 0
		return nil
	}
	for _, line := range ev.Lines {
		n := encodedLen(line)
		if n > room {
			line = fit(line, room)
			n = encodedLen(line)
		}
		if len(batch.Lines) > 0 && size+1+n > room {
			if err := emit(); err != nil {
				return nil, err
			}
		}
		if len(batch.Lines) > 0 {
			size++
		}
		batch.Lines = append(batch.Lines, line)
		size += n
	}
	if len(batch.Lines) > 0 {
		if err := emit(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// encodedLen is the length of s as a JSON string, quotes included.
func encodedLen(s string) int {
	b, _ := json.Marshal(s) // a string always encodes
	return len(b)
}

// fit cuts line until its JSON encoding takes at most room bytes.
func fit(line string, room int) string {
	for {
		n := encodedLen(line)
		if n <= room || line == "" {
			return line
		}
		// Cut in proportion to the excess; at least one byte each round.
		keep := min(len(line)*room/n, len(line)-1)
		line = prefix(line, keep)
	}
}
