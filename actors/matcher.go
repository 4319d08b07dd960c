package actors

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// matcher matches a regexp against lines, first looking for a literal that
// every match must contain (ripgrep's inner-literal idea): most lines of a
// log do not contain it, and bytes.Contains rejects them far faster than the
// regexp engine could.
type matcher struct {
	re      *regexp.Regexp
	literal []byte // required in every match; nil when none is known
	only    bool   // the pattern is that literal: containing it is matching
}

func newMatcher(re *regexp.Regexp) matcher {
	m := matcher{re: re}
	if parsed, err := syntax.Parse(re.String(), syntax.Perl); err == nil {
		// A literal U+FFFD also matches invalid UTF-8, which bytes.Contains
		// would not find.
		if lit := requiredLiteral(parsed.Simplify()); len(lit) > 0 && !strings.ContainsRune(lit, utf8.RuneError) {
			m.literal = []byte(lit)
			// LiteralPrefix calls "^abc$" complete too, so the pattern
			// itself must be the literal for containing it to be matching.
			m.only = re.String() == regexp.QuoteMeta(lit)
		}
	}
	return m
}

// match reports whether line matches.
func (m matcher) match(line []byte) bool {
	if m.literal != nil && !bytes.Contains(line, m.literal) {
		return false
	}
	return m.only || m.re.Match(line)
}

// requiredLiteral returns the longest literal string that every match of re
// contains, or "" when it finds none. It is conservative: case-folded
// literals and alternations give none.
func requiredLiteral(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if lit := requiredLiteral(sub); len(lit) > len(best) {
				best = lit
			}
		}
		return best
	}
	return ""
}
