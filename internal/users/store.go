package users

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Errors callers test with errors.Is.
var (
	// ErrInvalidCredentials is returned by Authenticate for an unknown
	// user or a wrong password, without saying which.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrNotFound is returned for an operation on a user that does not
	// exist.
	ErrNotFound = errors.New("no such user")
	// ErrExists is returned by Add for a name already taken.
	ErrExists = errors.New("user already exists")
	// ErrLastAdmin is returned by Remove and SetRole when the change would
	// leave no administrator.
	ErrLastAdmin = errors.New("the last administrator cannot be removed or demoted")
	// ErrInvalid marks a bad user name, password or role.
	ErrInvalid = errors.New("invalid user")
)

// AdminName is the user EnsureAdmin creates.
const AdminName = "admin"

// Password length bounds, in bytes (bcrypt reads at most 72).
const (
	MinPassword = 8
	MaxPassword = 72
)

// User is a user as the API shows it: never its password hash.
type User struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated,omitzero"`
}

// record is a user as stored.
type record struct {
	User
	Hash string `json:"hash"`
	// Session changes when the user is created and at every password
	// change; tokens carry it, so a new password revokes older tokens.
	Session string `json:"session"`
}

type file struct {
	Users []record `json:"users"`
}

// Store is the set of API users, kept in a JSON file. It is safe for
// concurrent use.
type Store struct {
	path  string
	key   []byte // HMAC key of tokens
	cost  int    // bcrypt cost
	dummy []byte // a hash compared against for unknown users
	now   func() time.Time

	mu    sync.Mutex
	users map[string]*record
}

// Open reads the users file at path (an absent file is an empty store) and
// the token signing key beside it (path + ".key"), creating the key, 32
// random bytes in a file of mode 0600, on first use. Both files are made
// private (0600) if they were not.
func Open(path string) (*Store, error) {
	return open(path, bcrypt.DefaultCost)
}

func open(path string, cost int) (*Store, error) {
	s := &Store{path: path, cost: cost, now: time.Now, users: make(map[string]*record)}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("users: %w", err)
	default:
		var f file
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("users: %s: %w", path, err)
		}
		for i := range f.Users {
			r := f.Users[i]
			if !r.Role.Valid() || validName(r.Name) != nil || r.Hash == "" {
				return nil, fmt.Errorf("users: %s: invalid entry %q", path, r.Name)
			}
			s.users[r.Name] = &r
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
	}
	if s.key, err = loadKey(path + ".key"); err != nil {
		return nil, err
	}
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	if s.dummy, err = bcrypt.GenerateFromPassword(pw, cost); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return s, nil
}

// loadKey reads the signing key at path, creating it when absent.
func loadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("users: token key %s is shorter than 32 bytes", path)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("users: token key: %w", err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := writeAtomic(path, key); err != nil {
		return nil, fmt.Errorf("users: token key: %w", err)
	}
	return key, nil
}

// EnsureAdmin creates the user admin (administrator) with a random
// 24-character password, written to passwordFile (mode 0600), when the
// store has no user at all. It reports whether it did.
func (s *Store) EnsureAdmin(passwordFile string) (created bool, err error) {
	s.mu.Lock()
	empty := len(s.users) == 0
	s.mu.Unlock()
	if !empty {
		return false, nil
	}
	pw := RandomPassword(24)
	if err := writeAtomic(passwordFile, []byte(pw+"\n")); err != nil {
		return false, fmt.Errorf("users: admin password: %w", err)
	}
	if err := s.Add(AdminName, pw, Administrator); err != nil {
		return false, err
	}
	return true, nil
}

// RandomPassword returns n random characters from letters and digits.
func RandomPassword(n int) string {
	const chars = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[randIntn(len(chars))]
	}
	return string(b)
}

