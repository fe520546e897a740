// Package analysis is Riposte's Wazuh-compatible log analysis engine: it
// pre-decodes a log line (syslog and the other headers Wazuh recognises),
// runs it through Wazuh-format decoders and rules loaded from XML, and
// produces alerts in the shape of Wazuh's alerts.json, so the response
// engine can consume them unchanged.
//
// Load compiles every decoder and rule once; Engine.Process handles one
// line with the correlation state (frequency counters, if_matched_*
// history, first-time-seen) held in a Session.
//
// The package imports only osregex, the standard library and regexp2 (for
// type="pcre2" patterns). It knows nothing of respond or execd: it produces
// alert documents and stops there.
package analysis
