// Package action holds Riposte's built-in responses under their Wazuh names
// (firewall-drop, host-deny, route-null, disable-account, ...), and the
// script side of Wazuh's stdin protocol that every one of them speaks: read
// one JSON line (Wazuh 4.x add/delete or Wazuh 5.x enable/disable), answer
// check_keys, act, and log to active-responses.log in Wazuh's format.
//
// The same code runs as the riposte-ar multi-call binary, under a real Wazuh
// execd too, and in-process inside Riposte's execd. Everything that touches
// the system comes through [Env] (a filesystem root, a program runner, a
// netlink connection), so tests point it at a namespace or a temp root.
//
// action knows nothing of the manager, the transport or the engine: it is
// linked alone into riposte-ar and never imports respond, execd, fleet or
// api. It returns outcomes and writes active-responses.log; it does not use
// Riposte's structured log.
package action
