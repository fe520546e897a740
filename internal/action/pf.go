package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"sync"
)

// pfAction is pf (OpenBSD, FreeBSD, macOS): the address goes into the pf
// table <wazuh_fwtable>, which pf.conf blocks in both directions.
//
// The table keeps Wazuh's name, so a pf.conf already set up for Wazuh keeps
// working and a host can switch between Wazuh's script and Riposte's.
//
// Setting the table up is the one change Riposte makes to pf.conf, and it
// makes it at most once: when no line of /etc/pf.conf (outside comments)
// names <wazuh_fwtable>, add appends exactly pfConfLines and loads the file
// with "pfctl -f /etc/pf.conf". Nothing else in pf.conf is ever rewritten,
// and pf is never reloaded again afterwards. If the load fails, the append
// is taken back so pf.conf is left as it was. This is the improvement on
// Wazuh's wazuh/wazuh#39189, where block-ip rewrote pf.conf and reloaded
// the whole ruleset on macOS, dropping other software's rules: the one
// reload here happens when the table is first set up, and an administrator
// who wants none can put the three lines (or their own rules using the
// table) anywhere in pf.conf beforehand.
//
// A pf anchor ("anchor riposte" plus "pfctl -a riposte -f -") would avoid
// even that one reload, but it needs an anchor line in the main ruleset (or
// macOS's com.apple/* anchor point), which is the same kind of one-time
// edit and would not be Wazuh-compatible; the table is kept.
//
// The appended rules are "quick" but come last, so an earlier "pass quick"
// rule still wins over them; administrators who need the block to come
// first move the three lines up, and Riposte leaves them where they are.
//
// The path in pfctl's argv is the real /etc/pf.conf, not Env.Root's:
// Root only redirects the files Riposte reads and writes itself.
type pfAction struct{ env *Env }

func newPF(env *Env) Action { return &pfAction{env: env} }

const (
	pfTable = "wazuh_fwtable"
	pfConf  = "/etc/pf.conf"
	// pfConfLines are Wazuh's three lines, appended to pf.conf once.
	pfConfLines = "table <wazuh_fwtable> persist #wazuh_fwtable\n" +
		"block in quick from <wazuh_fwtable> to any\n" +
		"block out quick from any to <wazuh_fwtable>\n"
	// pfInactiveNote is Wazuh's log line when pf is not enabled.
	pfInactiveNote = `{"message":"Active response may not have an effect","profile":"default","status":"inactive","script":"pf"}`
)

// pfConfMu serialises the check-and-append of pf.conf between the actions
// run in one process (execd runs built-ins in-process). Wazuh's execd runs
// its scripts one at a time; two riposte-ar processes started at the same
// moment on a pf.conf not yet set up could still both append.
var pfConfMu sync.Mutex

// Keys returns the normalised address.
func (a *pfAction) Keys(in *Input) ([]string, error) { return ipKeys(a.env, in) }

func (a *pfAction) platform() error {
	switch g := a.env.goos(); g {
	case "openbsd", "freebsd", "darwin":
		return nil
	default:
		return fmt.Errorf("invalid system %q: pf runs on OpenBSD, FreeBSD and macOS", g)
	}
}

func (a *pfAction) pfctl(ctx context.Context, args ...string) ([]byte, error) {
	return a.env.exec().Run(ctx, nil, "pfctl", args...)
}

// Add sets the table up if needed, adds the address ("pfctl -T add" is
// itself idempotent), kills the address's states, and checks with "pfctl
// -T test" that the address now matches the table.
func (a *pfAction) Add(ctx context.Context, in *Input) error {
	p, err := target(a.env, in)
	if err != nil {
		return err
	}
	if err := a.platform(); err != nil {
		return err
	}
	info, err := a.pfctl(ctx, "-s", "info")
	if err != nil {
		return err
	}
	if !pfEnabled(info) {
		a.env.logf("%s", pfInactiveNote)
	}
	if err := a.setup(ctx); err != nil {
		return err
	}
	addr := PrefixText(p)
	if _, err := a.pfctl(ctx, "-t", pfTable, "-T", "add", addr); err != nil {
		return err
	}
	// Existing states would let an established connection go on.
	if _, err := a.pfctl(ctx, "-k", addr); err != nil {
		a.env.logf("Cannot kill the states of %s: %v", addr, err)
	}
	ok, err := a.present(ctx, p)
	return confirmAdded(ok, err, "%s is not in pf table <%s> after adding it", addr, pfTable)
}

