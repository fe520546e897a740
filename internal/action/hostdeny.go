package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// hostDeny is host-deny: a tcp_wrappers entry refusing every service to the
// address, "ALL:<ip>" in /etc/hosts.deny, or on FreeBSD (which has no
// hosts.deny) "ALL : <ip> : deny" in /etc/hosts.allow.
//
// Unlike Wazuh's script it matches whole entries, never substrings: the
// entry is ours when its daemon list is exactly ALL and its client list is
// exactly the address, so 1.2.3.4 leaves "ALL: 11.2.3.45", "sshd: 1.2.3.4"
// and comments alone. The rewrite on delete keeps the file's owner and mode
// and replaces it atomically; a lock file next to it (".hosts.deny.riposte-lock")
// serialises concurrent runs. IPv6 addresses are written in brackets and
// blocks as net/mask (IPv4) or [net]/len (IPv6), the forms hosts_access(5)
// understands; Wazuh's unbracketed IPv6 lines are removed on delete too.
type hostDeny struct{ env *Env }

func newHostDeny(env *Env) Action { return &hostDeny{env: env} }

// Keys returns the normalised address.
func (h *hostDeny) Keys(in *Input) ([]string, error) { return ipKeys(h.env, in) }

// sysPath is the file as named on the system, for log lines.
func (h *hostDeny) sysPath() string {
	if h.env.goos() == "freebsd" {
		return "/etc/hosts.allow"
	}
	return "/etc/hosts.deny"
}

// path is the file under Env.Root, with symbolic links resolved so that the
// rewrite replaces the file and not the link.
func (h *hostDeny) path() string {
	p := h.env.Path(h.sysPath())
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// line is the entry host-deny writes for p.
func (h *hostDeny) line(p netip.Prefix) string {
	if h.env.goos() == "freebsd" {
		return "ALL : " + hostsClient(p) + " : deny"
	}
	return "ALL:" + hostsClient(p)
}

// Add appends the entry unless an equal one is there already. It is an
// error if the entry is not in the file afterwards.
func (h *hostDeny) Add(ctx context.Context, in *Input) error {
	p, err := target(h.env, in)
	if err != nil {
		return err
	}
	path := h.path()
	unlock, err := lockHostsFile(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	data, err := os.ReadFile(path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return fmt.Errorf("could not open file '%s': %w", h.sysPath(), err)
	}
	if h.contains(data, p) {
		h.env.logf("IP %s already exists on '%s'", PrefixText(p), h.sysPath())
		return nil
	}
	text := h.line(p) + "\n"
	if len(data) > 0 && data[len(data)-1] != '\n' {
		text = "\n" + text
	}
	if err := hostsAppend(path, text, missing); err != nil {
		return fmt.Errorf("unable to write file '%s': %w", h.sysPath(), err)
	}
	if ok, err := h.present(path, p); err != nil || !ok {
		return fmt.Errorf("entry for %s not found in '%s' after adding it", PrefixText(p), h.sysPath())
	}
	return nil
}

// Delete removes every entry that denies all services to the address and
// nothing else. A missing file or entry is not an error.
func (h *hostDeny) Delete(ctx context.Context, in *Input) error {
	p, err := target(h.env, in)
	if err != nil {
		return err
	}
	path := h.path()
	unlock, err := lockHostsFile(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("could not open file '%s': %w", h.sysPath(), err)
	}
	out, removed := h.without(data, p)
	if removed == 0 {
		return nil
	}
	if err := hostsReplace(path, out); err != nil {
		return fmt.Errorf("unable to write file '%s': %w", h.sysPath(), err)
	}
	if ok, err := h.present(path, p); err != nil || ok {
		return fmt.Errorf("entry for %s still in '%s' after removing it", PrefixText(p), h.sysPath())
	}
	return nil
}

// Present reports whether the file holds the entry.
func (h *hostDeny) Present(_ context.Context, in *Input) (bool, error) {
	p, err := target(h.env, in)
	if err != nil {
		return false, err
	}
	return h.present(h.path(), p)
}

func (h *hostDeny) present(path string, p netip.Prefix) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return h.contains(data, p), nil
}

// contains reports whether data holds an entry denying everything to p.
func (h *hostDeny) contains(data []byte, p netip.Prefix) bool {
	for _, e := range hostsEntries(data) {
		if h.denies(e.text, p) {
			return true
		}
	}
	return false
}

// without returns data minus the entries for p (ours, and the unbracketed
// IPv6 lines Wazuh writes), and how many were removed.
func (h *hostDeny) without(data []byte, p netip.Prefix) ([]byte, int) {
	var out bytes.Buffer
	removed := 0
	for _, e := range hostsEntries(data) {
		if h.denies(e.text, p) || h.wazuhLine(e.text, p) {
			removed++
			continue
		}
		out.Write(e.raw)
	}
	return out.Bytes(), removed
}

// denies reports whether one entry is exactly "every service, this address,
// denied": daemon list ALL, one client equal to p, and no option field
// (hosts.deny) or the option deny (FreeBSD's hosts.allow).
func (h *hostDeny) denies(entry string, p netip.Prefix) bool {
	s := strings.TrimSpace(entry)
	if s == "" || s[0] == '#' {
		return false
	}
	f := splitHostsFields(s)
	if len(f) < 2 || !strings.EqualFold(strings.TrimSpace(f[0]), "ALL") {
		return false
	}
	if h.env.goos() == "freebsd" {
		if len(f) != 3 || strings.TrimSpace(f[2]) != "deny" {
			return false
		}
	} else if len(f) != 2 {
		return false
	}
	clients := strings.FieldsFunc(f[1], func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
	if len(clients) != 1 {
		return false
	}
	c, ok := parseHostsClient(clients[0])
	return ok && c == p
}

// wazuhLine reports whether an entry is the line Wazuh's script writes for
// an IPv6 address ("ALL:2001:db8::1"), which tcp_wrappers cannot read.
func (h *hostDeny) wazuhLine(entry string, p netip.Prefix) bool {
	if !p.Addr().Is6() {
		return false
	}
	s := strings.TrimSpace(entry)
	a := PrefixText(p)
	if h.env.goos() == "freebsd" {
		return s == "ALL : "+a+" : deny"
	}
	return s == "ALL:"+a
}

// hostsClient writes p as a hosts_access(5) client pattern.
func hostsClient(p netip.Prefix) string {
	a := p.Addr()
	if a.Is4() {
		if p.IsSingleIP() {
			return a.String()
		}
		return a.String() + "/" + net.IP(net.CIDRMask(p.Bits(), 32)).String()
	}
	if p.IsSingleIP() {
		return "[" + a.String() + "]"
	}
	return "[" + a.String() + "]/" + strconv.Itoa(p.Bits())
}

// parseHostsClient reads one client pattern that names an address or a
// block: 1.2.3.4, 10.0.0.0/255.0.0.0, 10.0.0.0/8, [2001:db8::1],
// [2001:db8::]/32. Patterns with host bits set do not name a block and
// are not read.
func parseHostsClient(tok string) (netip.Prefix, bool) {
	text := tok
	if strings.HasPrefix(tok, "[") {
		end := strings.IndexByte(tok, ']')
		if end < 0 {
			return netip.Prefix{}, false
		}
		text = tok[1:end] + tok[end+1:]
		if rest := tok[end+1:]; rest != "" && rest[0] != '/' {
			return netip.Prefix{}, false
		}
	} else if i := strings.IndexByte(tok, '/'); i >= 0 && strings.Contains(tok[i+1:], ".") {
		m, err := netip.ParseAddr(tok[i+1:])
		if err != nil || !m.Is4() {
			return netip.Prefix{}, false
		}
		ones, bits := net.IPMask(m.AsSlice()).Size()
		if bits == 0 {
			return netip.Prefix{}, false
		}
		text = tok[:i] + "/" + strconv.Itoa(ones)
	}
	p, err := ParseTarget(text, 0)
	if err != nil {
		return netip.Prefix{}, false
	}
	if i := strings.IndexByte(text, '/'); i >= 0 {
		if a, err := netip.ParseAddr(text[:i]); err != nil || a.Unmap() != p.Addr() {
			return netip.Prefix{}, false
		}
	}
	return p, true
}

// splitHostsFields splits an entry at the colons that are not inside
// brackets, as tcp_wrappers does.
func splitHostsFields(s string) []string {
	var f []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case ':':
			if depth == 0 {
				f = append(f, s[start:i])
				start = i + 1
			}
		}
	}
	return append(f, s[start:])
}

