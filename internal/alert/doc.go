// Package alert is the Wazuh alert document: the alerts.json shape that
// analysis produces and that Wazuh managers write, and typed access to the
// fields the response engine reads (rule.id, rule.level, rule.groups, agent,
// data.srcip, data.dstuser, data.win.eventdata.ipAddress, source.ip, ...).
//
// It is shared vocabulary: it imports no other Riposte package.
package alert
