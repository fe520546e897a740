package action

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// v4Msg wraps an alert (any JSON text) in a 4.x add message.
func v4Msg(alert string) string {
	return `{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],"alert":` +
		alert + `,"program":"active-response/bin/firewall-drop"}}`
}

// v4Env is a 4.x message from its four envelope values (empty: key left out).
func v4Env(version, origin, command, parameters string) string {
	var parts []string
	for _, kv := range [][2]string{{"version", version}, {"origin", origin}, {"command", command}, {"parameters", parameters}} {
		if kv[1] != "" {
			parts = append(parts, `"`+kv[0]+`":`+kv[1])
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// v5Msg is a 5.x message with the given members after wazuh.active_response.
func v5Msg(members string) string {
	return `{"wazuh":{"active_response":{"extra_arguments":"-x y"}}` + members + `}`
}

// parseInputInputs are lines for which ParseInput must do what
// parseInputSlow does: valid and invalid, both contracts, corner cases of
// encoding/json.
func parseInputInputs() []string {
	ins := []string{
		// Messages as the tests and execd write them.
		addMsg,
		string(sshdBruteForceMsg()),
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a",1,"b"],"alert":{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"destinationIp":"2.2.2.2"}},"dstuser":"eve"}}}}`,
		`{"wazuh":{"active_response":{"extra_arguments":"--x  y"}},"source":{"ip":"::1"},"user":{"name":"bob"},"command":"disable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":""}},"command":"enable"}`,
		`{"version":1,"origin":{},"command":"delete","parameters":{"alert":{"data":{"srcip":"203.0.113.9"}}}}`,

		// Not JSON, or not one JSON object.
		``, ` `, "\t", `{`, `}`, `{"version":1`, `{"version":1,}`, `{"version" 1}`, `{"version":}`, `{,}`,
		`{}x`, `{}{}`, `{} {}`, `{} `, ` {}`, "{}\x00", "\xef\xbb\xbf{}", `{'version':1}`, `{version:1}`,
		`{"a":1}/**/`, `//x` + "\n{}", `null`, `true`, `false`, `1`, `-1`, `"x"`, `[]`, `[{}]`, `nul`, `tru`,
		`{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":{"b":1,}}`, `{"a" : 1 , "b" : [ ] }`,
		`{"a":"x` + "\x01" + `"}`, `{"a":"x` + "\t" + `"}`, `{"a":"x` + "\x7f" + `"}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`{"a":"\u12g4"}`, `{"a":"\uD800"}`, `{"a":"\"\\\/\b\f\n\r\t\u00e9"}`, `{"a":"x`, `{"a":"x\`, `{"a":"x\"}`,
		`{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":+1}`, `{"a":1e}`, `{"a":1e+}`, `{"a":-0.0e-0}`,
		`{"a":1E99999}`, `{"a":123456789012345678901234567890}`, `{"a":0x10}`, `{"a":Infinity}`, `{"a":NaN}`,
		`{"a":True}`, `{"a":nulls}`, `{"a":truefalse}`, `{"a":"\xff\xfe"}`, "{\"\xff\":1}",

		// 4.x envelope: version, origin, command, parameters missing or
		// of the wrong kind.
		v4Env(`1`, `{}`, `"add"`, `{}`),
		v4Env(``, `{}`, `"add"`, `{}`),
		v4Env(`"1"`, `{}`, `"add"`, `{}`),
		v4Env(`null`, `{}`, `"add"`, `{}`),
		v4Env(`-1`, `{}`, `"add"`, `{}`),
		v4Env(`0`, `{}`, `"add"`, `{}`),
		v4Env(`1.5e3`, `{}`, `"add"`, `{}`),
		v4Env(`true`, `{}`, `"add"`, `{}`),
		v4Env(`{}`, `{}`, `"add"`, `{}`),
		v4Env(`1`, ``, `"add"`, `{}`),
		v4Env(`1`, `null`, `"add"`, `{}`),
		v4Env(`1`, `[]`, `"add"`, `{}`),
		v4Env(`1`, `"x"`, `"add"`, `{}`),
		v4Env(`1`, `{}`, ``, `{}`),
		v4Env(`1`, `{}`, `null`, `{}`),
		v4Env(`1`, `{}`, `1`, `{}`),
		v4Env(`1`, `{}`, `["add"]`, `{}`),
		v4Env(`1`, `{}`, `{}`, `{}`),
		v4Env(`1`, `{}`, `true`, `{}`),
		v4Env(`1`, `{}`, `""`, `{}`),
		v4Env(`1`, `{}`, `"ADD"`, `{}`),
		v4Env(`1`, `{}`, `"add "`, `{}`),
		v4Env(`1`, `{}`, `"a\u0064d"`, `{}`),
		v4Env(`1`, `{}`, `"del\u0065te"`, `{}`),
		v4Env(`1`, `{}`, `"enable"`, `{}`),
		v4Env(`1`, `{}`, `"disable"`, `{}`),
		v4Env(`1`, `{}`, `"delete"`, `{}`),
		v4Env(`1`, `{}`, `"add\u0000"`, `{}`),
		v4Env(`1`, `{}`, `"add"`, ``),
		v4Env(`1`, `{}`, `"add"`, `null`),
		v4Env(`1`, `{}`, `"add"`, `[]`),
		v4Env(`1`, `{}`, `"add"`, `"x"`),
		v4Env(``, `{}`, ``, `{}`),
		v4Env(`1`, ``, ``, `{}`),
		v4Env(`1`, `{}`, ``, ``),
		v4Env(`"1"`, `{}`, ``, `{}`),
		v4Env(`1`, `{}`, `"bogus"`, `null`),
		v4Env(``, ``, ``, ``),
		`{"version":1,"origin":{},"command":"add","parameters":{},"version":"1"}`,
		`{"version":"1","origin":{},"command":"add","parameters":{},"version":1}`,
		`{"version":1,"origin":{},"command":"add","parameters":{},"command":"bogus"}`,
		`{"version":1,"origin":{},"command":"bogus","parameters":{},"command":"delete"}`,
		`{"version":1,"origin":{},"command":"add","parameters":{},"command":null}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip":"1.1.1.1"}}},"parameters":{}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{},"parameters":{"alert":{"data":{"srcip":"1.1.1.1"}}}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":"x"},"parameters":{"extra_args":["a"]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a"]},"parameters":[]}`,

		// 4.x keys as encoding/json matches them to struct fields: any
		// case, Unicode folding (ſ is s, K is k), escapes.
		`{"VERSION":1,"Origin":{},"COMMAND":"add","Parameters":{"EXTRA_ARGS":["a"],"Alert":{"DATA":{"SRCIP":"1.1.1.1","DstUser":"eve"}}}}`,
		`{"ver\u017fion":1,"origin":{},"command":"add","parameter\u017f":{"extra_arg\u017f":["a"],"alert":{"data":{"\u017frcip":"1.1.1.1","d\u017ftu\u017fer":"eve"}}}}`,
		"{\"ver\u017fion\":1,\"origin\":{},\"command\":\"add\",\"parameters\":{\"alert\":{\"data\":{\"\u017frcip\":\"1.1.1.1\"}}}}",
		`{"\u0076ersion":1,"origin":{},"command":"add","parameters":{"alert":{"d\u0061ta":{"srcip":"1.1.1.1"}}}}`,
		`{"versioN":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"win":{"EVENTDATA":{"IPADDRESS":"1.1.1.1"}}}}}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"win":{"eventdata":{"destinationip":"2.2.2.2"}}}}}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"\u0130p":"x","srcİp":"1.1.1.1"}}}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip\u0000":"1.1.1.1"}}}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip ":"1.1.1.1"}}}}`,
		"{\"version\":1,\"origin\":{},\"command\":\"add\",\"parameters\":{\"alert\":{\"data\":{\"srcip\xff\":\"1.1.1.1\"}}}}",

		// extra_args.
		v4Msg(`{}`),
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":null}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":[]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":[null]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":[null,"a",null]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":[true,false,1,-2.5,{},[],{"a":"b"},["c"]]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":[""," a ","a\tb","\u00e9","\ud800","\udc00\ud800","\ud83d\ude00","x\"y","\u0000"]}}`,
		"{\"version\":1,\"origin\":{},\"command\":\"add\",\"parameters\":{\"extra_args\":[\"\xff\",\"\xc3\xa9\",\"\xed\xa0\x80\",\"\xef\xbf\xbd\"]}}",
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":"a"}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":{}}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":1}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":true}}`,
		`{"version":1,"origin":{},"command":"bogus","parameters":{"extra_args":1}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a","b"],"extra_args":["c"]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["aaaaaaaa","b","c"],"extra_args":["x"],"extra_args":["p","q"]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a"],"extra_args":null}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":null,"extra_args":["a"]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":"x","extra_args":["a"]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a"],"extra_args":"x"}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a"],"Extra_Args":["b"]}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a"],"alert":{"data":{"srcip":"1.1.1.1"}},"program":1}}`,

		// The alert: missing, null, not an object, data of every kind.
		`{"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a"]}}`,
		v4Msg(`null`),
		v4Msg(`"x"`),
		v4Msg(`1`),
		v4Msg(`true`),
		v4Msg(`[]`),
		v4Msg(`[{"data":{"srcip":"1.1.1.1"}}]`),
		v4Msg(`{"data":null}`),
		v4Msg(`{"data":"1.1.1.1"}`),
		v4Msg(`{"data":1}`),
		v4Msg(`{"data":[]}`),
		v4Msg(`{"data":{}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1"}}`),
		v4Msg(`{"data":{"srcip":""}}`),
		v4Msg(`{"data":{"srcip":null}}`),
		v4Msg(`{"data":{"srcip":1}}`),
		v4Msg(`{"data":{"srcip":["1.1.1.1"]}}`),
		v4Msg(`{"data":{"srcip":{"a":"1.1.1.1"}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1\n"}}`),
		v4Msg(`{"data":{"srcip":"\u0031.1.1.1"}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","srcip":"2.2.2.2"}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","srcip":null}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","SRCIP":""}}`),
		v4Msg(`{"data":{"dstuser":"eve"}}`),
		v4Msg(`{"data":{"dstuser":""}}`),
		v4Msg(`{"data":{"dstuser":1}}`),
		v4Msg(`{"data":{"dstuser":"\u00e9ve"}}`),
		"" + v4Msg("{\"data\":{\"dstuser\":\"\xe9ve\"}}"),
		v4Msg(`{"data":{"srcip":"1.1.1.1","dstuser":"eve"},"data":{"srcport":"22"}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1"},"data":{"dstuser":"eve"}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1"},"data":null}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1"},"data":null,"data":{"dstuser":"eve"}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1"},"data":"x"}`),
		v4Msg(`{"data":"x","data":{"srcip":"1.1.1.1"}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1"},"Data":{"dstuser":"eve"}}`),
		v4Msg(`{"rule":{"id":"5712"},"data":{"srcip":"1.1.1.1"},"rule":"x","full_log":[1,{"data":{"srcip":"9.9.9.9"}}]}`),
		v4Msg(`{"rule":{"data":{"srcip":"9.9.9.9"}},"data":{"srcuser":{"srcip":"9.9.9.9"}}}`),

		// Windows fields before data.srcip.
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":"3.3.3.3","destinationIp":"2.2.2.2"}}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":"","destinationIp":"2.2.2.2"}}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":"-","destinationIp":"2.2.2.2"}}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":1,"destinationIp":"2.2.2.2"}}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":null,"destinationIp":null}}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":"","destinationIp":""}}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":{}}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":null}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":"x"}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":[]}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":1}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":{}}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":null}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":"x","dstuser":"eve"}}`),
		v4Msg(`{"data":{"srcip":"1.1.1.1","win":[],"dstuser":"eve"}}`),
		v4Msg(`{"data":{"win":{"eventdata":{"ipAddress":"3.3.3.3"}},"win":{"system":{}}}}`),
		v4Msg(`{"data":{"win":{"eventdata":{"ipAddress":"3.3.3.3"}},"win":{"eventdata":{"destinationIp":"2.2.2.2"}}}}`),
		v4Msg(`{"data":{"win":{"eventdata":{"ipAddress":"3.3.3.3"}},"win":{"eventdata":null}}}`),
		v4Msg(`{"data":{"win":{"eventdata":{"ipAddress":"3.3.3.3"}},"win":null,"srcip":"1.1.1.1"}}`),
		v4Msg(`{"data":{"win":{"eventdata":{"ipAddress":"3.3.3.3"}}},"data":{"win":{"eventdata":{"ipAddress":""}}}}`),
		v4Msg(`{"data":{"win":{"eventdata":{"IpAddress":"3.3.3.3","DESTINATIONIP":"2.2.2.2"}}}}`),
		v4Msg(`{"data":{"win":{"eventdata":{"ipAddress":"3.3.3.3"},"eventdata":{"ipAddress":"4.4.4.4"}}}}`),
		v4Msg(`{"data":{"win":{"eventData":{"ipAddress":"3.3.3.3"}}}}`),
		v4Msg(`{"data":{"Win":{"EventData":{"IPAddress":"3.3.3.3"}}}}`),
		v4Msg(`{"data":{"win":{"eventdata":{"ipAddress":"3.3.3.3","x":[[[[{}]]]]}},"srcip":"1.1.1.1"}}`),

		// Whitespace everywhere, and values repeated.
		"{ \"version\" : 1 ,\n\t\"origin\" : { } , \"command\" : \"add\" , \"parameters\" : { \"extra_args\" : [ \"a\" , null , 2 ] , \"alert\" : { \"data\" : { \"srcip\" : \"1.1.1.1\" , \"dstuser\" : \"eve\" } } } }",
		"\r\n\t {\"version\":1,\"origin\":{},\"command\":\"add\",\"parameters\":{\"alert\": \r\n{\"data\":{}} \t}}",
		v4Msg(`{"data":{"srcip":"1.1.1.1"}}`) + " ",
		v4Msg(`{"data":{"srcip":"1.1.1.1"}}`) + "\t",
		v4Msg(`{"data":{"srcip":"1.1.1.1"}}`) + "\r\n ",
		v4Msg(`{"data":{"srcip":"1.1.1.1"}}`) + "\n\r\r\n\n",
		v4Msg(`{"data":{"srcip":"1.1.1.1"}}`) + "\n{}",
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip":"1.1.1.1"}},"alert":{"data":{"dstuser":"eve"}}}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip":"1.1.1.1"}},"alert":null}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip":"1.1.1.1"}},"alert":"x"}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":"x"},"alert":{"data":{"srcip":"1.1.1.1"}}}}`,
		`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip":"1.1.1.1"}},"ALERT":{"data":{"dstuser":"eve"}}}}`,

		// 5.x.
		v5Msg(`,"command":"enable"`),
		v5Msg(`,"command":"disable"`),
		v5Msg(`,"command":"add"`),
		v5Msg(`,"command":"delete"`),
		v5Msg(`,"command":"ENABLE"`),
		v5Msg(`,"command":""`),
		v5Msg(`,"command":"bogus"`),
		v5Msg(`,"command":null`),
		v5Msg(`,"command":1`),
		v5Msg(`,"command":["enable"]`),
		v5Msg(``),
		v5Msg(`,"command":"en\u0061ble"`),
		v5Msg(`,"command":"enable","command":"disable"`),
		v5Msg(`,"Command":"disable"`),
		v5Msg(`,"command":"enable","source":{"ip":"203.0.113.7"},"user":{"name":"bob"}`),
		v5Msg(`,"command":"enable","source":{"ip":""},"user":{"name":""}`),
		v5Msg(`,"command":"enable","source":{"ip":1},"user":{"name":true}`),
		v5Msg(`,"command":"enable","source":{"ip":null},"user":{"name":null}`),
		v5Msg(`,"command":"enable","source":{},"user":{}`),
		v5Msg(`,"command":"enable","source":null,"user":null`),
		v5Msg(`,"command":"enable","source":"203.0.113.7"`),
		v5Msg(`,"command":"enable","source":["203.0.113.7"]`),
		v5Msg(`,"command":"enable","user":"bob"`),
		v5Msg(`,"command":"enable","user":1`),
		v5Msg(`,"command":"bogus","user":1`),
		v5Msg(`,"user":1`),
		v5Msg(`,"command":"enable","source":{"ip":"1.1.1.1"},"source":{"port":22}`),
		v5Msg(`,"command":"enable","source":{"ip":"1.1.1.1"},"source":null`),
		v5Msg(`,"command":"enable","source":{"ip":"1.1.1.1"},"source":{"IP":"2.2.2.2"}`),
		v5Msg(`,"command":"enable","SOURCE":{"Ip":"1.1.1.1"},"User":{"NAME":"bob"}`),
		v5Msg(`,"command":"enable","\u017fource":{"ip":"1.1.1.1"},"u\u017fer":{"name":"bob"}`),
		v5Msg(`,"command":"enable","source":{"ip":"1.1.1.1","address":"2.2.2.2"},"user":{"name":"b\u00f6b","id":"0"}`),
		v5Msg(`,"command":"enable","data":{"srcip":"9.9.9.9"},"parameters":{"alert":{"data":{"srcip":"9.9.9.9"}}}`),
		v5Msg(`,"version":1,"origin":{},"command":"add","parameters":{"extra_args":["a"],"alert":{"data":{"srcip":"9.9.9.9"}}}`),
		v5Msg(`,"command":"enable","parameters":{"extra_args":"x"}`),
		v5Msg(`,"command":"enable","event":{"original":"` + strings.Repeat("x", 3000) + `"}`),
		`{"wazuh":{"active_response":{"extra_arguments":"a\tb\nc  d "}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a\u00a0b\u2003c"}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"   "}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":null}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":1}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":["a"]}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":{}}},"command":"enable"}`,
		`{"wazuh":{"active_response":{}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"},"active_response":{}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"},"active_response":{"extra_arguments":null}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"},"active_response":null},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"},"active_response":"x"},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"}},"wazuh":{"active_response":{}},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"}},"wazuh":{},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"}},"wazuh":null,"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"}},"Wazuh":null,"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"}},"WAZUH":{"x":1},"command":"enable"}`,
		`{"wazuh":{"active_response":{"extra_arguments":"a"}},"WAZUH":"x","command":"enable"}`,
		`{"Wazuh":{"active_response":{"extra_arguments":"a"}},"wazuh":{"x":"active_response"},"command":"enable"}`,
		`{"wazuh":{"Active_Response":{"extra_arguments":"a"},"x":"active_response"},"command":"enable"}`,
		`{"wazuh":{"active_response":{"Extra_Arguments":"a"}},"command":"enable"}`,
		`{"wazuh":{"active\u005fresponse":{"extra_arguments":"a"}},"command":"enable"}`,
		`{"w\u0061zuh":{"active_response":{"extra_arguments":"a"}},"command":"enable"}`,
		`{"WAZUH":{"active_response":{"extra_arguments":"a"}},"command":"enable"}`,
		`{"wazuh ":{"active_response":{"extra_arguments":"a"}},"command":"enable"}`,
		`{"wazuh":{"x":"active_response"},"command":"enable"}`,
		`{"wazuh":{"x":{"active_response":{}}},"command":"enable"}`,
		`{"wazuh":{"x":"\"active_response\""},"command":"enable"}`,
		`{"wazuh":"active_response","command":"enable"}`,
		`{"wazuh":"\"active_response\"","command":"enable"}`,
		`{"wazuh":["active_response"],"command":"enable"}`,
		`{"wazuh":[{"active_response":{}}],"command":"enable"}`,
		`{"wazuh":{"active_response" :{}},"command":"enable"}`,
		`{"wazuh":{},"version":1,"origin":{},"command":"add","parameters":{}}`,
		`{"wazuh":null,"version":1,"origin":{},"command":"add","parameters":{}}`,
		`{"wazuh":"x","version":1,"origin":{},"command":"add","parameters":{}}`,
		`{"wazuh":{"agent":{}},"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip":"1.1.1.1"}}}}`,
		`{"wazuh":{"active_response":{}},"wazuh":{"agent":{}},"version":1,"origin":{},"command":"add","parameters":{}}`,
		`{"wazuh":{"agent":{}},"wazuh":{"active_response":{}},"version":1,"origin":{},"command":"add","parameters":{}}`,
		"{\"wazuh\":{\"active_response\":{\"extra_arguments\":\"\xff a\"}},\"source\":{\"ip\":\"\xff\"},\"command\":\"enable\"}",
		"  {\"wazuh\":{\"active_response\":{}},\"command\":\"enable\"}  \r\n",
	}

	// Nesting up to encoding/json's limit of 10,000 levels, and past it.
	for _, depth := range []int{9998, 9999, 10000} {
		deep := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		ins = append(ins,
			`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip":"1.1.1.1"}}},"x":`+deep+`}`,
			`{"version":1,"origin":{},"command":"add","parameters":{"alert":{"data":{"srcip":"1.1.1.1","x":`+deep+`}}}}`,
			`{"wazuh":{"active_response":{}},"command":"enable","x":`+deep+`}`,
		)
	}
	deepObj := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	ins = append(ins, `{"version":1,"origin":{},"command":"add","parameters":{},"x":`+deepObj+`}`)

	// Every message above again with each line ending.
	n := len(ins)
	for _, in := range ins[:n] {
		ins = append(ins, in+"\n", in+"\r\n", in+"\r")
	}
	return ins
}

