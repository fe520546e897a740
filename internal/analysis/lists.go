package analysis

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// cdbList is a CDB list source: "key:value" lines.
type cdbList map[string]string

func readList(file string) (cdbList, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l := cdbList{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		if strings.HasPrefix(k, `"`) {
			// Quoted key: "a:b":value
			if i := strings.Index(line[1:], `"`); i >= 0 {
				k = line[1 : i+1]
				v = strings.TrimPrefix(line[i+2:], ":")
			}
		}
		l[k] = v
	}
	return l, sc.Err()
}

// listCheck is a rule's <list> element.
type listCheck struct {
	field  string
	lookup string
	value  *expr // check_value, for *_key_value lookups
	list   cdbList
}

// findList resolves a rule's list reference ("etc/lists/audit-keys")
// against the loaded lists, by path suffix.
func (e *Engine) findList(ref string) (cdbList, bool) {
	ref = filepath.ToSlash(strings.TrimSpace(ref))
	for path, l := range e.lists {
		p := filepath.ToSlash(path)
		if p == ref || strings.HasSuffix(p, "/"+strings.TrimPrefix(ref, "etc/lists/")) {
			return l, true
		}
	}
	return nil, false
}

func (c *listCheck) test(ev *Event) bool {
	v, ok := value(ev, c.field)
	if !ok {
		return false
	}
	switch c.lookup {
	case "match_key":
		_, ok := c.list[v]
		return ok
	case "not_match_key":
		_, ok := c.list[v]
		return !ok
	case "match_key_value":
		lv, ok := c.list[v]
		return ok && (c.value == nil || c.value.test(lv))
	case "address_match_key", "not_address_match_key", "address_match_key_value":
		found := false
		var lv string
		if a, err := netip.ParseAddr(v); err == nil {
			// Keys may be full addresses or leading octets ("10.1.").
			for k, val := range c.list {
				if k == v || strings.HasSuffix(k, ".") && strings.HasPrefix(a.String(), k) {
					found, lv = true, val
					break
				}
			}
		}
		switch c.lookup {
		case "not_address_match_key":
			return !found
		case "address_match_key_value":
			return found && (c.value == nil || c.value.test(lv))
		}
		return found
	}
	return false
}

// compiledRules are the <compiled_rule> functions of Wazuh's web rules.
var compiledRules = map[string]func(*Event) bool{
	"is_simple_http_request": func(ev *Event) bool {
		u, ok := ev.Get("url")
		if !ok {
			return false
		}
		return u == "/" || !strings.Contains(u, "?")
	},
	"is_valid_crawler": func(ev *Event) bool {
		agent, ok := ev.Get("extra_data")
		if !ok {
			return false
		}
		for _, c := range []string{"Googlebot", "bingbot", "msnbot", "Yahoo! Slurp", "Baiduspider", "YandexBot", "DuckDuckBot"} {
			if strings.Contains(agent, c) {
				return true
			}
		}
		return false
	},
}

func compiledRule(name string) (func(*Event) bool, error) {
	f, ok := compiledRules[strings.TrimSpace(name)]
	if !ok {
		return nil, fmt.Errorf("unknown compiled_rule %q", name)
	}
	return f, nil
}
