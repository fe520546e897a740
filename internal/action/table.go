package action

// table maps the Wazuh executable names to their actions. Windows names keep
// their .exe. This is the one list of built-in actions: riposte-ar dispatches
// on it by its own name, and execd runs these in-process.
var table = map[string]Factory{
	"firewall-drop":     newFirewallDrop,
	"firewalld-drop":    newFirewalldDrop,
	"host-deny":         newHostDeny,
	"disable-account":   newDisableAccount,
	"route-null":        newRouteNull,
	"ip-customblock":    newIPCustomBlock,
	"restart-wazuh":     newRestartWazuh,
	"wazuh-slack":       newWazuhSlack,
	"pf":                newPF,
	"ipfw":              newIPFW,
	"npf":               newNPF,
	"netsh.exe":         newNetsh,
	"route-null.exe":    newRouteNullWindows,
	"restart-wazuh.exe": newRestartWazuhWindows,
}
