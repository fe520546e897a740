package config

import (
	"bytes"
	"slices"
	"strings"
)

// node is one element read by parseXML.
type node struct {
	name     string
	attrs    []attr
	line     int     // line of the element's '<'
	children []*node // child elements, in document order
	text     string  // text and CDATA content, concatenated and trimmed
	textLine int     // line of the first non-blank text, 0 if none

	raw strings.Builder // text while the element is open
}

// attr is one attribute of an element. Attributes are read so that they are
// allowed, but no section Riposte reads gives them a meaning.
type attr struct {
	name, value string
}

// xmlReader reads the XML dialect of Wazuh's configuration files: elements,
// attributes, text, comments, CDATA sections, processing instructions (the
// <?xml ...?> declaration) and several root elements per file. Entities are
// not decoded: "&amp;" is five characters of text.
type xmlReader struct {
	file  string
	data  []byte
	pos   int
	line  int
	probs []Problem

	roots []*node
	stack []*node
	open  map[string]int // how many elements of each name are on stack
}

// parseXML reads data, the contents of file, and returns its root elements
// and every syntax problem found, in line order. It never gives up early: an element left
// open is closed at the end of the data, a bad tag is treated as text.
func parseXML(file string, data []byte) ([]*node, []Problem) {
	r := &xmlReader{file: file, data: data, line: 1, open: make(map[string]int)}
	r.data = bytes.TrimPrefix(r.data, []byte("\uFEFF"))
	r.read()
	slices.SortStableFunc(r.probs, func(a, b Problem) int { return a.Line - b.Line })
	return r.roots, r.probs
}

func (r *xmlReader) errorf(line int, format string, args ...any) {
	r.probs = append(r.probs, newProblem(r.file, line, SeverityError, format, args...))
}

// advance moves the read position to end, counting lines.
func (r *xmlReader) advance(end int) {
	r.line += bytes.Count(r.data[r.pos:end], []byte("\n"))
	r.pos = end
}

// has reports whether the unread data starts with s.
func (r *xmlReader) has(s string) bool {
	return bytes.HasPrefix(r.data[r.pos:], []byte(s))
}

// skipTo moves past the next occurrence of end, reporting false (and moving to
// the end of the data) when there is none.
func (r *xmlReader) skipTo(end string) bool {
	i := bytes.Index(r.data[r.pos:], []byte(end))
	if i < 0 {
		r.advance(len(r.data))
		return false
	}
	r.advance(r.pos + i + len(end))
	return true
}

func (r *xmlReader) read() {
	for r.pos < len(r.data) {
		if r.data[r.pos] != '<' {
			r.readText()
			continue
		}
		start := r.line
		switch {
		case r.has("<!--"):
			if !r.skipTo("-->") {
				r.errorf(start, "comment opened here is never closed")
			}
		case r.has("<![CDATA["):
			r.advance(r.pos + len("<![CDATA["))
			from := r.pos
			i := bytes.Index(r.data[r.pos:], []byte("]]>"))
			if i < 0 {
				r.errorf(start, "CDATA section opened here is never closed")
				r.advance(len(r.data))
				break
			}
			r.addText(start, string(r.data[from:from+i]))
			r.advance(from + i + len("]]>"))
		case r.has("<?"):
			if !r.skipTo("?>") {
				r.errorf(start, "processing instruction opened here is never closed")
			}
		case r.has("<!"):
			r.errorf(start, "unsupported markup %q", clip(r.data[r.pos:]))
			if !r.skipTo(">") {
				r.errorf(start, "markup opened here is never closed")
			}
		case r.has("</"):
			r.readEndTag()
		default:
			r.readStartTag()
		}
	}
	for i := len(r.stack) - 1; i >= 0; i-- {
		n := r.stack[i]
		r.errorf(n.line, "element <%s> opened here is never closed", n.name)
		finish(n)
	}
	r.stack = nil
}

// readText reads the text up to the next '<'.
func (r *xmlReader) readText() {
	end := bytes.IndexByte(r.data[r.pos:], '<')
	if end < 0 {
		end = len(r.data)
	} else {
		end += r.pos
	}
	start := r.line
	r.addText(start, string(r.data[r.pos:end]))
	r.advance(end)
}

// addText adds s, which starts on line, to the open element's text.
func (r *xmlReader) addText(line int, s string) {
	blank := strings.TrimSpace(s) == ""
	if len(r.stack) == 0 {
		if !blank {
			lead := s[:len(s)-len(strings.TrimLeftFunc(s, isSpace))]
			r.errorf(line+strings.Count(lead, "\n"), "text %q outside any element", clip([]byte(strings.TrimSpace(s))))
		}
		return
	}
	n := r.stack[len(r.stack)-1]
	if !blank && n.textLine == 0 {
		lead := s[:len(s)-len(strings.TrimLeftFunc(s, isSpace))]
		n.textLine = line + strings.Count(lead, "\n")
	}
	n.raw.WriteString(s)
}