// checkSameAsSlow fails t unless ParseInput and parseInputSlow return the
// same for line: equal inputs (Raw and Alert compared as text, and Alert
// nil in both or neither) and the same error text.
func checkSameAsSlow(t *testing.T, line []byte) {
	t.Helper()
	want, wantErr := parseInputSlow(bytes.Clone(line))
	got, gotErr := ParseInput(bytes.Clone(line))
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("ParseInput(%q): error %v, want %v", line, gotErr, wantErr)
	}
	var ie *InputError
	if gotErr != nil && !errors.As(gotErr, &ie) {
		t.Fatalf("ParseInput(%q): error %T, want *InputError", line, gotErr)
	}
	if (want == nil) != (got == nil) {
		t.Fatalf("ParseInput(%q) = %+v, want %+v", line, got, want)
	}
	if want == nil {
		return
	}
	if (want.Alert == nil) != (got.Alert == nil) {
		t.Fatalf("ParseInput(%q): Alert %q, want %q", line, got.Alert, want.Alert)
	}
	if !reflect.DeepEqual(asText(got), asText(want)) {
		t.Fatalf("ParseInput(%q)\n = %+v\nwant %+v", line, asText(got), asText(want))
	}
}

// inputText is an Input with Raw and Alert as text.
type inputText struct {
	Input
	Raw, Alert string
}

