// Package config reads Riposte's configuration: Wazuh's ossec.conf format
// (<command>, <active-response>, <global><white_list>, <cluster><node_name>)
// plus Riposte's own <riposte> section, and reports every problem with file
// and line. It imports no other Riposte package.
package config
