package respond

import (
	"fmt"
	"regexp"
	"strings"
)

// compileGroupPattern turns a <rules_group> value, written in Wazuh's OS_Regex
// syntax (case-insensitive, unanchored, '|' between alternatives, '^' and '$'
// anchors, backslash classes such as \w and \d, '+' and '*' after a class),
// into a Go regular expression.
func compileGroupPattern(p string) (*regexp.Regexp, error) {
	var sb strings.Builder
	sb.WriteString("(?i)")
	for i, alt := range strings.Split(p, "|") {
		if i > 0 {
			sb.WriteByte('|')
		}
		sb.WriteString("(?:")
		if err := translateAlt(&sb, alt); err != nil {
			return nil, fmt.Errorf("rules_group %q: %w", p, err)
		}
		sb.WriteByte(')')
	}
	re, err := regexp.Compile(sb.String())
	if err != nil {
		return nil, fmt.Errorf("rules_group %q: %w", p, err)
	}
	return re, nil
}

func translateAlt(sb *strings.Builder, alt string) error {
	for i := 0; i < len(alt); i++ {
		c := alt[i]
		switch {
		case c == '^' && i == 0:
			sb.WriteByte('^')
		case c == '$' && i == len(alt)-1:
			sb.WriteByte('$')
		case c == '\\':
			if i+1 >= len(alt) {
				return fmt.Errorf("trailing backslash")
			}
			i++
			class, ok := osClasses[alt[i]]
			if !ok {
				return fmt.Errorf("unknown escape \\%c", alt[i])
			}
			sb.WriteString(class)
			if i+1 < len(alt) && (alt[i+1] == '+' || alt[i+1] == '*') {
				i++
				sb.WriteByte(alt[i])
			}
		default:
			sb.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return nil
}

// osClasses maps OS_Regex backslash escapes to Go regexp syntax.
var osClasses = map[byte]string{
	'w':  `[A-Za-z0-9@_\-]`,
	'W':  `[^A-Za-z0-9@_\-]`,
	'd':  `[0-9]`,
	'D':  `[^0-9]`,
	's':  `[ ]`,
	'S':  `[^ ]`,
	't':  `\t`,
	'p':  `[()*+,\-.:;<=>?\[\]!"'#$%&|{}]`,
	'.':  `.`,
	'\\': `\\`,
	'$':  `\$`,
	'|':  `\|`,
	'(':  `\(`,
	')':  `\)`,
	'<':  `<`,
	'>':  `>`,
	'!':  `!`,
}
