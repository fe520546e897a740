package analysis

import (
	"fmt"
	"strings"
)

// xmlNode is one element of a Wazuh XML file. Wazuh's reader differs from
// encoding/xml: it decodes no entities, accepts several top-level elements
// and treats \< in text as a literal <.
type xmlNode struct {
	Name     string
	Attrs    []xmlAttr
	Text     string
	Children []*xmlNode
	Line     int
}

type xmlAttr struct{ Name, Value string }

func (n *xmlNode) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// xmlError is a syntax error with its line.
type xmlError struct {
	Line int
	Msg  string
}

func (e *xmlError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

type xmlParser struct {
	s    string
	pos  int
	line int
}

// parseXML reads the top-level elements of a document.
func parseXML(src string) ([]*xmlNode, error) {
	p := &xmlParser{s: src, line: 1}
	var out []*xmlNode
	for {
		if err := p.skipMisc(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.s) {
			return out, nil
		}
		if p.s[p.pos] != '<' {
			// Stray text between top-level elements is ignored by Wazuh's
			// reader only when blank; anything else is an error.
			return nil, p.errf("unexpected text outside an element")
		}
		n, err := p.element()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
}

func (p *xmlParser) errf(format string, a ...any) error {
	return &xmlError{Line: p.line, Msg: fmt.Sprintf(format, a...)}
}

func (p *xmlParser) advance(n int) {
	end := min(p.pos+n, len(p.s))
	p.line += strings.Count(p.s[p.pos:end], "\n")
	p.pos = end
}

// skipMisc skips blanks, comments and <?...?> declarations.
func (p *xmlParser) skipMisc() error {
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.advance(1)
		case strings.HasPrefix(p.s[p.pos:], "<!--"):
			if err := p.comment(); err != nil {
				return err
			}
		case strings.HasPrefix(p.s[p.pos:], "<?"):
			i := strings.Index(p.s[p.pos:], "?>")
			if i < 0 {
				return p.errf("unterminated declaration")
			}
			p.advance(i + 2)
		default:
			return nil
		}
	}
	return nil
}

// comment skips a comment, which ends at --> or !>.
func (p *xmlParser) comment() error {
	rest := p.s[p.pos+4:]
	end := -1
	for i := 0; i+1 < len(rest); i++ {
		if rest[i] == '-' && i+2 < len(rest) && rest[i+1] == '-' && rest[i+2] == '>' {
			end = i + 3
			break
		}
		if rest[i] == '!' && rest[i+1] == '>' {
			end = i + 2
			break
		}
	}
	if end < 0 {
		return p.errf("unterminated comment")
	}
	p.advance(4 + end)
	return nil
}

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c == ':' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (p *xmlParser) name() string {
	start := p.pos
	for p.pos < len(p.s) && isNameByte(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *xmlParser) skipBlank() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.advance(1)
	}
}

// element parses one element starting at '<'.
func (p *xmlParser) element() (*xmlNode, error) {
	n := &xmlNode{Line: p.line}
	p.pos++ // '<'
	n.Name = p.name()
	if n.Name == "" {
		return nil, p.errf("element name expected")
	}
	for {
		p.skipBlank()
		if p.pos >= len(p.s) {
			return nil, p.errf("unterminated element <%s>", n.Name)
		}
		c := p.s[p.pos]
		if c == '/' {
			if p.pos+1 >= len(p.s) || p.s[p.pos+1] != '>' {
				return nil, p.errf("malformed empty element <%s>", n.Name)
			}
			p.pos += 2
			return n, nil
		}
		if c == '>' {
			p.pos++
			break
		}
		an := p.name()
		if an == "" {
			return nil, p.errf("attribute name expected in <%s>", n.Name)
		}
		p.skipBlank()
		if p.pos >= len(p.s) || p.s[p.pos] != '=' {
			return nil, p.errf("attribute %s of <%s> has no value", an, n.Name)
		}
		p.pos++
		p.skipBlank()
		if p.pos >= len(p.s) || (p.s[p.pos] != '"' && p.s[p.pos] != '\'') {
			return nil, p.errf("attribute %s of <%s> is not quoted", an, n.Name)
		}
		q := p.s[p.pos]
		i := strings.IndexByte(p.s[p.pos+1:], q)
		if i < 0 {
			return nil, p.errf("unterminated attribute %s of <%s>", an, n.Name)
		}
		n.Attrs = append(n.Attrs, xmlAttr{an, p.s[p.pos+1 : p.pos+1+i]})
		p.advance(i + 2)
	}
	// Content: text and child elements until </name>.
	var text strings.Builder
	for {
		if p.pos >= len(p.s) {
			return nil, &xmlError{Line: n.Line, Msg: fmt.Sprintf("element <%s> is not closed", n.Name)}
		}
		c := p.s[p.pos]
		switch {
		case c == '\\' && p.pos+1 < len(p.s) && p.s[p.pos+1] == '\\':
			text.WriteString(`\\`)
			p.pos += 2
		case c == '\\' && p.pos+1 < len(p.s) && p.s[p.pos+1] == '<':
			text.WriteString(`\<`)
			p.pos += 2
		case c != '<' && c != '\\':
			j := p.pos
			for j < len(p.s) && p.s[j] != '<' && p.s[j] != '\\' {
				j++
			}
			text.WriteString(p.s[p.pos:j])
			p.advance(j - p.pos)
		case c == '\\':
			text.WriteByte(c)
			p.pos++
		case strings.HasPrefix(p.s[p.pos:], "<!--"):
			if err := p.comment(); err != nil {
				return nil, err
			}
		case strings.HasPrefix(p.s[p.pos:], "</"):
			p.pos += 2
			end := p.name()
			p.skipBlank()
			if end != n.Name || p.pos >= len(p.s) || p.s[p.pos] != '>' {
				return nil, p.errf("element <%s> closed by </%s>", n.Name, end)
			}
			p.pos++
			// Wazuh keeps blanks around text (patterns rely on a trailing
			// space); text laid out over several lines is trimmed.
			n.Text = text.String()
			if strings.ContainsAny(n.Text, "\n\r") {
				n.Text = strings.TrimSpace(n.Text)
			}
			return n, nil
		default:
			child, err := p.element()
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, child)
		}
	}
}

// substituteVars replaces $NAME references (ended by $ . | , space or the
// end of the string) with the variables' values.
func substituteVars(s string, vars map[string]string) string {
	if len(vars) == 0 || strings.IndexByte(s, '$') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		for j < len(s) && !strings.ContainsRune("$.|, ", rune(s[j])) {
			j++
		}
		if v, ok := vars[s[i+1:j]]; ok && j > i+1 {
			b.WriteString(v)
			i = j
			continue
		}
		b.WriteByte('$')
		i++
	}
	return b.String()
}

// applyVars substitutes variables in a node's text and attributes,
// recursively.
func applyVars(n *xmlNode, vars map[string]string) {
	n.Text = substituteVars(n.Text, vars)
	for i := range n.Attrs {
		n.Attrs[i].Value = substituteVars(n.Attrs[i].Value, vars)
	}
	for _, c := range n.Children {
		applyVars(c, vars)
	}
}
