package config

import (
	"fmt"
	"os"
	"strings"
)

// defaultName is the file name given to the built-in configuration in
// positions and problems.
const defaultName = "(built-in)"

// defaultXML is the built-in configuration. Keep it in step with the
// defaults in load.go: the <riposte> section only shows them.
const defaultXML = `<!--
  Riposte built-in configuration.

  This is the configuration "riposte run" uses when it is given no
  configuration file; "riposte config show" prints the one in effect.
  The format is Wazuh's ossec.conf: a file holds one or more <ossec_config>
  elements, and Riposte reads their <command>, <active-response>, <global>
  and <cluster> sections as Wazuh 4.x does, plus its own <riposte> section.
  Other Wazuh sections are accepted and ignored with a warning.
-->
<ossec_config>
  <!--
    Commands: the scripts an active response can run. <executable> is a
    file name in the active-response bin directory, never a path.
    <timeout_allowed>yes</timeout_allowed> lets a response undo the command
    after its <timeout>. These are Wazuh's default commands.
  -->
  <command>
    <name>disable-account</name>
    <executable>disable-account</executable>
    <timeout_allowed>yes</timeout_allowed>
  </command>

  <command>
    <name>restart-wazuh</name>
    <executable>restart-wazuh</executable>
    <timeout_allowed>no</timeout_allowed>
  </command>

  <command>
    <name>firewall-drop</name>
    <executable>firewall-drop</executable>
    <timeout_allowed>yes</timeout_allowed>
  </command>

  <command>
    <name>host-deny</name>
    <executable>host-deny</executable>
    <timeout_allowed>yes</timeout_allowed>
  </command>

  <command>
    <name>route-null</name>
    <executable>route-null</executable>
    <timeout_allowed>yes</timeout_allowed>
  </command>

  <command>
    <name>win_route-null</name>
    <executable>route-null.exe</executable>
    <timeout_allowed>yes</timeout_allowed>
  </command>

  <!--
    Active responses: when to run a command, and where.
    This one drops, for ten minutes, the source address of an SSH brute
    force attack, on the host where it was seen. Rules 5712, 5720 and 5763
    are the sshd rules of Wazuh's ruleset for brute-force attempts and
    repeated authentication failures (Riposte's built-in ruleset uses the
    same ids). A response needs a trigger: <level> (rules of that level or
    higher), <rules_group> or <rules_id>. <location> is local, server,
    defined-agent (with <agent_id>) or all. A repeat offender is blocked
    for 30 minutes, then one hour, then two hours.
  -->
  <active-response>
    <command>firewall-drop</command>
    <location>local</location>
    <rules_id>5712,5720,5763</rules_id>
    <timeout>600</timeout>
    <repeated_offenders>30,60,120</repeated_offenders>
  </active-response>

  <!--
    Logs to watch: sshd writes to the auth log where a syslog daemon runs,
    and only to the systemd journal otherwise.
  -->
  <localfile>
    <log_format>@LOGFORMAT@</log_format>
    <location>@LOCATION@</location>
  </localfile>

  <!--
    Addresses that no response may act on: addresses, CIDR blocks
    (10.0.0.0/8) or host names, one per <white_list>.
  -->
  <global>
    <white_list>127.0.0.1</white_list>
    <white_list>::1</white_list>
  </global>

  <!--
    The manager's name, sent to scripts as origin.name, is
    <cluster><node_name>; it defaults to node01.
  -->

  <!-- Riposte's own settings, shown with their default values. -->
  <riposte>
    <!--
      Wazuh alerts.json files to read alerts from (repeatable), e.g.
      <alerts_json>/var/ossec/logs/alerts/alerts.json</alerts_json>
    -->

    <!--
      The HTTPS API (Wazuh-compatible endpoints, /api/v1, the web console
      and /metrics), on Wazuh's API port. The administrator "admin" is
      created on first start with its password in <data dir>/admin.password.
      Without <cert> and <key> a certificate is made on first start.
    -->
    <api>
      <listen>127.0.0.1:55000</listen>
    </api>

    <!--
      A plain-HTTP endpoint that accepts alerts without authentication:
      loopback only, or off. The API accepts them at /api/v1/alerts.
    -->
    <http_listen>off</http_listen>

    <!-- How long a script may take to ask for its keys or exit. -->
    <handshake_timeout>10s</handshake_timeout>

    <!-- How long a whole script run may take. -->
    <run_timeout>60s</run_timeout>

    <!--
      Skip a repeat of the same stateless response within this window.
      0s runs every repeat, as Wazuh does.
    -->
    <stateless_dedupe>0s</stateless_dedupe>

    <!--
      What a white-list hit suppresses: ip (only responses that act on the
      source address) or all (every response for the alert, as Wazuh does).
    -->
    <white_list_scope>ip</white_list_scope>

    <!-- How often white-listed host names are resolved again. -->
    <white_list_resolve_interval>5m</white_list_resolve_interval>

    <!-- yes: decide and log, but run nothing. -->
    <dry_run>no</dry_run>

    <!--
      Built-in actions. firewall-drop blocks with nftables sets (kernel-side
      timeouts, one element per address) where nftables works; auto picks
      nftables, then ipset, then iptables.
    -->
    <firewall_backend>auto</firewall_backend>
    <!-- yes: also block traffic to the address, not only from it. -->
    <block_output>no</block_output>
    <!-- Widen blocked IPv6 addresses to this prefix (64), or 0 to keep them. -->
    <ipv6_prefix>0</ipv6_prefix>
    <!-- yes: firewalld-drop also writes the permanent configuration. -->
    <firewalld_permanent>no</firewalld_permanent>
    <!-- yes: disable-account also ends the user's sessions. -->
    <kill_sessions>no</kill_sessions>
    <!-- yes: wazuh-slack also posts when a response is undone. -->
    <slack_on_delete>no</slack_on_delete>
  </riposte>
</ossec_config>
`

// DefaultXML returns the text of the built-in configuration for this host,
// an ossec.conf with comments for operators: it reads /var/log/auth.log
// where the host has one, and the systemd journal otherwise. The caller may
// modify the returned slice.
func DefaultXML() []byte {
	_, err := os.Stat(AuthLog)
	return defaultXMLFor(err == nil)
}

// AuthLog is where sshd's messages go on hosts with a syslog daemon.
const AuthLog = "/var/log/auth.log"

// defaultXMLFor returns the built-in configuration reading the auth log, or
// the systemd journal when the host has no auth log.
func defaultXMLFor(authLog bool) []byte {
	format, location := "journald", "journald"
	if authLog {
		format, location = "syslog", AuthLog
	}
	r := strings.NewReplacer("@LOGFORMAT@", format, "@LOCATION@", location)
	return []byte(r.Replace(defaultXML))
}

// Default returns the built-in configuration: Wazuh's default commands, one
// response that blocks SSH brute force for ten minutes, a white list of the
// loopback addresses and Riposte's default settings. Its positions name the
// file "(built-in)" and Files is empty.
func Default() *Config {
	cfg, probs, err := Parse(defaultName, DefaultXML())
	if err != nil || len(probs) > 0 {
		panic(fmt.Sprintf("config: built-in configuration is broken: %v", Problems(probs)))
	}
	cfg.Files = nil
	return cfg
}
