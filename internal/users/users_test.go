package users

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// testStore opens a store in a temporary directory with the cheapest bcrypt
// cost.
func testStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.json")
	s, err := open(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func TestAllows(t *testing.T) {
	all := []Action{Read, Respond, Ingest, Allowlist, RemoveAgent, ManageUsers, "bogus"}
	want := map[Role][]Action{
		ReadOnly:      {Read},
		Operator:      {Read, Respond, Ingest, Allowlist},
		Administrator: {Read, Respond, Ingest, Allowlist, RemoveAgent, ManageUsers},
		"root":        nil,
	}
	for role, ok := range want {
		for _, a := range all {
			exp := false
			for _, o := range ok {
				exp = exp || o == a
			}
			if got := role.Allows(a); got != exp {
				t.Errorf("%s.Allows(%s) = %v, want %v", role, a, got, exp)
			}
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, s := range []string{"readonly", "operator", "administrator"} {
		if r, err := ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "admin", "Operator"} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) succeeded", s)
		}
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestEnsureAdminAndReopen(t *testing.T) {
	s, path := testStore(t)
	pwFile := filepath.Join(filepath.Dir(path), "admin.password")
	created, err := s.EnsureAdmin(pwFile)
	if err != nil || !created {
		t.Fatalf("EnsureAdmin = %v, %v; want true, nil", created, err)
	}
	b, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(b))
	if len(pw) != 24 {
		t.Fatalf("admin password %q is %d characters, want 24", pw, len(pw))
	}
	for _, p := range []string{pwFile, path, path + ".key"} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s has mode %o, want 600", p, m)
		}
	}
	if created, err := s.EnsureAdmin(pwFile); err != nil || created {
		t.Fatalf("second EnsureAdmin = %v, %v; want false, nil", created, err)
	}
	u, err := s.Authenticate(AdminName, pw)
	if err != nil || u.Role != Administrator {
		t.Fatalf("Authenticate(admin) = %+v, %v", u, err)
	}
	tok, exp, err := s.Issue(u)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < TokenLifetime-5*time.Second || d > TokenLifetime {
		t.Errorf("token expires in %v, want about %v", d, TokenLifetime)
	}

	// A second process reads the same users and key: the token survives.
	s2, err := open(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s2.Verify(tok); err != nil || u.Name != AdminName {
		t.Fatalf("Verify after reopen = %+v, %v", u, err)
	}
	if _, err := s2.Authenticate(AdminName, pw); err != nil {
		t.Fatalf("Authenticate after reopen: %v", err)
	}
	if created, err := s2.EnsureAdmin(pwFile); err != nil || created {
		t.Fatalf("EnsureAdmin after reopen = %v, %v; want false, nil", created, err)
	}
}

func TestOpenRejectsCorruptFiles(t *testing.T) {
	tests := []struct {
		name  string
		users string
		key   string
	}{
		{name: "not json", users: "{"},
		{name: "bad role", users: `{"users":[{"name":"a","role":"root","hash":"x"}]}`},
		{name: "bad name", users: `{"users":[{"name":"../a","role":"readonly","hash":"x"}]}`},
		{name: "short key", users: `{"users":[]}`, key: "short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users.json")
			if err := os.WriteFile(path, []byte(tc.users), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.key != "" {
				if err := os.WriteFile(path+".key", []byte(tc.key), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := open(path, bcrypt.MinCost); err == nil {
				t.Fatal("open succeeded")
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	s, _ := testStore(t)
	if err := s.Add("alice", "correct horse", Operator); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, pw string
		ok             bool
	}{
		{"right", "alice", "correct horse", true},
		{"wrong password", "alice", "wrong horse", false},
		{"unknown user", "bob", "correct horse", false},
		{"empty", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.Authenticate(tc.user, tc.pw)
			if tc.ok {
				if err != nil || u.Name != "alice" || u.Role != Operator {
					t.Fatalf("got %+v, %v", u, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("err = %v, want ErrInvalidCredentials", err)
			}
		})
	}
}

func TestAddValidation(t *testing.T) {
	s, _ := testStore(t)
	if err := s.Add("alice", "password1", ReadOnly); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, pw string
		role           Role
		want           error
	}{
		{"duplicate", "alice", "password1", ReadOnly, ErrExists},
		{"short password", "bob", "short", ReadOnly, ErrInvalid},
		{"long password", "bob", strings.Repeat("x", 73), ReadOnly, ErrInvalid},
		{"empty name", "", "password1", ReadOnly, ErrInvalid},
		{"slash", "a/b", "password1", ReadOnly, ErrInvalid},
		{"dot dot", "..", "password1", ReadOnly, ErrInvalid},
		{"long name", strings.Repeat("a", 65), "password1", ReadOnly, ErrInvalid},
		{"bad role", "bob", "password1", "root", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Add(tc.user, tc.pw, tc.role); !errors.Is(err, tc.want) {
				t.Fatalf("Add = %v, want %v", err, tc.want)
			}
		})
	}
	if got := len(s.List()); got != 1 {
		t.Fatalf("%d users after failed adds, want 1", got)
	}
}

func TestLastAdministrator(t *testing.T) {
	s, path := testStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Add("admin", "password1", Administrator))
	must(s.Add("op", "password1", Operator))
	if err := s.Remove("admin"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("Remove(last admin) = %v", err)
	}
	if err := s.SetRole("admin", Operator); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("SetRole(last admin) = %v", err)
	}
	must(s.SetRole("op", Administrator))
	must(s.SetRole("admin", ReadOnly))
	if err := s.Remove("op"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("Remove(new last admin) = %v", err)
	}
	must(s.Remove("admin"))
	if err := s.Remove("admin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove(gone) = %v", err)
	}
	if err := s.SetPassword("nobody", "password1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetPassword(nobody) = %v", err)
	}

	s2, err := open(path, bcrypt.MinCost)
	must(err)
	got := s2.List()
	if len(got) != 1 || got[0].Name != "op" || got[0].Role != Administrator {
		t.Fatalf("after reopen: %+v", got)
	}
}

