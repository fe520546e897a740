package action

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// recAction records what the protocol asked of it.
type recAction struct {
	keys      []string
	keysErr   error
	addErr    error
	added     []*Input
	deleted   []*Input
	stateless bool
}

func (a *recAction) Keys(in *Input) ([]string, error) {
	if a.keysErr != nil {
		return nil, a.keysErr
	}
	if a.stateless {
		return nil, nil
	}
	return a.keys, nil
}
func (a *recAction) Add(_ context.Context, in *Input) error {
	a.added = append(a.added, in)
	return a.addErr
}
func (a *recAction) Delete(_ context.Context, in *Input) error {
	a.deleted = append(a.deleted, in)
	return nil
}

const addMsg = `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":["-x","y"],"alert":{"rule":{"id":"5712","level":10},"data":{"srcip":"203.0.113.7","dstuser":"bob"}},"program":"active-response/bin/firewall-drop"}}`

// drive runs the protocol with input, answering check_keys with reply
// (empty: none expected). It returns the exit code, what the action printed
// and the log.
func drive(t *testing.T, act Action, input, reply string) (int, string, string) {
	t.Helper()
	l, path := testLog(t)
	env := &Env{Program: "active-response/bin/firewall-drop", Log: l}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), act, env, inR, outW)
		outW.Close()
	}()
	var printed strings.Builder
	read := make(chan struct{})
	go func() {
		defer close(read)
		inW.Write([]byte(input + "\n"))
		br := bufio.NewReader(outR)
		line, err := br.ReadString('\n')
		printed.WriteString(line)
		if err == nil && reply != "" {
			inW.Write([]byte(reply + "\n"))
		}
		io.Copy(io.Discard, br)
	}()
	code := <-done
	inW.Close()
	<-read
	b, _ := os.ReadFile(path)
	return code, printed.String(), string(b)
}

