package analysis

import "strings"

// Predecode splits the syslog-style header off a line: the timestamp, the
// hostname and the program name, leaving the message in Log. Lines with no
// recognised header keep everything in Log.
func Predecode(location, line string) Event {
	var ev Event
	predecode(&ev, location, line)
	return ev
}

// predecode is Predecode into a zero Event.
func predecode(ev *Event, location, line string) {
	ev.FullLog, ev.Log, ev.Location = line, line, location
	// Apache 2.2 error log: "[Www Mmm dd hh:mm:ss YYYY] " is dropped.
	if shape(line, "[") && len(line) > 27 && shape(line[5:], "MMM Dd dd:dd:dd dddd] ") {
		ev.Timestamp = line[1:25]
		ev.Log = line[27:]
		return
	}
	// snort and suricata: "MM/DD-hh:mm:ss.ffffff  " or
	// "MM/DD/YYYY-hh:mm:ss.ffffff  " before the alert; no hostname.
	if n := idsTime(line); n > 0 {
		ev.Timestamp = line[:n]
		ev.Log = strings.TrimLeft(line[n:], " ")
		return
	}
	if strings.HasPrefix(line, "[Time ") {
		if aslPredecode(ev) {
			return
		}
	}
	n, ok := headerTime(line)
	if !ok {
		return
	}
	ev.Timestamp = line[:n]
	rest := line[n:]
	if n == len(line) || line[n-1] != ' ' {
		if !strings.HasPrefix(rest, " ") {
			return
		}
		rest = rest[1:]
	}
	rest = strings.TrimLeft(rest, " ")
	// No hostname: the first word is already "prog:" or "prog[pid]:".
	if sp := strings.IndexByte(rest, ' '); sp > 0 && (rest[sp-1] == ':' || rest[sp-1] == ']' && strings.IndexByte(rest[:sp], '[') > 0) {
		if pn, after, ok := programName(rest); ok {
			ev.ProgramName = pn
			ev.Log = after
			return
		}
	}
	// Hostname: up to the next space.
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		ev.Timestamp = ""
		return
	}
	host := rest[:sp]
	if !validHost(host) {
		ev.Timestamp = ""
		return
	}
	ev.Hostname = host
	msg := rest[sp+1:]
	ev.Log = msg
	if pn, after, ok := programName(msg); ok {
		ev.ProgramName = pn
		ev.Log = stripSolarisID(after)
	}
}

// stripSolarisID drops Solaris' "[ID n facility.severity] " message
// prefix.
func stripSolarisID(s string) string {
	if !strings.HasPrefix(s, "[ID ") {
		return s
	}
	i := strings.IndexByte(s, ']')
	if i < 0 {
		return s
	}
	return strings.TrimPrefix(s[i+1:], " ")
}

func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c == '-' || c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || isAlnum(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// programName parses "prog[pid]: ", "prog: " or "prog:" at the start of
// msg and returns the program and the message after it.
func programName(msg string) (pn, rest string, ok bool) {
	i := 0
	for i < len(msg) {
		c := msg[i]
		if c == '[' || c == ':' || c == ' ' {
			break
		}
		if !(isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')' || c == '@' || c == '%') {
			return "", "", false
		}
		i++
	}
	if i == 0 || i >= len(msg) {
		return "", "", false
	}
	pn = msg[:i]
	j := i
	if msg[j] == '[' {
		k := strings.IndexByte(msg[j:], ']')
		if k < 0 {
			return "", "", false
		}
		j += k + 1
	}
	if j < len(msg) && msg[j] == ' ' && msg[j-1] == ']' {
		// "prog[pid] message" (proftpd) has no colon.
		return pn, msg[j+1:], true
	}
	if j >= len(msg) || msg[j] != ':' {
		return "", "", false
	}
	j++
	if j < len(msg) && msg[j] == ' ' {
		j++
	}
	return pn, msg[j:], true
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func isMonth(s string) bool {
	if len(s) < 3 {
		return false
	}
	switch uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2]) {
	case 'J'<<16 | 'a'<<8 | 'n', 'F'<<16 | 'e'<<8 | 'b', 'M'<<16 | 'a'<<8 | 'r',
		'A'<<16 | 'p'<<8 | 'r', 'M'<<16 | 'a'<<8 | 'y', 'J'<<16 | 'u'<<8 | 'n',
		'J'<<16 | 'u'<<8 | 'l', 'A'<<16 | 'u'<<8 | 'g', 'S'<<16 | 'e'<<8 | 'p',
		'O'<<16 | 'c'<<8 | 't', 'N'<<16 | 'o'<<8 | 'v', 'D'<<16 | 'e'<<8 | 'c':
		return true
	}
	return false
}

