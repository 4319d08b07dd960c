package actors

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MaxPatternBytes caps a search pattern: compiling a regexp of megabytes
// takes hundreds of megabytes.
const MaxPatternBytes = 4096

// searchLines selects lines for q: match, then context, then head/tail.
// It never modifies lines; selected is a fresh, non-nil slice in the original
// order, and matches counts matching lines before head/tail are applied.
func searchLines(lines []Line, q SearchRequest) (selected []Line, matches int, err error) {
	re, err := compileQuery(q)
	if err != nil {
		return nil, 0, err
	}
	if re == nil {
		// Without a pattern every line is selected: trim first, copy only what is kept.
		kept := slices.Clone(headTail(lines, q))
		if kept == nil {
			kept = []Line{}
		}
		for i := range kept {
			kept[i].Match = false
		}
		return kept, 0, nil
	}
	selected, matches = withContext(lines, re, q.ContextLines)
	return headTail(selected, q), matches, nil
}

// compileQuery checks q's numbers and compiles its pattern; a nil regexp
// means the pattern is empty and selects every line.
func compileQuery(q SearchRequest) (*regexp.Regexp, error) {
	switch {
	case q.ContextLines < 0:
		return nil, errors.New("context_lines must be >= 0 (0 means no context)")
	case q.Head < 0:
		return nil, errors.New("head must be >= 0 (0 means all lines)")
	case q.Tail < 0:
		return nil, errors.New("tail must be >= 0 (0 means all lines)")
	}
	if q.Pattern == "" {
		return nil, nil
	}
	if len(q.Pattern) > MaxPatternBytes {
		return nil, fmt.Errorf("pattern is %d bytes; at most %d are accepted", len(q.Pattern), MaxPatternBytes)
	}
	re, err := regexp.Compile(q.Pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern %q: %w; pattern is RE2 syntax", q.Pattern, err)
	}
	return re, nil
}

// withContext copies the lines matching re and up to n lines around each,
// once each, in their original order.
func withContext(lines []Line, re *regexp.Regexp, n int) (selected []Line, matches int) {
	selected = []Line{}
	emitted := -1  // index of the last line copied to selected
	afterEnd := -1 // last index inside the after-context of a match
	for i, l := range lines {
		if !re.MatchString(l.Text) {
			if i <= afterEnd {
				l.Match = false
				selected = append(selected, l)
				emitted = i
			}
			continue
		}
		// Lines before i that are not yet emitted are known non-matches.
		for j := max(i-n, emitted+1); j < i; j++ {
			before := lines[j]
			before.Match = false
			selected = append(selected, before)
		}
		l.Match = true
		selected = append(selected, l)
		matches++
		emitted = i
		afterEnd = i + n
	}
	return selected, matches
}

// headTail keeps the last q.Tail lines, or else the first q.Head; 0 keeps all.
func headTail(lines []Line, q SearchRequest) []Line {
	switch {
	case q.Tail > 0 && q.Tail < len(lines):
		return lines[len(lines)-q.Tail:]
	case q.Tail > 0:
		return lines
	case q.Head > 0 && q.Head < len(lines):
		return lines[:q.Head]
	}
	return lines
}

// resolveIndex turns a SearchRequest index (-1 newest … -kept; 0 oldest …
// kept-1) into a position counted from the oldest of kept rings.
func resolveIndex(kind LogKind, name string, index, kept int) (int, error) {
	if kept == 0 {
		return 0, fmt.Errorf("no %ss of %s yet", kind, name)
	}
	pos := index
	if index < 0 {
		pos = kept + index
	}
	if pos >= 0 && pos < kept {
		return pos, nil
	}
	if kept == 1 {
		return 0, fmt.Errorf("index %d is beyond the 1 %s kept; valid: -1 or 0 (the only %s)", index, kind, kind)
	}
	return 0, fmt.Errorf("index %d is beyond the %d %ss kept; valid: -%d..-1 (newest is -1) or 0..%d (oldest is 0)",
		index, kept, kind, kept, kept-1)
}

// FormatLines renders lines grep -C style, one per row ending in "\n": the
// line number right-aligned to the widest in the block, then " * " for a
// match or "   " otherwise, then the text; "--" separates non-adjacent lines.
func FormatLines(lines []Line) string {
	width, size := 1, 0
	for _, l := range lines {
		width = max(width, len(strconv.Itoa(l.N)))
		size += len(l.Text)
	}
	var sb strings.Builder
	sb.Grow(size + len(lines)*(width+4+3)) // number, marker, newline, and at most one "--\n" each
	for i, l := range lines {
		if i > 0 && l.N != lines[i-1].N+1 {
			sb.WriteString("--\n")
		}
		num := strconv.Itoa(l.N)
		sb.WriteString(strings.Repeat(" ", width-len(num)))
		sb.WriteString(num)
		if l.Match {
			sb.WriteString(" * ")
		} else {
			sb.WriteString("   ")
		}
		sb.WriteString(l.Text)
		sb.WriteByte('\n')
	}
	return sb.String()
}
