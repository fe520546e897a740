package action

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// sshdBruteForceAlert is a Wazuh 4.x alert of rule 5763 (sshd brute force)
// as analysisd writes it, with the eight failed logins behind it: seven in
// previous_output, the last in full_log.
func sshdBruteForceAlert() string {
	var lines []string
	for i, user := range []string{"invalid user admin", "invalid user admin", "invalid user oracle", "invalid user test",
		"invalid user ubuntu", "invalid user postgres", "invalid user git", "root"} {
		lines = append(lines, fmt.Sprintf("May 14 10:21:0%d web-01.prod.example.internal sshd[2187%d]: "+
			"Failed password for %s from 203.0.113.7 port 5112%d ssh2", i, i, user, i))
	}
	prev, _ := json.Marshal(strings.Join(lines[:7], "\n"))
	full, _ := json.Marshal(lines[7])
	return `{"timestamp":"2024-05-14T10:21:07.512+0000",` +
		`"rule":{"level":10,"description":"sshd: brute force trying to get access to the system. Authentication failed.",` +
		`"id":"5763","mitre":{"id":["T1110"],"tactic":["Credential Access"],"technique":["Brute Force"]},` +
		`"frequency":8,"firedtimes":1,"mail":false,"groups":["syslog","sshd","authentication_failures"],` +
		`"gdpr":["IV_35.7.d","IV_32.2"],"hipaa":["164.312.b"],"nist_800_53":["SI.4","AU.14","AC.7"],` +
		`"pci_dss":["11.4","10.2.4","10.2.5"],"tsc":["CC6.1","CC6.8","CC7.2","CC7.3"]},` +
		`"agent":{"id":"003","name":"web-01.prod.example.internal","ip":"10.0.4.21","labels":{"env":"prod","team":"platform"}},"manager":{"name":"wazuh-manager"},` +
		`"id":"1715682067.4412873","cluster":{"name":"wazuh","node":"node01"},` +
		`"previous_output":` + string(prev) + `,` +
		`"full_log":` + string(full) + `,` +
		`"predecoder":{"program_name":"sshd","timestamp":"May 14 10:21:07","hostname":"web-01.prod.example.internal"},` +
		`"decoder":{"parent":"sshd","name":"sshd"},` +
		`"data":{"srcip":"203.0.113.7","srcport":"51127","dstuser":"root"},` +
		`"location":"/var/log/auth.log","input":{"type":"log"}}`
}

// sshdBruteForceMsg is sshdBruteForceAlert wrapped as wazuh-execd writes it
// to firewall-drop's stdin, line ending included.
func sshdBruteForceMsg() []byte {
	return []byte(`{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add",` +
		`"parameters":{"extra_args":[],"alert":` + sshdBruteForceAlert() +
		`,"program":"active-response/bin/firewall-drop"}}` + "\n")
}

// BenchmarkParseInput reads a realistic 4.x add message (an sshd brute-force
// alert with its previous_output, about 2.2 KB).
func BenchmarkParseInput(b *testing.B) {
	msg := sshdBruteForceMsg()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		in, err := ParseInput(msg)
		if err != nil || in.SrcIP != "203.0.113.7" || in.User != "root" {
			b.Fatalf("%+v, %v", in, err)
		}
	}
}
