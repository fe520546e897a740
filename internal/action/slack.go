package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// slackTimeout bounds one post to the webhook.
const slackTimeout = 10 * time.Second

// wazuhSlack is wazuh-slack: it posts the alert to a Slack incoming webhook
// whose URL is the extra argument, with net/http (no curl, no wget). It is
// stateless. Unlike Wazuh's script it posts on delete only when
// Options.SlackOnDelete is set, and the URL never reaches a log or an
// error: the protocol redacts the extra arguments of this action
// (secretArgs) and errors name the HTTP status or the failure, not the URL.
type wazuhSlack struct {
	env    *Env
	client *http.Client
}

func newWazuhSlack(env *Env) Action {
	return &wazuhSlack{env: env, client: &http.Client{
		Timeout: slackTimeout,
		// A redirect is an answer, not a place to send the alert to.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// secretArgs marks the extra arguments (the webhook URL) as secret.
func (s *wazuhSlack) secretArgs() {}

// Keys checks the input and returns no keys: the action is stateless.
func (s *wazuhSlack) Keys(in *Input) ([]string, error) {
	if _, _, err := s.parse(in); err != nil {
		return nil, err
	}
	return nil, nil
}

// Add posts the alert.
func (s *wazuhSlack) Add(ctx context.Context, in *Input) error { return s.post(ctx, in) }

// Delete posts the alert again only when Options.SlackOnDelete is set.
func (s *wazuhSlack) Delete(ctx context.Context, in *Input) error {
	if !s.env.Options.SlackOnDelete {
		return nil
	}
	return s.post(ctx, in)
}

// parse returns the webhook and the message body for an input.
func (s *wazuhSlack) parse(in *Input) (*url.URL, []byte, error) {
	if !isObject(in.Alert) {
		return nil, nil, errMissing(in, "alert", "alert")
	}
	raw := strings.Join(in.ExtraArgs, " ")
	if raw == "" {
		return nil, nil, errMissing(in, "extra_args", "wazuh.active_response.extra_arguments")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(raw, " \t\r\n") {
		// Not even part of the text: it is a secret.
		return nil, nil, &InputError{"Invalid webhook URL in extra_args (not an http or https URL)"}
	}
	body, err := slackBody(in.Alert)
	if err != nil {
		return nil, nil, &InputError{"Invalid input format"}
	}
	return u, body, nil
}

func (s *wazuhSlack) post(ctx context.Context, in *Input) error {
	u, body, err := s.parse(in)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, slackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return errors.New("post to Slack webhook: cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to Slack webhook: %s", redactWebhook(err, u))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to Slack webhook: HTTP status %s", resp.Status)
	}
	return nil
}

// redactWebhook returns the text of a transport error without the URL or
// any part of it that could hold the token.
func redactWebhook(err error, u *url.URL) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	secrets := []string{u.String(), u.Path, u.EscapedPath(), u.RawQuery, u.Fragment}
	if u.User != nil {
		secrets = append(secrets, u.User.String())
	}
	for _, sec := range secrets {
		if len(sec) > 1 {
			msg = strings.ReplaceAll(msg, sec, "<webhook>")
		}
	}
	return msg
}

type slackMessage struct {
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Color   string       `json:"color"`
	Pretext string       `json:"pretext"`
	Title   string       `json:"title"`
	Text    string       `json:"text"`
	Fields  []slackField `json:"fields"`
	TS      string       `json:"ts,omitempty"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// slackAlert is what the message uses from the alert.
type slackAlert struct {
	ID       json.RawMessage `json:"id"`
	FullLog  json.RawMessage `json:"full_log"`
	Location json.RawMessage `json:"location"`
	Rule     *struct {
		ID          json.RawMessage `json:"id"`
		Level       json.RawMessage `json:"level"`
		Description json.RawMessage `json:"description"`
	} `json:"rule"`
	Agent     json.RawMessage `json:"agent"`
	Agentless json.RawMessage `json:"agentless"`
}

// slackBody builds Wazuh's message for an alert: one attachment coloured
// by level (up to 4 good, 5 to 7 warning, above danger; no level counts as
// -1), titled with the rule description, the full log as text, and the
// Agent (when the alert has one), Agentless Host (likewise), Location and
// Rule ID fields; ts is the alert id.
func slackBody(alert json.RawMessage) ([]byte, error) {
	var a slackAlert
	if err := json.Unmarshal(alert, &a); err != nil {
		return nil, err
	}
	level := -1
	var ruleID, desc json.RawMessage
	if a.Rule != nil {
		if n, err := strconv.ParseFloat(string(a.Rule.Level), 64); err == nil && isNumber(a.Rule.Level) {
			level = int(n)
		}
		ruleID, desc = a.Rule.ID, a.Rule.Description
	}
	color := "danger"
	switch {
	case level <= 4:
		color = "good"
	case level <= 7:
		color = "warning"
	}
	att := slackAttachment{
		Color:   color,
		Pretext: "WAZUH Alert",
		Title:   slackText(desc, "N/A"),
		Text:    slackText(a.FullLog, ""),
		Fields:  []slackField{},
		TS:      slackText(a.ID, ""),
	}
	if isObject(a.Agent) {
		var ag struct{ ID, Name json.RawMessage }
		json.Unmarshal(a.Agent, &ag)
		att.Fields = append(att.Fields, slackField{"Agent", fmt.Sprintf("(%s) - %s", slackText(ag.ID, "N/A"), slackText(ag.Name, "N/A"))})
	}
	if isObject(a.Agentless) {
		var al struct{ Host json.RawMessage }
		json.Unmarshal(a.Agentless, &al)
		att.Fields = append(att.Fields, slackField{"Agentless Host", slackText(al.Host, "N/A")})
	}
	att.Fields = append(att.Fields,
		slackField{"Location", slackText(a.Location, "N/A")},
		slackField{"Rule ID", fmt.Sprintf("%s (level %d)", slackText(ruleID, "N/A"), level)},
	)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(slackMessage{Attachments: []slackAttachment{att}}); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// slackText returns a JSON string's value, a number's text, or def.
func slackText(raw json.RawMessage, def string) string {
	var s string
	if isString(raw) && json.Unmarshal(raw, &s) == nil {
		return s
	}
	if isNumber(raw) {
		return string(raw)
	}
	return def
}

var (
	_ Action     = (*wazuhSlack)(nil)
	_ secretArgs = (*wazuhSlack)(nil)
)