// pattern matching helper: 'd' digit, 'M' month name (3 letters), ' ' a
// space, anything else literal. Returns whether s starts with the shape.
func shape(s, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case 'd':
			if !isDigit(s[i]) {
				return false
			}
		case 'D': // digit or space (day of month padded with a blank)
			if !isDigit(s[i]) && s[i] != ' ' {
				return false
			}
		case 'M':
			if !isMonth(s[i:]) {
				return false
			}
			i += 2
		default:
			if s[i] != p[i] {
				return false
			}
		}
	}
	return true
}

// headerTime recognises the timestamp formats of syslog headers and returns
// the length of the timestamp, including the blank after it when present.
func headerTime(s string) (int, bool) {
	switch {
	case shape(s, "MMM Dd dd:dd:dd"):
		n := 15
		// Optional fractions, then optional year: "Mon dd hh:mm:ss.mmm", "Mon dd hh:mm:ss YYYY".
		if n < len(s) && s[n] == '.' {
			j := n + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			n = j
		}
		if shape(s[n:], " dddd ") {
			n += 5
		}
		return n, true
	case shape(s, "dddd-dd-dd dd:dd:dd.d"):
		// macOS: YYYY-MM-DD hh:mm:ss.ffffff-zzzz
		n := 20
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		if !shape(s[n:], "+dddd ") && !shape(s[n:], "-dddd ") {
			return 0, false
		}
		return n + 5, true
	case shape(s, "dddd-dd-dd dd:dd:dd,ddd "):
		// proftpd: YYYY-MM-DD hh:mm:ss,mmm
		return 23, true
	case shape(s, "MMM Dd dddd dd:dd:dd"):
		return 20, true
	case shape(s, "dddd MMM Dd dd:dd:dd"):
		return 20, true
	case shape(s, "dddd-dd-ddTdd:dd:dd"):
		n := 19
		if n < len(s) && s[n] == '.' {
			j := n + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			n = j
		}
		switch {
		case n < len(s) && s[n] == 'Z':
			n++
		case shape(s[n:], "+dd:dd") || shape(s[n:], "-dd:dd"):
			n += 6
		case shape(s[n:], "+dddd") || shape(s[n:], "-dddd"):
			n += 5
		}
		return n, true
	}
	return 0, false
}

// idsTime returns the length of a snort or suricata timestamp with its
// fractions, or 0.
func idsTime(s string) int {
	var n int
	switch {
	case shape(s, "dd/dd-dd:dd:dd."):
		n = 15
	case shape(s, "dd/dd/dddd-dd:dd:dd."):
		n = 20
	default:
		return 0
	}
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n >= len(s) || s[n] != ' ' {
		return 0
	}
	return n
}

// aslPredecode reads macOS ASL lines: "[Time ...] [Facility f] [Sender
// prog] [PID n] [Message text] ... [Host h]".
func aslPredecode(ev *Event) bool {
	fields := map[string]string{}
	rest := ev.FullLog
	for {
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, "[") {
			break
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			break
		}
		k, v, _ := strings.Cut(rest[1:end], " ")
		fields[k] = v
		rest = rest[end+1:]
	}
	msg, ok := fields["Message"]
	if !ok {
		return false
	}
	ev.Timestamp = fields["Time"]
	ev.ProgramName = fields["Sender"]
	ev.Hostname = fields["Host"]
	ev.Log = msg
	return true
}