// Delete removes the address from the table; an address (or table) that is
// not there is fine.
func (a *pfAction) Delete(ctx context.Context, in *Input) error {
	p, err := target(a.env, in)
	if err != nil {
		return err
	}
	if err := a.platform(); err != nil {
		return err
	}
	_, runErr := a.pfctl(ctx, "-t", pfTable, "-T", "delete", PrefixText(p))
	if runErr == nil || errors.Is(runErr, ErrNotFound) {
		return runErr
	}
	// pfctl fails when the table does not exist: then nothing is blocked.
	if ok, err := a.present(ctx, p); err == nil && !ok {
		return nil
	}
	return runErr
}

// Present reports whether the address matches the table.
func (a *pfAction) Present(ctx context.Context, in *Input) (bool, error) {
	p, err := target(a.env, in)
	if err != nil {
		return false, err
	}
	if err := a.platform(); err != nil {
		return false, err
	}
	return a.present(ctx, p)
}

// present runs "pfctl -t wazuh_fwtable -T test <addr>", which exits 0 when
// the address matches the table and non-zero otherwise (also when the table
// does not exist). A block is tested by its first address, since pfctl
// tests hosts only.
func (a *pfAction) present(ctx context.Context, p netip.Prefix) (bool, error) {
	_, err := a.pfctl(ctx, "-t", pfTable, "-T", "test", p.Addr().String())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, err
	}
	return false, nil
}

// setup appends pfConfLines to pf.conf and loads it, unless pf.conf
// already uses the table.
func (a *pfAction) setup(ctx context.Context) error {
	pfConfMu.Lock()
	defer pfConfMu.Unlock()
	path := a.env.Path(pfConf)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		a.env.logf("The pf rules file '%s' does not exist", pfConf)
		return fmt.Errorf("%s does not exist: cannot set up table <%s>", pfConf, pfTable)
	}
	if err != nil {
		return err
	}
	if pfConfHasTable(data) {
		return nil
	}
	text := pfConfLines
	if len(data) > 0 && data[len(data)-1] != '\n' {
		text = "\n" + text
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(text)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("append table <%s> to %s: %w", pfTable, pfConf, err)
	}
	if _, err := a.pfctl(ctx, "-f", pfConf); err != nil {
		// Take the lines back so pf.conf stays loadable as it was.
		if fi, serr := os.Stat(path); serr == nil && fi.Size() == int64(len(data)+len(text)) {
			_ = os.Truncate(path, int64(len(data)))
		}
		return fmt.Errorf("load %s with table <%s> (lines taken back): %w", pfConf, pfTable, err)
	}
	a.env.logf("Table <%s> and its block rules appended to %s and loaded", pfTable, pfConf)
	return nil
}

// pfConfHasTable reports whether a line of pf.conf names <wazuh_fwtable>
// outside a comment.
func pfConfHasTable(data []byte) bool {
	for line := range bytes.Lines(data) {
		line, _, _ = bytes.Cut(line, []byte("#"))
		if bytes.Contains(line, []byte("<"+pfTable+">")) {
			return true
		}
	}
	return false
}

// pfEnabled reads "pfctl -s info": "Status: Enabled for ...".
func pfEnabled(out []byte) bool {
	return bytes.Contains(out, []byte("Status: Enabled"))
}

var (
	_ Action   = (*pfAction)(nil)
	_ Verifier = (*pfAction)(nil)
)
