package agent

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// bucketSeen maps a command id to its expiry (unix nanoseconds, big
	// endian): the commands already taken.
	bucketSeen = []byte("seen")
	// bucketOutbox maps a sequence number (big endian) to the JSON of a
	// fleet.Result not yet published.
	bucketOutbox = []byte("outbox")
	// bucketMeta holds the epoch: a random id made when the file is
	// created, which with the outbox sequence names every message.
	bucketMeta = []byte("meta")
	keyEpoch   = []byte("epoch")
)

// store is the agent's state file.
type store struct {
	db    *bolt.DB
	epoch string
}

func openStore(path string, noSync bool) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("agent state: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("agent state %s: %w", path, err)
	}
	db.NoSync = noSync
	var epoch string
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSeen, bucketOutbox, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyEpoch); v != nil {
			epoch = string(v)
			return nil
		}
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		epoch = hex.EncodeToString(b[:])
		return meta.Put(keyEpoch, []byte(epoch))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("agent state %s: %w", path, err)
	}
	// Removals after a flush are coalesced; a lone one waits at most this.
	db.MaxBatchDelay = 2 * time.Millisecond
	return &store{db: db, epoch: epoch}, nil
}

func (s *store) close() error { return s.db.Close() }

// seen loads the recorded command ids with their expiry.
func (s *store) seen() (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSeen).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("seen %q: bad value", k)
			}
			out[string(k)] = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			return nil
		})
	})
	return out, err
}

// op is one write of the command goroutine or Report. The writer applies
// a run of them in one transaction, in order.
type op struct {
	// seen, when set, records a command id until expires.
	seen    string
	expires time.Time
	// forget drops recorded command ids.
	forget []string
	// result, when set, is appended to the outbox.
	result []byte
	// acceptedRun names the run command that result accepts; ranRun the
	// run command whose result it is (see coalesce).
	acceptedRun, ranRun string
}

// coalesce drops from ops the acceptances of run commands whose results
// are in ops too, keeping their other writes: a result tells the manager
// all an acceptance does, and under load the two are often written
// together, so the manager has half the messages to store and process.
func coalesce(ops []op) {
	var ran map[string]bool
	for _, o := range ops {
		if o.ranRun != "" {
			if ran == nil {
				ran = make(map[string]bool)
			}
			ran[o.ranRun] = true
		}
	}
	for i := range ops {
		if ops[i].acceptedRun != "" && ran[ops[i].acceptedRun] {
			ops[i].result, ops[i].acceptedRun = nil, ""
		}
	}
}

// apply writes ops in one transaction, in order.
func (s *store) apply(ops []op) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		seen, out := tx.Bucket(bucketSeen), tx.Bucket(bucketOutbox)
		for _, o := range ops {
			if o.seen != "" {
				var v [8]byte
				binary.BigEndian.PutUint64(v[:], uint64(o.expires.UnixNano()))
				if err := seen.Put([]byte(o.seen), v[:]); err != nil {
					return err
				}
			}
			for _, id := range o.forget {
				if err := seen.Delete([]byte(id)); err != nil {
					return err
				}
			}
			if o.result != nil {
				n, err := out.NextSequence()
				if err != nil {
					return err
				}
				if err := out.Put(seqKey(n), o.result); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// entry is one outbox message.
type entry struct {
	seq  uint64
	data []byte
}

// msgID names an outbox message for JetStream's duplicate detection.
func (s *store) msgID(seq uint64) string { return s.epoch + "-" + strconv.FormatUint(seq, 10) }

// outbox returns up to limit messages, oldest first.
func (s *store) outbox(limit int) ([]entry, error) {
	var out []entry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, entry{seq: binary.BigEndian.Uint64(k), data: append([]byte(nil), v...)})
		}
		return nil
	})
	return out, err
}

// remove drops published messages from the outbox.
func (s *store) remove(entries []entry) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for _, e := range entries {
			if err := b.Delete(seqKey(e.seq)); err != nil {
				return err
			}
		}
		return nil
	})
}

func seqKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}