func isSpace(r rune) bool {
	return strings.TrimSpace(string(r)) == ""
}

// readName reads an element or attribute name at the read position.
func (r *xmlReader) readName() string {
	i := r.pos
	for i < len(r.data) && isNameByte(r.data[i], i == r.pos) {
		i++
	}
	name := string(r.data[r.pos:i])
	r.pos = i // names hold no newlines
	return name
}

func isNameByte(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c >= 0x80:
		return true
	case '0' <= c && c <= '9', c == '-', c == '.', c == ':':
		return !first
	}
	return false
}

func (r *xmlReader) skipSpace() {
	i := r.pos
	for i < len(r.data) && (r.data[i] == ' ' || r.data[i] == '\t' || r.data[i] == '\n' || r.data[i] == '\r') {
		i++
	}
	r.advance(i)
}

// readStartTag reads "<name attr='v' ...>" or its self-closing form.
func (r *xmlReader) readStartTag() {
	start := r.line
	r.pos++ // '<'
	name := r.readName()
	if name == "" {
		// Not a tag: keep the '<' as text of the open element, if any.
		r.errorf(start, "%q is not the start of a tag", clip(r.data[r.pos-1:]))
		if len(r.stack) > 0 {
			r.addText(start, "<")
		}
		return
	}
	n := &node{name: name, line: start}
	selfClosing := false
	for {
		r.skipSpace()
		if r.pos >= len(r.data) {
			r.errorf(start, "tag <%s> is never terminated with '>'", name)
			return
		}
		if r.has(">") {
			r.pos++
			break
		}
		if r.has("/>") {
			r.pos += 2
			selfClosing = true
			break
		}
		a, ok := r.readAttr()
		if !ok {
			r.errorf(r.line, "malformed attribute in tag <%s>", name)
			if !r.skipTo(">") {
				r.errorf(start, "tag <%s> is never terminated with '>'", name)
				return
			}
			selfClosing = r.data[r.pos-2] == '/'
			break
		}
		n.attrs = append(n.attrs, a)
	}
	if len(r.stack) == 0 {
		r.roots = append(r.roots, n)
	} else {
		parent := r.stack[len(r.stack)-1]
		parent.children = append(parent.children, n)
	}
	if selfClosing {
		return
	}
	r.stack = append(r.stack, n)
	r.open[name]++
}

// readAttr reads name="value" or name='value'.
func (r *xmlReader) readAttr() (attr, bool) {
	name := r.readName()
	if name == "" {
		return attr{}, false
	}
	r.skipSpace()
	if !r.has("=") {
		return attr{}, false
	}
	r.pos++
	r.skipSpace()
	if r.pos >= len(r.data) || (r.data[r.pos] != '"' && r.data[r.pos] != '\'') {
		return attr{}, false
	}
	quote := r.data[r.pos]
	end := bytes.IndexByte(r.data[r.pos+1:], quote)
	if end < 0 {
		return attr{}, false
	}
	end += r.pos + 1
	value := string(r.data[r.pos+1 : end])
	r.advance(end + 1)
	return attr{name: name, value: value}, true
}

// readEndTag reads "</name>" and closes the matching element.
func (r *xmlReader) readEndTag() {
	start := r.line
	r.pos += 2 // "</"
	name := r.readName()
	r.skipSpace()
	if name == "" || !r.has(">") {
		r.errorf(start, "malformed closing tag")
		if !r.skipTo(">") {
			return
		}
		if name == "" {
			return
		}
	} else {
		r.pos++
	}
	if len(r.stack) == 0 {
		r.errorf(start, "closing tag </%s> has no matching opening tag", name)
		return
	}
	top := r.stack[len(r.stack)-1]
	if r.open[name] == 0 {
		// No open element has that name: ignore the stray closing tag.
		r.errorf(start, "closing tag </%s> does not match <%s> opened on line %d", name, top.name, top.line)
		return
	}
	// The elements opened inside the match were never closed. Close them
	// here, so that the rest of the file is read with the structure the
	// author most likely meant.
	for {
		n := r.stack[len(r.stack)-1]
		r.stack = r.stack[:len(r.stack)-1]
		r.open[n.name]--
		finish(n)
		if n.name == name {
			return
		}
		r.errorf(n.line, "element <%s> opened here is never closed", n.name)
	}
}

// finish sets the final text of n.
func finish(n *node) {
	n.text = strings.TrimSpace(n.raw.String())
	n.raw.Reset()
}

// clip shortens b for quoting in a message.
func clip(b []byte) string {
	const max = 20
	more := ""
	if len(b) > max {
		b, more = b[:max], "..."
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b, more = b[:i], "..."
	}
	return string(b) + more
}