func asText(in *Input) inputText {
	c := inputText{Input: *in, Raw: string(in.Raw), Alert: string(in.Alert)}
	c.Input.Raw, c.Input.Alert = nil, nil
	return c
}

// TestParseInputSameAsSlow holds ParseInput to the implementation it
// replaced, for every line of parseInputInputs.
func TestParseInputSameAsSlow(t *testing.T) {
	for _, line := range parseInputInputs() {
		checkSameAsSlow(t, []byte(line))
	}
}

// TestParseInputMutated holds ParseInput to the implementation it replaced
// for lines made by changing parseInputInputs at random: bytes deleted,
// inserted, replaced or repeated, keys' letters changed in case.
func TestParseInputMutated(t *testing.T) {
	seeds := parseInputInputs()
	n := 20000
	if testing.Short() {
		n = 2000
	}
	alphabet := []byte("{}[]\",:\\ \n0123456789-+.eEnultrfasdxu\x00\x1f\x7f\xc5\xbf\xff")
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		b := []byte(seeds[rng.IntN(len(seeds))])
		if len(b) > 4096 {
			continue
		}
		for range 1 + rng.IntN(3) {
			if len(b) == 0 {
				b = append(b, alphabet[rng.IntN(len(alphabet))])
				continue
			}
			i := rng.IntN(len(b))
			switch rng.IntN(5) {
			case 0:
				b = append(b[:i], b[i+1:]...)
			case 1:
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			case 2:
				b[i] = alphabet[rng.IntN(len(alphabet))]
			case 3:
				j := i + rng.IntN(min(len(b)-i, 40)+1)
				b = append(b[:j], append(bytes.Clone(b[i:j]), b[j:]...)...)
			case 4:
				if 'a' <= b[i] && b[i] <= 'z' {
					b[i] -= 'a' - 'A'
				}
			}
		}
		checkSameAsSlow(t, b)
	}
}

