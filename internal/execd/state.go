package execd

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
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

// Timer records are stored in a compact binary form: a version byte
// (recordV1), the key, command and executable as length-prefixed strings,
// the deadline, timeout and time added as varints (Unix nanoseconds), and
// the rest is the delete message as it is. Earlier versions stored JSON
// (with the message in base64), which is still read.
const recordV1 = 1

// encode returns r in the stored form.
func (r *timerRecord) encode() []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(r.Key)+len(r.Command)+len(r.Executable)+3*binary.MaxVarintLen64+len(r.Delete))
	b = append(b, recordV1)
	for _, f := range []string{r.Key, r.Command, r.Executable} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.AppendVarint(b, unixNano(r.Deadline))
	b = binary.AppendVarint(b, int64(r.Timeout))
	b = binary.AppendVarint(b, unixNano(r.Added))
	return append(b, r.Delete...)
}

// zeroTime stands for the zero time.Time, which Unix nanoseconds cannot
// hold.
const zeroTime = math.MinInt64

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// errBadRecord reports a stored timer record that cannot be read.
var errBadRecord = errors.New("malformed timer record")

// decode reads a stored record, in either form.
func (r *timerRecord) decode(v []byte) error {
	if len(v) > 0 && v[0] == '{' {
		return json.Unmarshal(v, r)
	}
	if len(v) == 0 || v[0] != recordV1 {
		return errBadRecord
	}
	v = v[1:]
	for _, f := range []*string{&r.Key, &r.Command, &r.Executable} {
		n, k := binary.Uvarint(v)
		if k <= 0 || n > uint64(len(v)-k) {
			return errBadRecord
		}
		*f = string(v[k : k+int(n)])
		v = v[k+int(n):]
	}
	var nums [3]int64
	for i := range nums {
		n, k := binary.Varint(v)
		if k <= 0 {
			return errBadRecord
		}
		nums[i], v = n, v[k:]
	}
	r.Deadline = fromUnixNano(nums[0])
	r.Timeout = time.Duration(nums[1])
	r.Added = fromUnixNano(nums[2])
	r.Delete = append([]byte(nil), v...)
	return nil
}

// store persists pending deletes and repeat counts in a bbolt file.
type store struct {
	db *bolt.DB

	gmu        sync.Mutex    // guards queue and committing
	queue      []*groupWrite // timer writes waiting for the next commit
	committing bool          // a goroutine is running commits
}

// stateMmapSize is the mapping of the state file: room for about 100,000
// timers before bbolt maps it again.
const stateMmapSize = 256 << 20

func openStore(path string) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("execd state: %w", err)
	}
	opts := &bolt.Options{Timeout: 5 * time.Second}
	if runtime.GOOS != "windows" {
		// Address space for the file to grow into without remapping: a
		// remap copies every node of the transaction, which doubled the
		// cost of the first commits of a burst. (Windows would make the
		// file that large.)
		opts.InitialMmapSize = stateMmapSize
	}
	db, err := bolt.Open(path, 0o600, opts)
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
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func (s *store) putTimer(r *timerRecord) error { return s.putTimers([]*timerRecord{r}) }

// putTimers writes many timers in one commit.
func (s *store) putTimers(rs []*timerRecord) error {
	vs := make([][]byte, len(rs))
	for i, r := range rs {
		vs[i] = r.encode()
	}
	return s.group(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTimers)
		for i, r := range rs {
			if err := b.Put([]byte(r.Key), vs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *store) deleteTimer(key string) error {
	return s.group(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTimers).Delete([]byte(key))
	})
}

// A timer write waits for its commit (the delete must survive a crash
// before the block goes in), but not for company: the first write commits
// at once, and the writes that arrive meanwhile share the next commit and
// its fsync. Under a burst that is as few commits as bbolt's Batch makes;
// alone it saves Batch's wait for others.

// groupWrite is one write waiting for the next commit.
type groupWrite struct {
	fn   func(*bolt.Tx) error
	err  error
	done chan struct{}
}

// group runs fn in a commit shared with the writes queued at the time.
func (s *store) group(fn func(*bolt.Tx) error) error {
	w := &groupWrite{fn: fn, done: make(chan struct{})}
	s.gmu.Lock()
	s.queue = append(s.queue, w)
	lead := !s.committing
	s.committing = true
	s.gmu.Unlock()
	if lead {
		s.lead(w)
	}
	<-w.done
	return w.err
}

// lead runs commits until mine is in (until the queue is empty when mine
// is nil), then hands the lead to a new goroutine if writes are queued, so
// that a caller does not wait for others' commits.
func (s *store) lead(mine *groupWrite) {
	for {
		s.gmu.Lock()
		batch := s.queue
		s.queue = nil
		if len(batch) == 0 {
			s.committing = false
			s.gmu.Unlock()
			return
		}
		s.gmu.Unlock()
		s.commit(batch)
		if mine == nil {
			continue
		}
		select {
		case <-mine.done:
			s.gmu.Lock()
			more := len(s.queue) > 0
			if !more {
				s.committing = false
			}
			s.gmu.Unlock()
			if more {
				go s.lead(nil)
			}
			return
		default:
		}
	}
}

// commit runs the writes of batch in one transaction; when it fails, each
// write runs in one of its own, so that one bad write fails alone.
func (s *store) commit(batch []*groupWrite) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			if err := w.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, w := range batch {
		if err != nil {
			w.err = s.db.Update(w.fn)
		}
		close(w.done)
	}
}

func (s *store) timers() ([]*timerRecord, error) {
	var out []*timerRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTimers).ForEach(func(k, v []byte) error {
			var r timerRecord
			if err := r.decode(v); err != nil {
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
	r := &offenseReq{key: key, base: base, ladder: ladder}
	err := s.offenses([]*offenseReq{r})
	return r.timeout, r.count, err
}

// offenseReq is one count of offenses, for offenses.
type offenseReq struct {
	key     string
	base    time.Duration
	ladder  []int
	timeout time.Duration // out: the timeout to use
	count   int           // out: the offense count before this one
}

// offenses is offense for many keys in one commit (shared with the timer
// writes of the moment), in order: a key given twice counts twice.
func (s *store) offenses(reqs []*offenseReq) error {
	counted := false
	for _, r := range reqs {
		r.timeout, r.count = r.base, 0
		counted = counted || hasLadder(r.ladder)
	}
	if !counted {
		return nil
	}
	return s.group(func(tx *bolt.Tx) error {
		// Run again alone if the shared commit fails: start from the
		// base values each time.
		b := tx.Bucket(bucketOffenders)
		for _, r := range reqs {
			var err error
			if r.timeout, r.count, err = bumpOffense(b, r.key, r.base, r.ladder); err != nil {
				return err
			}
		}
		return nil
	})
}

// hasLadder reports whether ladder sets repeated-offender timeouts.
func hasLadder(ladder []int) bool { return len(ladder) > 0 && ladder[0] > 0 }

// bumpOffense counts one offense of key in b and returns the timeout and
// the count before it.
func bumpOffense(b *bolt.Bucket, key string, base time.Duration, ladder []int) (time.Duration, int, error) {
	if !hasLadder(ladder) {
		return base, 0, nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return base, 0, b.Put([]byte(key), []byte("0"))
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		n = 0
	}
	if n < len(ladder) {
		return time.Duration(ladder[n]) * time.Minute, n + 1, b.Put([]byte(key), []byte(strconv.Itoa(n+1)))
	}
	return time.Duration(ladder[len(ladder)-1]) * time.Minute, n + 1, nil
}