// hostsEntry is one logical entry: raw holds its physical lines with their
// endings, text the entry with continuations joined.
type hostsEntry struct {
	raw  []byte
	text string
}

// hostsEntries splits a hosts_access file into entries; a line ending in a
// backslash continues on the next one.
func hostsEntries(data []byte) []hostsEntry {
	var es []hostsEntry
	var cur hostsEntry
	var text strings.Builder
	for len(data) > 0 {
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 {
			n = len(data)
		}
		line := data[:n]
		data = data[n:]
		cur.raw = append(cur.raw, line...)
		body := strings.TrimRight(string(line), "\r\n")
		if strings.HasSuffix(body, `\`) && len(data) > 0 {
			text.WriteString(strings.TrimSuffix(body, `\`))
			continue
		}
		text.WriteString(body)
		cur.text = text.String()
		es = append(es, cur)
		cur = hostsEntry{}
		text.Reset()
	}
	return es
}

// hostsAppend appends text to path, creating it with mode 0644 if needed,
// and syncs it.
func hostsAppend(path, text string, create bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if create {
		if err := f.Chmod(0o644); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// hostsReplace replaces path with data atomically: a temporary file in the
// same directory with the original's mode and owner, synced, then renamed
// over it.
func hostsReplace(path string, data []byte) (err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".riposte-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	if err = hostsCopyOwner(tmp, fi); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	hostsSyncDir(dir)
	return nil
}

// hostsLocks queues the runs of this process on one file (a channel of one
// slot per lock file), so that only one of them polls the flock.
var hostsLocks sync.Map

// lockHostsFile serialises the runs that change path: in this process
// through hostsLocks, across processes with a flock on a lock file next to
// it (".hosts.deny.riposte-lock"), so that concurrent runs do not lose each
// other's lines. It waits until ctx is done.
func lockHostsFile(ctx context.Context, path string) (unlock func(), err error) {
	dir, base := filepath.Split(path)
	lp := filepath.Join(dir, "."+base+".riposte-lock")
	v, _ := hostsLocks.LoadOrStore(lp, make(chan struct{}, 1))
	slot := v.(chan struct{})
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("unable to take lock %s: %w", lp, ctx.Err())
	}
	funlock, err := hostsFlock(ctx, lp)
	if err != nil {
		<-slot
		return nil, fmt.Errorf("unable to take lock %s: %w", lp, err)
	}
	return func() {
		funlock()
		<-slot
	}, nil
}

// hostsSyncDir makes a rename in dir durable, where the system allows it.
func hostsSyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

var (
	_ Action   = (*hostDeny)(nil)
	_ Verifier = (*hostDeny)(nil)
)