// FuzzParseInput holds ParseInput to the implementation it replaced.
func FuzzParseInput(f *testing.F) {
	for _, line := range parseInputInputs() {
		if len(line) < 4096 {
			f.Add([]byte(line))
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkSameAsSlow(t, line)
	})
}

// TestParseInputCases checks what ParseInput makes of the corner cases, so
// that the comparison with the old implementation is known to reach them.
func TestParseInputCases(t *testing.T) {
	tests := []struct {
		line    string
		err     string
		verb    Verb
		v5      bool
		srcIP   string
		field   string
		user    string
		args    []string
		alert   string
		noInput bool // nil *Input with the error (4.x); 5.x errors come with one
	}{
		{line: addMsg + "\r\n", verb: Add, srcIP: "203.0.113.7", field: "srcip", user: "bob", args: []string{"-x", "y"},
			alert: `{"rule":{"id":"5712","level":10},"data":{"srcip":"203.0.113.7","dstuser":"bob"}}`},
		{line: string(sshdBruteForceMsg()), verb: Add, srcIP: "203.0.113.7", field: "srcip", user: "root", alert: sshdBruteForceAlert()},
		{line: v4Env(`1`, `{}`, ``, `{}`), err: "Cannot read 'command' from json", noInput: true},
		{line: v4Env(`1`, `{}`, `null`, `{}`), err: "Invalid input format", noInput: true},
		{line: v4Env(`"1"`, `{}`, ``, `{}`), err: "Invalid input format", noInput: true},
		{line: v4Env(`1`, `{}`, `"enable"`, `{}`), err: "Invalid value of 'command'", noInput: true},
		{line: v4Env(`1`, `{}`, `"a\u0064d"`, `{}`), verb: Add},
		{line: `{"VERSION":1,"Origin":{},"COMMAND":"delete","Parameters":{}}`, verb: Delete},
		{line: `{"version":1,"origin":{},"command":"add","parameters":{"extra_args":[null,"a",1,{},"b"]}}`, verb: Add, args: []string{"", "a", "b"}},
		{line: `{"version":1,"origin":{},"command":"add","parameters":{"extra_args":"a"}}`, err: "Invalid input format", noInput: true},
		{line: v4Msg(`{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":"","destinationIp":"2.2.2.2"}}}}`), verb: Add,
			srcIP: "2.2.2.2", field: "destinationIp", alert: `{"data":{"srcip":"1.1.1.1","win":{"eventdata":{"ipAddress":"","destinationIp":"2.2.2.2"}}}}`},
		{line: v4Msg(`{"data":{"srcip":"1.1.1.1","win":"x","dstuser":"eve"}}`), verb: Add, alert: `{"data":{"srcip":"1.1.1.1","win":"x","dstuser":"eve"}}`},
		{line: v4Msg(`{"data":{"srcip":"1.1.1.1"},"data":{"dstuser":"eve"}}`), verb: Add, srcIP: "1.1.1.1", field: "srcip", user: "eve",
			alert: `{"data":{"srcip":"1.1.1.1"},"data":{"dstuser":"eve"}}`},
		{line: v4Msg(`{"data":{"\u017frcip":"1.1.1.1"}}`), verb: Add, srcIP: "1.1.1.1", field: "srcip", alert: `{"data":{"\u017frcip":"1.1.1.1"}}`},
		{line: v4Msg(`{"data":{"srcip":"1.1.1.1"}}`) + "\n{}", err: "Invalid input format", noInput: true},
		{line: v4Msg(`{"data":{"srcip":"1.1.1.1"}}`) + "\r\n ", verb: Add, srcIP: "1.1.1.1", field: "srcip", alert: `{"data":{"srcip":"1.1.1.1"}}`},
		{line: `{"wazuh":{"active_response":{"extra_arguments":"a\tb"}},"source":{"ip":"::1"},"user":{"name":"bob"},"command":"enable"}`,
			verb: Add, v5: true, srcIP: "::1", field: "source.ip", user: "bob", args: []string{"a", "b"},
			alert: `{"wazuh":{"active_response":{"extra_arguments":"a\tb"}},"source":{"ip":"::1"},"user":{"name":"bob"},"command":"enable"}`},
		{line: `{"wazuh":{"active_response":{}},"command":1}`, err: "Cannot read 'command' from json", v5: true},
		{line: `{"wazuh":{"active_response":{}},"command":"add"}`, verb: Add, v5: true, args: []string{},
			alert: `{"wazuh":{"active_response":{}},"command":"add"}`},
		{line: `{"wazuh":{"active_response":{}},"source":"x","command":"enable"}`, err: "Invalid input format", v5: true},
		{line: `{"wazuh":{"active_response":{}},"Wazuh":null,"command":"enable"}`, err: "Invalid input format", v5: true},
		{line: `{"wazuh":{"x":"active_response"},"command":"enable"}`, err: "Invalid input format", v5: true},
		{line: `{"WAZUH":{"active_response":{}},"command":"enable"}`, err: "Invalid input format", noInput: true},
		{line: `{"wazuh":{"active\u005fresponse":{}},"command":"enable"}`, err: "Invalid input format", noInput: true},
		{line: `{"w\u0061zuh":{"active_response":{}},"command":"enable"}`, verb: Add, v5: true, args: []string{},
			alert: `{"w\u0061zuh":{"active_response":{}},"command":"enable"}`},
	}
	for i, tt := range tests {
		for name, parse := range map[string]func([]byte) (*Input, error){"ParseInput": ParseInput, "parseInputSlow": parseInputSlow} {
			t.Run(fmt.Sprintf("%d/%s", i, name), func(t *testing.T) {
				in, err := parse([]byte(tt.line))
				if tt.err != "" {
					if err == nil || err.Error() != tt.err {
						t.Fatalf("%s: error %v, want %q", tt.line, err, tt.err)
					}
					if tt.noInput != (in == nil) || in != nil && (!in.V5 || in.Verb != 0) {
						t.Fatalf("%s: input %+v with the error", tt.line, in)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", tt.line, err)
				}
				if in.Verb != tt.verb || in.V5 != tt.v5 || in.SrcIP != tt.srcIP || in.SrcIPField != tt.field || in.User != tt.user ||
					!reflect.DeepEqual(in.ExtraArgs, tt.args) || string(in.Alert) != tt.alert {
					t.Fatalf("%s:\n got %+v", tt.line, in)
				}
			})
		}
	}
}
