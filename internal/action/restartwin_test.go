package action

import "testing"

var restartWinAct = platAction{"restart-wazuh.exe", "windows", `active-response\bin\restart-wazuh.exe`}

func TestRestartWazuhWindows(t *testing.T) {
	cases := []platCase{{
		name:  "add restarts the service, with no check_keys",
		calls: []string{"net stop riposte", "net start riposte"},
		logs:  []string{"Ended"},
	}, {
		name: "a service that was not running is started",
		answers: map[string]fakeAnswer{
			"net stop": {err: platExit("net stop riposte", "2", "The Riposte service is not started.")},
		},
		calls: []string{"net stop riposte", "net start riposte"},
		logs:  []string{"Stopping service riposte: net stop riposte: exit status 2", "Ended"},
	}, {
		name: "start that fails",
		answers: map[string]fakeAnswer{
			"net start": {err: platExit("net start riposte", "2", "The service name is invalid.")},
		},
		code:  ExitFailed,
		calls: []string{"net stop riposte", "net start riposte"},
		logs:  []string{"Unable to run active response: add: net start riposte: exit status 2: The service name is invalid."},
	}, {
		name:    "net missing",
		answers: map[string]fakeAnswer{"net": {err: platMissing("net")}},
		code:    ExitFailed,
		calls:   []string{"net stop riposte"},
		logs:    []string{"net: program not found"},
	}, {
		name: "delete does nothing", command: "delete",
		logs: []string{"Ended"},
	}, {
		name: "no address needed", srcip: "not an address",
		calls: []string{"net stop riposte", "net start riposte"},
	}, {
		name: "not on Linux", goos: "linux",
		code: ExitFailed,
		logs: []string{`invalid system "linux": restart-wazuh.exe runs on Windows`},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { platCheck(t, restartWinAct, c) })
	}
}
