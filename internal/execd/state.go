package execd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketTimers    = []byte("timers")
	bucketOffenders = []byte("offenders")
)

// timerRecord is a pending delete as persisted.
type timerRecord struct {
	Key        string        `json:"key"`
	Command    string        `json:"command"`
	Executable string        `json:"executable"`
	Deadline   time.Time     `json:"deadline"` // wall clock
	Timeout    time.Duration `json:"timeout"`
	Added      time.Time     `json:"added"`
	Delete     []byte        `json:"delete"` // the delete message
}

// store persists pending deletes and repeat counts in a bbolt file.
type store struct {
	db *bolt.DB
}

func openStore(path string) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("execd state: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("execd state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTimers, bucketOffenders} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("execd state %s: %w", path, err)
	}
	// Concurrent writes (a burst of blocks) are coalesced into one
	// transaction and one fsync; a lone write waits at most this long.
	db.MaxBatchDelay = 2 * time.Millisecond
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func (s *store) putTimer(r *timerRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTimers).Put([]byte(r.Key), v)
	})
}

func (s *store) deleteTimer(key string) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTimers).Delete([]byte(key))
	})
}

func (s *store) timers() ([]*timerRecord, error) {
	var out []*timerRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTimers).ForEach(func(k, v []byte) error {
			var r timerRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("timer %q: %w", k, err)
			}
			out = append(out, &r)
			return nil
		})
	})
	return out, err
}

// offense applies a repeated-offender ladder (minutes) for key, as Wazuh's
// execd does: the first offense keeps the configured timeout; the n-th repeat
// takes ladder[n-1] minutes, and every later one the last step. It returns
// the timeout to use and the offense count before this one.
func (s *store) offense(key string, base time.Duration, ladder []int) (time.Duration, int, error) {
	if len(ladder) == 0 || ladder[0] <= 0 {
		return base, 0, nil
	}
	var timeout time.Duration
	var count int
	err := s.db.Batch(func(tx *bolt.Tx) error {
		// Batch may run this again if a coalesced transaction fails: start
		// from the base values each time.
		timeout, count = base, 0
		b := tx.Bucket(bucketOffenders)
		v := b.Get([]byte(key))
		if v == nil {
			return b.Put([]byte(key), []byte("0"))
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			n = 0
		}
		count = n + 1
		if n < len(ladder) {
			timeout = time.Duration(ladder[n]) * time.Minute
			return b.Put([]byte(key), []byte(strconv.Itoa(n+1)))
		}
		timeout = time.Duration(ladder[len(ladder)-1]) * time.Minute
		return nil
	})
	return timeout, count, err
}
