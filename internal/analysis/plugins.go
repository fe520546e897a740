package analysis

import (
	"net/netip"
	"strings"
)

// plugins are the <plugin_decoder> implementations, by the names Wazuh
// gives them. Each reads the message (from the decoder's offset) and
// reports whether it recognised it.
var plugins = map[string]func(ev *Event, s string) bool{
	"JSON_Decoder":       decodeJSON,
	"PF_Decoder":         decodePF,
	"SonicWall_Decoder":  decodeSonicWall,
	"SymantecWS_Decoder": decodeSymantecWS,
	"OSSECAlert_Decoder": decodeOSSECAlert,
}

// decodePF reads an OpenBSD pf log line as tcpdump prints it:
//
//	rule 2/(match) pass in on xl0: 140.211.166.3.6667 > 192.168.2.10.16290: P 7408:7677(269) ...
//
// into action (pass, block, ...), srcip, srcport, dstip, dstport and
// protocol: UDP or ICMP when the packet summary says so, else TCP when the
// addresses carry ports.
func decodePF(ev *Event, s string) bool {
	i := strings.Index(s, "rule ")
	if i < 0 {
		return false
	}
	rest := s[i+len("rule "):]
	// Skip the rule number ("2/(match)"), then the action.
	_, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return false
	}
	action, rest, ok := strings.Cut(rest, " ")
	if !ok || action == "" {
		return false
	}
	// "in on xl0: " or "out on xl0: " precedes the addresses.
	_, rest, ok = strings.Cut(rest, ": ")
	if !ok {
		return false
	}
	src, rest, ok := strings.Cut(rest, " > ")
	if !ok {
		return false
	}
	dst, rest, ok := strings.Cut(rest, ": ")
	if !ok {
		dst, rest = strings.TrimSuffix(rest, ":"), ""
	}
	srcIP, srcPort := splitHostDotPort(strings.TrimSpace(src))
	dstIP, dstPort := splitHostDotPort(strings.TrimSpace(dst))
	if srcIP == "" || dstIP == "" {
		return false
	}
	ev.set("action", action)
	ev.set("srcip", srcIP)
	if srcPort != "" {
		ev.set("srcport", srcPort)
	}
	ev.set("dstip", dstIP)
	if dstPort != "" {
		ev.set("dstport", dstPort)
	}
	word, _, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	switch word = strings.ToLower(strings.TrimRight(word, ":,")); {
	case word == "udp":
		ev.set("protocol", "UDP")
	case strings.HasPrefix(word, "icmp"):
		ev.set("protocol", "ICMP")
	case srcPort != "" || dstPort != "":
		ev.set("protocol", "TCP")
	}
	return true
}

// splitHostDotPort splits tcpdump's "address.port" ("10.0.0.1.22",
// "2001:db8::1.443"); an address without a port is returned whole. ip is
// "" when s holds no address.
func splitHostDotPort(s string) (ip, port string) {
	if _, err := netip.ParseAddr(s); err == nil {
		return s, ""
	}
	i := strings.LastIndexByte(s, '.')
	if i < 0 || !allDigits(s[i+1:]) {
		return "", ""
	}
	if _, err := netip.ParseAddr(s[:i]); err != nil {
		return "", ""
	}
	return s[:i], s[i+1:]
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// keyValues calls f for each key=value pair of s, separated by blanks;
// a value may be double-quoted (the quotes are removed) and hold blanks.
func keyValues(s string, f func(k, v string)) {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return
		}
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexAny(s, " \t")
		if eq < 0 || sp >= 0 && sp < eq {
			// A word without "=": skip it.
			if sp < 0 {
				return
			}
			s = s[sp:]
			continue
		}
		k, rest := s[:eq], s[eq+1:]
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				v, s = rest[1:], ""
			} else {
				v, s = rest[1:end+1], rest[end+2:]
			}
		} else if end := strings.IndexAny(rest, " \t"); end >= 0 {
			v, s = rest[:end], rest[end:]
		} else {
			v, s = rest, ""
		}
		f(k, v)
	}
}

