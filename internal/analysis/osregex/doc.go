// Package osregex implements Wazuh's two home-grown pattern dialects, the
// ones decoders and rules use when no type="pcre2" is given.
//
// OS_Regex (Compile, Regex) is a tiny regular-expression language: the
// classes \w \W \d \D \s \S \p \t and \. (any byte), the literal escapes
// \$ \( \) \\ \| \<, the quantifiers + and * (only right after an escape;
// anywhere else they are plain characters), the ^ and $ anchors of each
// top-level alternative, top-level | alternation and one level of capture
// groups. Literals compare case-insensitively (ASCII), captures keep the
// input's case. Decoders use it for <regex> and <prematch>, rules for
// <regex> and <field>.
//
// OS_Match (CompileMatch, Match) is literal, case-insensitive substring
// matching with ^ and $ per |-separated alternative and a leading ! that
// negates the whole pattern. Rules use it for <match> and most of the
// string-valued elements.
//
// The package reproduces the observable behaviour of Wazuh 4.9.2, including
// the quirks its conformance cases and bug reports show, rather than
// ordinary regular-expression semantics:
//
//   - alternatives are tried in order, each over the whole input; within
//     one, matching is leftmost and lazy: a quantified class stops as soon
//     as the next token accepts the current byte, and when the rest of the
//     pattern then fails the most recent stopping point is resumed (the
//     class takes that byte and goes on). Only a stop on a byte the class
//     accepts too is a stopping point (a stop on a byte the class rejects
//     has no alternative and is not remembered). At most four pending
//     stopping points are remembered; later ones are not, and matches that
//     need them are lost;
//   - the reported end of a match is the index of its last matched byte,
//     except that a pattern ending in a quantified class that stops on a
//     mismatching byte reports that byte;
//   - a group closing at the very end of the input and followed by a
//     trailing * token captures "" when its run is longer than one byte; a
//     group opening at the very end of the input captures nothing, and the
//     capture list stops there;
//   - when the input runs out, only a run in progress, its closing
//     parenthesis and one * token (or a lone * token and a closing
//     parenthesis) may be left over;
//   - two adjacent groups ")(" never match; no match starts at the end of a
//     non-empty input, so $ alone matches only "".
//
// Matching time is bounded by O(len(pattern) × len(input)): a search that
// runs long switches to a memoised mode that never explores a state twice.
// The common path allocates nothing.
//
// The package imports no other Riposte package.
package osregex
