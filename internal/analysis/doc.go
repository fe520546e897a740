// Package analysis is Riposte's Wazuh-compatible log analysis engine: it
// pre-decodes a log line (syslog and the other headers Wazuh recognises),
// runs it through Wazuh-format decoders and rules loaded from XML, and
// produces alerts in the shape of Wazuh's alerts.json, so the response
// engine can consume them unchanged.
//
// Load compiles every decoder and rule once; Engine.Process handles one
// line with the correlation state (frequency counters, if_matched_*
// history, first-time-seen, ignore lists, accumulated fields) held in a
// Session.
//
// Beyond the matching elements, the rule options implemented are
// frequency/timeframe with if_matched_sid, if_matched_group and
// if_matched_regex (counting the events of the same agent unless
// global_frequency is set), the same_*/different_* conditions, ignore=
// (seconds a rule stays quiet after it fires), <ignore> and
// <check_if_ignored> (field values recorded when a rule fires and events
// carrying them dropped), check_diff and if_fts; correlation alerts carry
// the events counted in previous_output. Decoders support <accumulate>
// and the plugin decoders JSON_Decoder, PF_Decoder, SonicWall_Decoder,
// SymantecWS_Decoder and OSSECAlert_Decoder (plugins.go documents the
// fields each extracts).
//
// Bounds: a line is cut to Options.MaxEventSize (64 KiB by default, as
// Wazuh's OS_MAXSTR); a type="pcre2" match gives up after 100 ms and counts
// as no match; OS_Regex matching is linear in the input past a small step
// budget; the histories, first-time-seen values, ignore lists and
// accumulated ids of a session are bounded.
//
// The package imports only osregex, the standard library and regexp2 (for
// type="pcre2" patterns). It knows nothing of respond or execd: it produces
// alert documents and stops there.
package analysis