func TestTokens(t *testing.T) {
	s, _ := testStore(t)
	if err := s.Add("alice", "password1", Operator); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("admin", "password1", Administrator); err != nil {
		t.Fatal(err)
	}
	alice, _ := s.Get("alice")
	issue := func() string {
		t.Helper()
		tok, _, err := s.Issue(alice)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := issue()
	if u, err := s.Verify(good); err != nil || u.Name != "alice" || u.Role != Operator {
		t.Fatalf("Verify = %+v, %v", u, err)
	}

	// Another store (another key) does not accept it.
	other, err := open(filepath.Join(t.TempDir(), "users.json"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Add("alice", "password1", Operator); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "alice", "iss": issuer, "exp": time.Now().Add(time.Hour).Unix()})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	bad := map[string]string{
		"empty":          "",
		"garbage":        "not-a-token",
		"bad signature":  parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"alg none":       noneTok,
		"truncated":      parts[0] + "." + parts[1],
		"tampered claim": parts[0] + ".eyJzdWIiOiJhZG1pbiJ9." + parts[2],
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Verify(tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
	if _, err := other.Verify(good); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("other store's Verify = %v", err)
	}

	t.Run("expired", func(t *testing.T) {
		s.now = func() time.Time { return time.Now().Add(TokenLifetime + time.Second) }
		defer func() { s.now = time.Now }()
		if _, err := s.Verify(good); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify = %v, want ErrInvalidToken", err)
		}
	})
	t.Run("demoted at once", func(t *testing.T) {
		if err := s.SetRole("alice", ReadOnly); err != nil {
			t.Fatal(err)
		}
		u, err := s.Verify(good)
		if err != nil || u.Role != ReadOnly {
			t.Fatalf("Verify = %+v, %v; want role readonly", u, err)
		}
	})
	t.Run("password change revokes", func(t *testing.T) {
		if err := s.SetPassword("alice", "password2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(good); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify = %v, want ErrInvalidToken", err)
		}
		if _, err := s.Verify(issue()); err != nil {
			t.Fatalf("new token: %v", err)
		}
		if _, err := s.Authenticate("alice", "password1"); err == nil {
			t.Fatal("old password still accepted")
		}
	})
	t.Run("removed user", func(t *testing.T) {
		tok := issue()
		if err := s.Remove("alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify = %v, want ErrInvalidToken", err)
		}
		// Re-creating the name does not revive old tokens.
		if err := s.Add("alice", "password1", Administrator); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify after re-creation = %v, want ErrInvalidToken", err)
		}
		if _, _, err := s.Issue(User{Name: "ghost"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Issue(ghost) = %v", err)
		}
	})
}

func TestRandomPassword(t *testing.T) {
	a, b := RandomPassword(24), RandomPassword(24)
	if len(a) != 24 || a == b {
		t.Fatalf("RandomPassword gave %q and %q", a, b)
	}
}
