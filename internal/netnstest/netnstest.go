// Package netnstest makes network namespaces for tests, so that the
// firewall rules, sets and routes a test changes are never the host's.
// It skips a test that cannot make one (not root, no ip command).
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// New makes a network namespace named prefix plus a random suffix, with
// its loopback up, deleted when the test ends. It skips the test without
// root or without each of the programs named in needs (besides ip).
func New(tb testing.TB, prefix string, needs ...string) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for a network namespace")
	}
	for _, p := range append([]string{"ip"}, needs...) {
		if _, err := exec.LookPath(p); err != nil {
			tb.Skipf("needs %s (installed by scripts/test)", p)
		}
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add: %v: %s", err, out)
	}
	tb.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	// Loopback up, so that routes and local traffic work.
	if out, err := exec.Command("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		tb.Fatalf("loopback up in %s: %v: %s", name, err, out)
	}
	return name
}

// Output runs argv inside the namespace ns and returns its combined
// output.
func Output(ns string, argv ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...).CombinedOutput()
	return string(out), err
}

// Elem is one element of an nftables set as "nft -j" lists it.
type Elem struct {
	Text    string // an address, "addr/len" for a prefix, "a-b" for a range
	Timeout int    // seconds; 0 when none
	Expires int    // seconds left
}

// SetElements lists the elements of an nftables set in the namespace ns
// ("nft -j list set"), in the kernel's order. A missing table or set reads
// as empty.
func SetElements(tb testing.TB, ns, family, table, set string) []Elem {
	tb.Helper()
	out, err := Output(ns, "nft", "-j", "list", "set", family, table, set)
	if err != nil {
		if strings.Contains(out, "No such file or directory") {
			return nil
		}
		tb.Fatalf("nft list set %s: %v: %s", set, err, out)
	}
	var doc struct {
		Nftables []struct {
			Set *struct {
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		tb.Fatalf("nft -j list set %s: %v", set, err)
	}
	var elems []Elem
	for _, o := range doc.Nftables {
		if o.Set == nil {
			continue
		}
		for _, raw := range o.Set.Elem {
			elems = append(elems, parseElem(tb, raw))
		}
	}
	return elems
}

// parseElem reads one element of "nft -j": a string, a prefix or range
// object, or an object with the value under "elem" (when it has a
// timeout).
func parseElem(tb testing.TB, raw json.RawMessage) Elem {
	tb.Helper()
	var wrapped struct {
		Elem *struct {
			Val     json.RawMessage `json:"val"`
			Timeout int             `json:"timeout"`
			Expires int             `json:"expires"`
		} `json:"elem"`
	}
	if json.Unmarshal(raw, &wrapped) == nil && wrapped.Elem != nil {
		e := parseElem(tb, wrapped.Elem.Val)
		e.Timeout, e.Expires = wrapped.Elem.Timeout, wrapped.Elem.Expires
		return e
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return Elem{Text: s}
	}
	var v struct {
		Prefix *struct {
			Addr string `json:"addr"`
			Len  int    `json:"len"`
		} `json:"prefix"`
		Range []string `json:"range"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("nft element %s: %v", raw, err)
	}
	switch {
	case v.Prefix != nil:
		return Elem{Text: fmt.Sprintf("%s/%d", v.Prefix.Addr, v.Prefix.Len)}
	case len(v.Range) == 2:
		return Elem{Text: v.Range[0] + "-" + v.Range[1]}
	}
	tb.Fatalf("nft element %s: unknown form", raw)
	return Elem{}
}
