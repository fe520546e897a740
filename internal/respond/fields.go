package respond

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/riposte/riposte/internal/alert"
	"github.com/riposte/riposte/internal/config"
)

// subject is what a command acts on, which decides which alert fields it
// needs and whether the white list applies to it.
type subject int

const (
	// subjectUnknown: a custom script; it may use the source address, so the
	// address is checked when present and the white list applies.
	subjectUnknown subject = iota
	// subjectIP: the command blocks the source address, which is required.
	subjectIP
	// subjectUser: the command acts on data.dstuser, which is required.
	subjectUser
	// subjectNone: the command takes neither (restart, notification).
	subjectNone
)

// builtinSubjects classifies the executables that Riposte ships under their
// Wazuh names.
var builtinSubjects = map[string]subject{
	"firewall-drop":   subjectIP,
	"firewalld-drop":  subjectIP,
	"host-deny":       subjectIP,
	"route-null":      subjectIP,
	"ip-customblock":  subjectIP,
	"pf":              subjectIP,
	"ipfw":            subjectIP,
	"npf":             subjectIP,
	"netsh":           subjectIP,
	"disable-account": subjectUser,
	"restart-wazuh":   subjectNone,
	"restart-ossec":   subjectNone,
	"wazuh-slack":     subjectNone,
}

func subjectOf(r *config.Response) subject {
	if r.Cmd == nil {
		return subjectUnknown
	}
	name := strings.TrimSuffix(r.Cmd.Executable, ".exe")
	return builtinSubjects[name]
}

// Limits on field lengths; longer values are refused as a likely logging
// attack. The longest textual IPv6 address with a zone is well under 64.
const (
	maxSrcIPLen = 64
	maxUserLen  = 256
)

// checkFields validates the alert fields a response will hand to a program,
// filling d.SrcIP. It returns a rejection reason, or "" when the response may
// run.
func checkFields(s subject, a *alert.Alert, d *Decision) string {
	if a.SrcIP != "" {
		if reason := checkSrcIP(a.SrcIP); reason != "" {
			if s != subjectNone {
				return fmt.Sprintf("%s %s", a.SrcIPField, reason)
			}
		} else if addr, err := netip.ParseAddr(a.SrcIP); err == nil {
			d.SrcIP = addr.Unmap().WithZone("")
		} else if s == subjectIP {
			return fmt.Sprintf("%s %q is not an IP address", a.SrcIPField, a.SrcIP)
		}
	} else if s == subjectIP {
		return "the alert has no source address (data.srcip, data.win.eventdata.ipAddress or source.ip)"
	}
	if a.DstUser != "" {
		if reason := checkUser(a.DstUser); reason != "" && s != subjectNone {
			return "data.dstuser " + reason
		}
	} else if s == subjectUser {
		return "the alert has no user name (data.dstuser)"
	}
	return ""
}

// checkSrcIP applies Wazuh's character check for srcip (letters, digits,
// '.', ':', '_' and '-') plus a length limit.
func checkSrcIP(v string) string {
	if len(v) > maxSrcIPLen {
		return fmt.Sprintf("is %d bytes long (limit %d): possible logging attack", len(v), maxSrcIPLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isAlnum(c) || c == '.' || c == ':' || c == '_' || c == '-') {
			return fmt.Sprintf("%q contains %q: possible logging attack", v, c)
		}
	}
	return ""
}

// checkUser applies Wazuh's character check for dstuser (letters, digits,
// '.', '_', '@', '?' and '-'), refuses names starting with '-' (they would
// be read as options) and limits the length.
func checkUser(v string) string {
	if len(v) > maxUserLen {
		return fmt.Sprintf("is %d bytes long (limit %d): possible logging attack", len(v), maxUserLen)
	}
	if strings.HasPrefix(v, "-") {
		return fmt.Sprintf("%q starts with '-'", v)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isAlnum(c) || c == '.' || c == '_' || c == '@' || c == '?' || c == '-') {
			return fmt.Sprintf("%q contains %q: possible logging attack", v, c)
		}
	}
	return ""
}

// CheckUser applies to an account name given by hand the checks an
// alert's dstuser gets (Wazuh's characters, no leading '-', a length
// limit).
func CheckUser(v string) error {
	if msg := checkUser(v); msg != "" {
		return fmt.Errorf("user %s", msg)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
