package action

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// disableAccount is disable-account: it locks the password of the alert's
// user (data.dstuser; user.name in 5.x) with passwd -l, and unlocks it with
// passwd -u (AIX: chuser account_locked=...).
//
// Where Wazuh refuses only the literal "root", this refuses every UID 0
// account, names that could be read as options or hold characters outside
// [A-Za-z0-9._@-] ("$" allowed last, for machine accounts), and users not in
// /etc/passwd; a refusal is an InputError and nothing runs. The user goes
// after "--" in passwd's argv. With Options.KillSessions the user's
// processes are killed on add (pkill -KILL -u), since a locked password
// does not end a session already open.
type disableAccount struct{ env *Env }

func newDisableAccount(env *Env) Action { return &disableAccount{env: env} }

// Keys checks the user and returns it.
func (d *disableAccount) Keys(in *Input) ([]string, error) {
	u, err := d.check(in)
	if err != nil {
		return nil, err
	}
	return []string{u}, nil
}

// Add locks the account and, with KillSessions, ends its processes. It is
// an error if the account is not locked afterwards.
func (d *disableAccount) Add(ctx context.Context, in *Input) error {
	u, err := d.check(in)
	if err != nil {
		return err
	}
	argv, err := d.lockArgv(true, u)
	if err != nil {
		return err
	}
	if _, err := d.env.exec().Run(ctx, nil, argv[0], argv[1:]...); err != nil {
		return fmt.Errorf("lock account %s: %w", u, err)
	}
	if d.env.Options.KillSessions {
		_, err := d.env.exec().Run(ctx, nil, "pkill", "-KILL", "-u", u)
		// pkill exits 1 when no process matched.
		if err != nil && accountExitCode(err) != 1 {
			return fmt.Errorf("end sessions of %s: %w", u, err)
		}
	}
	locked, err := d.locked(ctx, u)
	if err != nil {
		return fmt.Errorf("check account %s: %w", u, err)
	}
	if !locked {
		return fmt.Errorf("account %s not locked after locking it", u)
	}
	return nil
}

// Delete unlocks the account. An account that is not locked, or no longer
// exists, is left alone.
func (d *disableAccount) Delete(ctx context.Context, in *Input) error {
	u, found, err := d.user(in)
	if err != nil {
		return err
	}
	if !found {
		d.env.logf("User %s no longer exists: nothing to unlock", u)
		return nil
	}
	argv, err := d.lockArgv(false, u)
	if err != nil {
		return err
	}
	if locked, err := d.locked(ctx, u); err == nil && !locked {
		return nil
	}
	if _, err := d.env.exec().Run(ctx, nil, argv[0], argv[1:]...); err != nil {
		return fmt.Errorf("unlock account %s: %w", u, err)
	}
	locked, err := d.locked(ctx, u)
	if err != nil {
		return fmt.Errorf("check account %s: %w", u, err)
	}
	if locked {
		return fmt.Errorf("account %s still locked after unlocking it", u)
	}
	return nil
}

// Present reports whether the account is locked.
func (d *disableAccount) Present(ctx context.Context, in *Input) (bool, error) {
	u, err := d.check(in)
	if err != nil {
		return false, err
	}
	return d.locked(ctx, u)
}

// check returns the user of a valid input naming an existing account.
func (d *disableAccount) check(in *Input) (string, error) {
	u, found, err := d.user(in)
	if err != nil {
		return "", err
	}
	if !found {
		return "", &InputError{fmt.Sprintf("Invalid username '%s': no such account in /etc/passwd", u)}
	}
	return u, nil
}

// user returns the input's user and whether /etc/passwd has it. A missing
// or malformed name, or a UID 0 account, is an InputError.
func (d *disableAccount) user(in *Input) (string, bool, error) {
	u := in.User
	if u == "" {
		return "", false, errMissing(in, "dstuser", "user.name")
	}
	if !validUserName(u) {
		return "", false, &InputError{fmt.Sprintf("Invalid username %q", u)}
	}
	uid, found, err := passwdUID(d.env.Path("/etc/passwd"), u)
	if err != nil {
		return "", false, err
	}
	if found && uid == 0 {
		return "", false, &InputError{fmt.Sprintf("Invalid username '%s': UID 0 accounts are never disabled", u)}
	}
	return u, found, nil
}

// validUserName accepts the names useradd and Samba create: letters,
// digits, ".", "_", "@", "-" (not first, so never an option), and a final
// "$".
func validUserName(u string) bool {
	if u == "" || len(u) > 256 || u[0] == '-' || u == "." || u == ".." {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '@', c == '-':
		case c == '$' && i == len(u)-1 && i > 0:
		default:
			return false
		}
	}
	return true
}

// passwdUID finds a user in a passwd file. A UID that does not parse counts
// as 0, so that such an account is refused.
func passwdUID(path, user string) (uid int, found bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false, fmt.Errorf("read /etc/passwd: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || f[0] != user {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(f[2]))
		if err != nil {
			return 0, true, nil
		}
		return n, true, nil
	}
	return 0, false, sc.Err()
}

// lockArgv is the command that locks (or unlocks) user on this system.
func (d *disableAccount) lockArgv(lock bool, user string) ([]string, error) {
	switch d.env.goos() {
	case "linux", "solaris", "illumos":
		if lock {
			return []string{"passwd", "-l", "--", user}, nil
		}
		return []string{"passwd", "-u", "--", user}, nil
	case "aix":
		return []string{"chuser", "account_locked=" + strconv.FormatBool(lock), user}, nil
	}
	return nil, fmt.Errorf("invalid system %q: disable-account runs on Linux, Solaris and AIX", d.env.goos())
}

// locked reports whether the account's password is locked: on the live
// system from passwd -S (status L) or lsuser (AIX); under another root, from
// its /etc/shadow (a password starting with "!", or "*LK*" on Solaris).
func (d *disableAccount) locked(ctx context.Context, user string) (bool, error) {
	goos := d.env.goos()
	if goos == "aix" {
		out, err := d.env.exec().Run(ctx, nil, "lsuser", "-a", "account_locked", user)
		if err != nil {
			return false, err
		}
		return strings.Contains(string(out), "account_locked=true"), nil
	}
	if goos == "linux" && filepath.Clean(d.env.root()) == "/" {
		out, err := d.env.exec().Run(ctx, nil, "passwd", "-S", "--", user)
		if err != nil {
			return false, err
		}
		f := strings.Fields(string(out))
		if len(f) < 2 || f[0] != user {
			return false, fmt.Errorf("unexpected passwd -S output %q", strings.TrimSpace(string(out)))
		}
		return f[1] == "L" || f[1] == "LK", nil
	}
	return shadowLocked(d.env.Path("/etc/shadow"), user)
}

// shadowLocked reads a shadow file for a user's lock.
func shadowLocked(path, user string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read /etc/shadow: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) >= 2 && f[0] == user {
			return strings.HasPrefix(f[1], "!") || strings.HasPrefix(f[1], "*LK*"), nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, fmt.Errorf("user %s not in /etc/shadow", user)
}

// accountExitCode returns a program's exit status, or -1.
func accountExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

var (
	_ Action   = (*disableAccount)(nil)
	_ Verifier = (*disableAccount)(nil)
)