func TestRunHandshake(t *testing.T) {
	cont := strings.Replace(addMsg, `"add"`, `"continue"`, 1)
	abort := strings.Replace(addMsg, `"add"`, `"abort"`, 1)
	tests := []struct {
		name     string
		input    string
		reply    string
		stateful bool
		code     int
		printed  string
		added    int
		deleted  int
		logHas   []string
	}{
		{name: "add continue", input: addMsg, reply: cont, stateful: true, code: 0, added: 1,
			printed: `{"version":1,"origin":{"name":"firewall-drop","module":"active-response"},"command":"check_keys","parameters":{"keys":["203.0.113.7"]}}` + "\n",
			logHas:  []string{"active-response/bin/firewall-drop: Starting\n", addMsg + "\n\n", cont + "\n\n", ": Ended\n"}},
		{name: "add abort", input: addMsg, reply: abort, stateful: true, code: 0, added: 0, logHas: []string{": Aborted\n"}},
		{name: "bad reply", input: addMsg, reply: `{"command":"continue"}`, stateful: true, code: 255, logHas: []string{"Invalid input format"}},
		{name: "unknown reply", input: addMsg, reply: strings.Replace(addMsg, `"add"`, `"maybe"`, 1), stateful: true, code: 255, logHas: []string{"Invalid value of 'command'"}},
		{name: "delete no handshake", input: strings.Replace(addMsg, `"add"`, `"delete"`, 1), stateful: true, code: 0, deleted: 1, printed: ""},
		{name: "stateless add", input: addMsg, code: 0, added: 1, printed: ""},
		{name: "no version", input: `{"origin":{},"command":"add","parameters":{}}`, code: 255, logHas: []string{"Invalid input format"}},
		{name: "no parameters", input: `{"version":1,"origin":{},"command":"add"}`, code: 255, logHas: []string{"Invalid input format"}},
		{name: "bad command", input: `{"version":1,"origin":{},"command":"zap","parameters":{}}`, code: 255, logHas: []string{"Invalid value of 'command'"}},
		{name: "not json", input: `hello`, code: 255, logHas: []string{"Invalid input format"}},
		{name: "5.x enable", input: `{"wazuh":{"active_response":{"name":"block-ip","executable":"block-ip","type":"stateful","stateful_timeout":5}},"source":{"ip":"3.3.3.3"},"command":"enable"}`,
			reply: `{"wazuh":{"active_response":{}},"command":"continue"}`, stateful: true, code: 0, added: 1},
		{name: "5.x disable", input: `{"wazuh":{"active_response":{"name":"block-ip"}},"source":{"ip":"3.3.3.3"},"command":"disable"}`, stateful: true, code: 0, deleted: 1},
		{name: "5.x no command", input: `{"wazuh":{"active_response":{}},"source":{"ip":"3.3.3.3"}}`, code: 255, logHas: []string{"Cannot read 'command'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act := &recAction{keys: []string{"203.0.113.7"}, stateless: !tt.stateful}
			code, printed, log := drive(t, act, tt.input, tt.reply)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, log)
			}
			if tt.printed != "" && printed != tt.printed {
				t.Errorf("printed %q, want %q", printed, tt.printed)
			}
			if len(act.added) != tt.added || len(act.deleted) != tt.deleted {
				t.Errorf("added %d deleted %d, want %d %d", len(act.added), len(act.deleted), tt.added, tt.deleted)
			}
			for _, s := range tt.logHas {
				if !strings.Contains(log, s) {
					t.Errorf("log lacks %q:\n%s", s, log)
				}
			}
			line := regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} active-response/bin/firewall-drop: `)
			for _, l := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
				if l != "" && !line.MatchString(l) {
					t.Errorf("log line not in Wazuh's format: %q", l)
				}
			}
		})
	}
}

func TestRunActionFailures(t *testing.T) {
	act := &recAction{keysErr: &InputError{"Unable to run active response (invalid IP: 'x')."}}
	code, _, log := drive(t, act, addMsg, "")
	if code != ExitInvalid || len(act.added) != 0 || !strings.Contains(log, "invalid IP") {
		t.Fatalf("invalid keys: %d %s", code, log)
	}
	act = &recAction{stateless: true, addErr: errors.New("set not found after add")}
	code, _, log = drive(t, act, addMsg, "")
	if code != ExitFailed || !strings.Contains(log, "set not found after add") || strings.Contains(log, "Ended") {
		t.Fatalf("failed add: %d %s", code, log)
	}
}

type secretRec struct{ recAction }

func (secretRec) secretArgs() {}

func TestSecretArgsNotLogged(t *testing.T) {
	msg := strings.Replace(addMsg, `["-x","y"]`, `["https://hooks.example/T000/SECRET"]`, 1)
	_, _, log := drive(t, &secretRec{recAction{stateless: true}}, msg, "")
	if strings.Contains(log, "SECRET") || !strings.Contains(log, `"***"`) {
		t.Fatalf("log:\n%s", log)
	}
}

func TestParseInput(t *testing.T) {
	in, err := ParseInput([]byte(`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a",1,"b"],"alert":{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"destinationIp":"2.2.2.2"}},"dstuser":"eve"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if in.Verb != Add || in.SrcIP != "2.2.2.2" || in.User != "eve" || strings.Join(in.ExtraArgs, ",") != "a,b" || in.V5 {
		t.Fatalf("%+v", in)
	}
	in, err = ParseInput([]byte(`{"wazuh":{"active_response":{"extra_arguments":"--x  y"}},"source":{"ip":"::1"},"user":{"name":"bob"},"command":"disable"}`))
	if err != nil {
		t.Fatal(err)
	}
	if in.Verb != Delete || !in.V5 || in.SrcIP != "::1" || in.User != "bob" || strings.Join(in.ExtraArgs, ",") != "--x,y" {
		t.Fatalf("%+v", in)
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in    string
		widen int
		want  string
		bad   bool
	}{
		{in: "203.0.113.7", want: "203.0.113.7"},
		{in: "::ffff:203.0.113.7", want: "203.0.113.7"},
		{in: "2001:DB8:0:0::1", want: "2001:db8::1"},
		{in: "2001:db8::1", widen: 64, want: "2001:db8::/64"},
		{in: "203.0.113.7", widen: 64, want: "203.0.113.7"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "fe80::1%eth0", bad: true},
		{in: "1.2.3.4; rm -rf /", bad: true},
		{in: "$(id)", bad: true},
		{in: "host.example", bad: true},
		{in: "", bad: true},
		{in: strings.Repeat("1", 100), bad: true},
	}
	for _, tt := range tests {
		p, err := ParseTarget(tt.in, tt.widen)
		if tt.bad {
			if err == nil {
				t.Errorf("%q accepted as %v", tt.in, p)
			}
			continue
		}
		if err != nil || PrefixText(p) != tt.want {
			t.Errorf("%q: %v %v, want %s", tt.in, PrefixText(p), err, tt.want)
		}
	}
}
