package config

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// Format prints c as an ossec.conf file that [Parse] reads back into an
// equal configuration, apart from positions, Files and the Raw text of
// address entries (printed in their normal form). Disabled <active-response>
// blocks are not part of c, so Disabled reads back as 0 and the Index of the
// responses after them changes.
//
// The output has one <ossec_config> element holding the commands, the
// enabled responses with normalised values, the block setting the default
// repeated_offenders ladder, the white list, the node name and every
// <riposte> setting.
func (c *Config) Format() []byte {
	w := &xmlWriter{}
	w.open(0, "ossec_config")
	for _, cmd := range c.Commands {
		w.open(1, "command")
		w.elem(2, "name", cmd.Name)
		w.elem(2, "executable", cmd.Executable)
		w.elem(2, "timeout_allowed", yesNoText(cmd.TimeoutAllowed))
		if len(cmd.ExtraArgs) > 0 {
			w.elem(2, "extra_args", strings.Join(cmd.ExtraArgs, " "))
		}
		w.close(1, "command")
	}
	for _, r := range c.Responses {
		w.open(1, "active-response")
		w.elem(2, "command", r.Command)
		w.elem(2, "location", r.Location.String())
		if len(r.AgentIDs) > 0 {
			w.elem(2, "agent_id", strings.Join(r.AgentIDs, ","))
		}
		if len(r.RulesID) > 0 {
			w.elem(2, "rules_id", strings.Join(r.RulesID, ","))
		}
		if r.RulesGroup != "" {
			w.elem(2, "rules_group", r.RulesGroup)
		}
		if r.Level > 0 {
			w.elem(2, "level", strconv.Itoa(r.Level))
		}
		if r.Timeout > 0 {
			w.elem(2, "timeout", strconv.FormatInt(int64(r.Timeout/time.Second), 10))
		}
		if len(r.RepeatedOffenders) > 0 {
			w.elem(2, "repeated_offenders", joinInts(r.RepeatedOffenders))
		}
		w.close(1, "active-response")
	}
	if len(c.RepeatedOffenders) > 0 {
		w.open(1, "active-response")
		w.elem(2, "repeated_offenders", joinInts(c.RepeatedOffenders))
		w.close(1, "active-response")
	}
	if len(c.Global.WhiteList) > 0 {
		w.open(1, "global")
		for _, e := range c.Global.WhiteList {
			switch {
			case e.Prefix.IsValid() && e.Prefix.IsSingleIP():
				w.elem(2, "white_list", e.Prefix.Addr().String())
			case e.Prefix.IsValid():
				w.elem(2, "white_list", e.Prefix.String())
			default:
				w.elem(2, "white_list", e.Raw)
			}
		}
		w.close(1, "global")
	}
	for _, lf := range c.LocalFiles {
		w.open(1, "localfile")
		if lf.LogFormat == "multi-line" {
			w.elem(2, "log_format", "multi-line:"+strconv.Itoa(lf.Lines))
		} else {
			w.elem(2, "log_format", lf.LogFormat)
		}
		w.elem(2, "location", lf.Location)
		w.close(1, "localfile")
	}
	if rs := c.Ruleset; rs != nil {
		w.open(1, "ruleset")
		for _, v := range rs.DecoderDirs {
			w.elem(2, "decoder_dir", v)
		}
		for _, v := range rs.RuleDirs {
			w.elem(2, "rule_dir", v)
		}
		for _, v := range rs.DecoderInclude {
			w.elem(2, "decoder_include", v)
		}
		for _, v := range rs.RuleInclude {
			w.elem(2, "rule_include", v)
		}
		for _, v := range rs.DecoderExclude {
			w.elem(2, "decoder_exclude", v)
		}
		for _, v := range rs.RuleExclude {
			w.elem(2, "rule_exclude", v)
		}
		for _, v := range rs.Lists {
			w.elem(2, "list", v)
		}
		w.close(1, "ruleset")
	}
	if c.NodeName != "" {
		w.open(1, "cluster")
		w.elem(2, "node_name", c.NodeName)
		w.close(1, "cluster")
	}

	rc := &c.Riposte
	w.open(1, "riposte")
	for _, p := range rc.AlertsJSON {
		w.elem(2, "alerts_json", p)
	}
	if rc.HTTPListen == "" {
		w.elem(2, "http_listen", "off")
	} else {
		w.elem(2, "http_listen", rc.HTTPListen)
	}
	// Zero values of these settings are not valid input; leaving them out
	// lets the defaults apply.
	if rc.HandshakeTimeout > 0 {
		w.elem(2, "handshake_timeout", formatDuration(rc.HandshakeTimeout))
	}
	if rc.RunTimeout > 0 {
		w.elem(2, "run_timeout", formatDuration(rc.RunTimeout))
	}
	w.elem(2, "stateless_dedupe", formatDuration(rc.StatelessDedupe))
	if rc.WhiteListScope != "" {
		w.elem(2, "white_list_scope", string(rc.WhiteListScope))
	}
	if rc.ResolveInterval > 0 {
		w.elem(2, "white_list_resolve_interval", formatDuration(rc.ResolveInterval))
	}
	w.elem(2, "dry_run", yesNoText(rc.DryRun))
	as := rc.Actions
	backend := as.FirewallBackend
	if backend == "" {
		backend = "auto"
	}
	w.elem(2, "firewall_backend", backend)
	w.elem(2, "block_output", yesNoText(as.BlockOutput))
	if as.IngressDevice != "" {
		w.elem(2, "ingress_device", as.IngressDevice)
	}
	w.elem(2, "ipv6_prefix", strconv.Itoa(as.IPv6Prefix))
	w.elem(2, "firewalld_permanent", yesNoText(as.FirewalldPermanent))
	w.elem(2, "kill_sessions", yesNoText(as.KillSessions))
	w.elem(2, "slack_on_delete", yesNoText(as.SlackOnDelete))
	w.formatFleet(rc.Fleet)
	w.formatAPI(rc.API)
	w.close(1, "riposte")
	w.close(0, "ossec_config")
	return w.buf.Bytes()
}

// xmlWriter writes indented, attribute-free elements.
type xmlWriter struct {
	buf bytes.Buffer
}

func (w *xmlWriter) indent(depth int) {
	for range depth {
		w.buf.WriteString("  ")
	}
}

func (w *xmlWriter) open(depth int, name string) {
	w.indent(depth)
	w.buf.WriteString("<" + name + ">\n")
}

func (w *xmlWriter) close(depth int, name string) {
	w.indent(depth)
	w.buf.WriteString("</" + name + ">\n")
}

// elem writes <name>text</name> on one line. The reader decodes no
// entities, so text holding '<' is written in CDATA sections instead.
func (w *xmlWriter) elem(depth int, name, text string) {
	w.indent(depth)
	w.buf.WriteString("<" + name + ">")
	if strings.Contains(text, "<") {
		// A "]]>" inside text is split across two sections.
		w.buf.WriteString("<![CDATA[" + strings.ReplaceAll(text, "]]>", "]]]]><![CDATA[>") + "]]>")
	} else {
		w.buf.WriteString(text)
	}
	w.buf.WriteString("</" + name + ">\n")
}

func yesNoText(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// formatDuration writes d in the largest whole unit of h, m and s, or in
// Go's syntax when it is not a whole number of seconds.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