// decodeSonicWall reads SonicWall's key=value syslog messages:
//
//	id=fw sn=0017C5DFCEEC time="2019-03-14 16:37:19 UTC" fw=172.29.169.2 pri=1 c=32 m=1388 msg="IPSec VPN Decryption Failed" n=1064050271 src=37.186.204.2:500:X1 dst=172.29.168.2:500:X0 proto=udp/500
//
// The fields are those the Wazuh SonicWall decoders extract: status (pri),
// action (msg), id (the message number m), srcip and srcport (src,
// "address:port:interface[:name]", or srcV6), dstip and dstport (dst, or
// dstV6), protocol (proto up to "/") and dstuser (usr). It needs at least
// the id, sn and fw keys.
func decodeSonicWall(ev *Event, s string) bool {
	if i := strings.Index(s, "id="); i >= 0 {
		s = s[i:]
	}
	var kv [][2]string
	keyValues(s, func(k, v string) { kv = append(kv, [2]string{k, v}) })
	get := func(k string) (string, bool) {
		for _, p := range kv {
			if p[0] == k {
				return p[1], true
			}
		}
		return "", false
	}
	for _, k := range []string{"id", "sn", "fw"} {
		if _, ok := get(k); !ok {
			return false
		}
	}
	setIf := func(name, v string) {
		if v != "" {
			ev.set(name, v)
		}
	}
	for _, side := range []struct{ key, ip, port string }{{"src", "srcip", "srcport"}, {"dst", "dstip", "dstport"}} {
		v, _ := get(side.key)
		parts := strings.Split(v, ":")
		ip := parts[0]
		if _, err := netip.ParseAddr(ip); err != nil {
			ip, _ = get(side.key + "V6")
		}
		setIf(side.ip, ip)
		if len(parts) > 1 && allDigits(parts[1]) {
			ev.set(side.port, parts[1])
		}
	}
	pri, _ := get("pri")
	setIf("status", pri)
	msg, _ := get("msg")
	setIf("action", msg)
	m, _ := get("m")
	setIf("id", m)
	proto, _ := get("proto")
	proto, _, _ = strings.Cut(proto, "/")
	setIf("protocol", proto)
	usr, _ := get("usr")
	setIf("dstuser", usr)
	return true
}

// decodeSymantecWS reads Symantec Web Security log lines: a date, a time
// and numbered key=value pairs separated by commas,
//
//	20070717,73556,1=5,100=Logoff due to timeout.,11=1.2.3.4,10=usera,3=1,2=2
//
// into srcip (key 11), dstuser (key 10), extra_data (key 100, the message)
// and id, the pairs of keys 3 and 2 as written ("3=1,2=2"), which tell
// the kind of event.
func decodeSymantecWS(ev *Event, s string) bool {
	parts := strings.Split(s, ",")
	if len(parts) < 3 || !allDigits(parts[0]) || !allDigits(parts[1]) {
		return false
	}
	var id []string
	for _, p := range parts[2:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		switch k {
		case "11":
			ev.set("srcip", v)
		case "10":
			ev.set("dstuser", v)
		case "100":
			ev.set("extra_data", v)
		case "3", "2":
			id = append(id, p)
		}
	}
	if len(id) > 0 {
		ev.set("id", strings.Join(id, ","))
	}
	return true
}

// decodeOSSECAlert reads an alert another OSSEC or Wazuh manager
// forwarded over syslog:
//
//	ossec: Alert Level: 3; Rule: 5715 - sshd: authentication success.; Location: (web1) 10.0.0.5->/var/log/secure; srcip: 10.0.0.9; user: root; <original log>
//
// into alert.level, id (the rule id), alert.description, alert.location,
// srcip, dstuser and extra_data (the original log).
func decodeOSSECAlert(ev *Event, s string) bool {
	i := strings.Index(s, "Alert Level: ")
	if i < 0 {
		return false
	}
	s = s[i+len("Alert Level: "):]
	level, s, ok := strings.Cut(s, "; ")
	if !ok || !allDigits(level) {
		return false
	}
	ev.set("alert.level", level)
	for s != "" {
		k, v, ok := strings.Cut(s, ": ")
		known := ok && (k == "Rule" || k == "Location" || k == "srcip" || k == "user" || k == "dstip")
		if !known {
			break
		}
		// A value runs up to the next "; " (a description may hold ';'
		// only when not followed by a blank).
		val, rest, _ := strings.Cut(v, "; ")
		switch k {
		case "Rule":
			id, desc, _ := strings.Cut(val, " - ")
			ev.set("id", strings.TrimSpace(id))
			if desc != "" {
				ev.set("alert.description", desc)
			}
		case "Location":
			ev.set("alert.location", val)
		case "srcip":
			ev.set("srcip", val)
		case "dstip":
			ev.set("dstip", val)
		case "user":
			ev.set("dstuser", val)
		}
		s = rest
	}
	if s = strings.TrimSpace(s); s != "" {
		ev.set("extra_data", s)
	}
	return true
}
