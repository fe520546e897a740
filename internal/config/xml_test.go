package config

import (
	"fmt"
	"strings"
	"testing"
)

// dump writes the tree of nodes as "name@line[attrs]{text}(children)" for
// comparison.
func dump(nodes []*node) string {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s@%d", n.name, n.line)
		for _, a := range n.attrs {
			fmt.Fprintf(&b, "[%s=%s]", a.name, a.value)
		}
		if n.text != "" {
			fmt.Fprintf(&b, "{%s@%d}", n.text, n.textLine)
		}
		if len(n.children) > 0 {
			b.WriteString("(" + dump(n.children) + ")")
		}
	}
	return b.String()
}

func TestParseXML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // dump of the roots
		errs []string
	}{
		{
			name: "elements text and lines",
			in:   "<a>\n  <b>one</b>\n  <c>\n    two\n  </c>\n</a>\n",
			want: "a@1(b@2{one@2} c@3{two@4})",
		},
		{
			name: "several roots",
			in:   "<a/>\n<a>x</a>\n\n<b></b>",
			want: "a@1 a@2{x@2} b@4",
		},
		{
			name: "declaration and comments everywhere",
			in: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- head -->\n<a><!-- in a -->\n" +
				"<b>fire<!-- inside text -->wall</b><!-- between --><c/>\n</a><!-- tail -->\n",
			want: "a@3(b@4{firewall@4} c@4)",
		},
		{
			name: "comment holding markup and double dashes",
			in:   "<a><!-- <b>x</b> -- still comment --></a>",
			want: "a@1",
		},
		{
			name: "entities are not decoded",
			in:   "<a>x &amp; y &lt; &#65;</a>",
			want: "a@1{x &amp; y &lt; &#65;@1}",
		},
		{
			name: "CDATA is literal",
			in:   "<a> <![CDATA[ <b>&amp;</b> ]]> </a>",
			want: "a@1{<b>&amp;</b>@1}",
		},
		{
			name: "CDATA joins surrounding text",
			in:   "<a>x<![CDATA[]]]]><![CDATA[>]]>y</a>",
			want: "a@1{x]]>y@1}",
		},
		{
			name: "attributes",
			in:   "<a x=\"1\" y='two words' z = \"\"><b k='v'/></a>",
			want: "a@1[x=1][y=two words][z=](b@1[k=v])",
		},
		{
			name: "attribute value spanning lines",
			in:   "<a x=\"1\n2\">\n<b/></a>",
			want: "a@1[x=1\n2](b@3)",
		},
		{
			name: "text trimmed, inner spaces kept",
			in:   "<a>\n\t  one  two \r\n</a>",
			want: "a@1{one  two@2}",
		},
		{
			name: "CRLF line ends",
			in:   "<a>\r\n<b>x</b>\r\n<c/>\r\n</a>\r\n",
			want: "a@1(b@2{x@2} c@3)",
		},
		{
			name: "byte order mark",
			in:   "\uFEFF<a/>",
			want: "a@1",
		},
		{
			name: "names with dashes dots colons and digits",
			in:   "<active-response><a.b_c:d1/></active-response>",
			want: "active-response@1(a.b_c:d1@1)",
		},
		{
			name: "greater-than in text",
			in:   "<a>x > y</a>",
			want: "a@1{x > y@1}",
		},
		{
			name: "element never closed",
			in:   "<a>\n  <b>x</b>\n",
			want: "a@1(b@2{x@2})",
			errs: []string{"t.conf:1: error: element <a> opened here is never closed"},
		},
		{
			name: "nested elements never closed",
			in:   "<a>\n<b>\n<c>x</c>",
			want: "a@1(b@2(c@3{x@3}))",
			errs: []string{
				"t.conf:1: error: element <a> opened here is never closed",
				"t.conf:2: error: element <b> opened here is never closed",
			},
		},
		{
			name: "mismatched closing tag closes up to its element",
			in:   "<a>\n<b>\n</a>\n<c/>",
			want: "a@1(b@2) c@4",
			errs: []string{"t.conf:2: error: element <b> opened here is never closed"},
		},
		{
			name: "mismatched closing tag with no open match is dropped",
			in:   "<a>\n<b>x</c></b>\n</a>",
			want: "a@1(b@2{x@2})",
			errs: []string{"t.conf:2: error: closing tag </c> does not match <b> opened on line 2"},
		},
		{
			name: "closing tag with nothing open",
			in:   "<a/>\n\n</a>",
			want: "a@1",
			errs: []string{"t.conf:3: error: closing tag </a> has no matching opening tag"},
		},
		{
			name: "stray text at top level",
			in:   "<a/>\n\n  junk\n<b/>",
			want: "a@1 b@4",
			errs: []string{`t.conf:3: error: text "junk" outside any element`},
		},
		{
			name: "stray CDATA at top level",
			in:   "<a/>\n<![CDATA[x]]>",
			want: "a@1",
			errs: []string{`t.conf:2: error: text "x" outside any element`},
		},
		{
			name: "unterminated comment",
			in:   "<a/>\n<!-- x\n<b/>\n",
			want: "a@1",
			errs: []string{"t.conf:2: error: comment opened here is never closed"},
		},
		{
			name: "unterminated CDATA",
			in:   "<a>\n<![CDATA[ x\n</a>",
			want: "a@1",
			errs: []string{
				"t.conf:1: error: element <a> opened here is never closed",
				"t.conf:2: error: CDATA section opened here is never closed",
			},
		},
		{
			name: "unterminated processing instruction",
			in:   "<?xml version='1.0'\n<a/>",
			errs: []string{"t.conf:1: error: processing instruction opened here is never closed"},
		},
		{
			name: "unterminated tag",
			in:   "<a/>\n<b x='1'",
			want: "a@1",
			errs: []string{"t.conf:2: error: tag <b> is never terminated"},
		},
		{
			name: "unquoted attribute",
			in:   "<a>\n<b x=1>y</b></a>",
			want: "a@1(b@2{y@2})",
			errs: []string{"t.conf:2: error: malformed attribute in tag <b>"},
		},
		{
			name: "unquoted attribute on a self-closing tag",
			in:   "<a><b x=1/></a>",
			want: "a@1(b@1)",
			errs: []string{"t.conf:1: error: malformed attribute in tag <b>"},
		},
		{
			name: "less-than in text",
			in:   "<a>\nx < y</a>",
			want: "a@1{x < y@2}",
			errs: []string{`t.conf:2: error: "< y</a>" is not the start of a tag`},
		},
		{
			name: "less-than at top level",
			in:   "< \n<a/>",
			want: "a@2",
			errs: []string{`t.conf:1: error: "< ..." is not the start of a tag`},
		},
		{
			name: "doctype is not supported",
			in:   "<!DOCTYPE a>\n<a/>",
			want: "a@2",
			errs: []string{`t.conf:1: error: unsupported markup "<!DOCTYPE a>...`},
		},
		{
			name: "malformed closing tag",
			in:   "<a>\n</ a>",
			want: "a@1",
			errs: []string{
				"t.conf:1: error: element <a> opened here is never closed",
				"t.conf:2: error: malformed closing tag",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roots, probs := parseXML("t.conf", []byte(tt.in))
			if got := dump(roots); got != tt.want {
				t.Errorf("tree:\n got %s\nwant %s", got, tt.want)
			}
			checkProblems(t, probs, tt.errs)
		})
	}
}