// randIntn returns a uniform random number in [0, n), n ≤ 256.
func randIntn(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// Authenticate checks a user's password. It runs bcrypt for unknown users
// too, so the answer takes about as long either way.
func (s *Store) Authenticate(name, password string) (User, error) {
	s.mu.Lock()
	r, ok := s.users[name]
	var hash []byte
	var u User
	if ok {
		hash, u = []byte(r.Hash), r.User
	}
	s.mu.Unlock()
	if !ok {
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return User{}, ErrInvalidCredentials
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil {
		return User{}, ErrInvalidCredentials
	}
	return u, nil
}

// Get returns the user name.
func (s *Store) Get(name string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[name]
	if !ok {
		return User{}, fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	return r.User, nil
}

// List returns the users sorted by name.
func (s *Store) List() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, r := range s.users {
		out = append(out, r.User)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Add creates a user.
func (s *Store) Add(name, password string, role Role) error {
	if err := validName(name); err != nil {
		return err
	}
	if !role.Valid() {
		return fmt.Errorf("role %q: want readonly, operator or administrator: %w", role, ErrInvalid)
	}
	hash, err := s.hash(password)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[name]; ok {
		return fmt.Errorf("%q: %w", name, ErrExists)
	}
	now := s.now().UTC().Truncate(time.Second)
	r := &record{User: User{Name: name, Role: role, Created: now}, Hash: hash, Session: newSession()}
	s.users[name] = r
	if err := s.saveLocked(); err != nil {
		delete(s.users, name)
		return err
	}
	return nil
}

// Remove deletes a user; it refuses to remove the last administrator.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[name]
	if !ok {
		return fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	if r.Role == Administrator && s.adminsLocked() == 1 {
		return fmt.Errorf("%q: %w", name, ErrLastAdmin)
	}
	delete(s.users, name)
	if err := s.saveLocked(); err != nil {
		s.users[name] = r
		return err
	}
	return nil
}

// SetPassword changes a user's password, which revokes the tokens issued
// before.
func (s *Store) SetPassword(name, password string) error {
	hash, err := s.hash(password)
	if err != nil {
		return err
	}
	return s.update(name, func(r *record) error {
		r.Hash, r.Session = hash, newSession()
		return nil
	})
}

// SetRole changes a user's role; it refuses to demote the last
// administrator.
func (s *Store) SetRole(name string, role Role) error {
	if !role.Valid() {
		return fmt.Errorf("role %q: want readonly, operator or administrator: %w", role, ErrInvalid)
	}
	return s.update(name, func(r *record) error {
		if r.Role == Administrator && role != Administrator && s.adminsLocked() == 1 {
			return fmt.Errorf("%q: %w", name, ErrLastAdmin)
		}
		r.Role = role
		return nil
	})
}

// update changes a user under the lock and saves, restoring the user when
// saving fails.
func (s *Store) update(name string, f func(*record) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[name]
	if !ok {
		return fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	old := *r
	if err := f(r); err != nil {
		return err
	}
	r.Updated = s.now().UTC().Truncate(time.Second)
	if err := s.saveLocked(); err != nil {
		*r = old
		return err
	}
	return nil
}

// session returns a user and its session, for token checks.
func (s *Store) session(name string) (User, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[name]
	if !ok {
		return User{}, "", false
	}
	return r.User, r.Session, true
}

func (s *Store) adminsLocked() int {
	n := 0
	for _, r := range s.users {
		if r.Role == Administrator {
			n++
		}
	}
	return n
}

func (s *Store) hash(password string) (string, error) {
	if len(password) < MinPassword || len(password) > MaxPassword {
		return "", fmt.Errorf("password must be %d to %d bytes long: %w", MinPassword, MaxPassword, ErrInvalid)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return string(h), nil
}

func (s *Store) saveLocked() error {
	f := file{Users: make([]record, 0, len(s.users))}
	for _, r := range s.users {
		f.Users = append(f.Users, *r)
	}
	slices.SortFunc(f.Users, func(a, b record) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := writeAtomic(s.path, append(b, '\n')); err != nil {
		return fmt.Errorf("users: saving: %w", err)
	}
	return nil
}

// validName checks a user name: 1 to 64 letters, digits, '.', '_', '-' or
// '@', not starting with '.' or '-'.
func validName(name string) error {
	bad := name == "" || len(name) > 64 || name[0] == '.' || name[0] == '-'
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == '@')
	}
	if bad {
		return fmt.Errorf("user name %q: want 1 to 64 letters, digits, '.', '_', '-' or '@': %w", name, ErrInvalid)
	}
	return nil
}

func newSession() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeAtomic replaces path with data (mode 0600) through a temporary file
// in the same directory, synced before the rename.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
