package ruleset_test

import "testing"

func TestPostfixLines(t *testing.T) {
	tests := []lineCase{
		{"Nov 27 10:00:00 mx postfix/smtpd[1000]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", "postfix", 3332, 5,
			map[string]string{"srchost": "unknown", "srcip": "203.0.113.50", "sasl_method": "LOGIN"}},
		{"2026-11-27T10:00:00+0000 mx postfix/submission/smtpd[1000]: warning: mail.example.net[2001:db8::50]: SASL PLAIN authentication failed: , sasl_username=alice", "postfix", 3332, 5,
			map[string]string{"srchost": "mail.example.net", "srcip": "2001:db8::50", "sasl_method": "PLAIN", "dstuser": "alice"}},
		{"Nov 27 10:00:00 mx postfix-out/smtpd[1000]: warning: unknown[203.0.113.50]: SASL CRAM-MD5 authentication failed: authentication failure", "postfix", 3332, 5,
			map[string]string{"srcip": "203.0.113.50", "sasl_method": "CRAM-MD5"}},
		{"Nov 27 10:00:07 mx postfix/smtpd[1000]: connect from unknown[203.0.113.50]", "postfix", 0, 0, nil},
		{"Nov 27 10:00:07 mx postfix/smtpd[1000]: 4F1A2B3C: client=mail.example.net[192.0.2.25], sasl_method=PLAIN, sasl_username=alice", "postfix", 0, 0,
			map[string]string{"dstuser": "alice"}},
		// Not Postfix.
		{"Nov 27 10:00:07 mx smtpd[1000]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: x", "", 0, 0, nil},
	}
	checkLines(t, load(t, nil), tests, "srcip", "dstuser")
}

func TestPostfixCorrelation(t *testing.T) {
	const f = "Nov 27 10:00:00 mx postfix/smtpd[%d]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
	const many = "Nov 27 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.%d]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
	tests := []freqCase{
		{"one source", repeat(8, f), 3357, "postfix", "authentication_failures"},
		{"seven failures", repeat(7, f), 3332, "postfix", ""},
		{"many sources", repeat(8, many), 3332, "postfix", ""},
	}
	checkFrequency(t, load(t, nil), tests)
}
