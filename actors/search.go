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

// searchRing selects lines of r for q: match, then context, then head/tail,
// then q.Limit. The lines come out fresh, in order, and never nil; selected
// counts them before the limit. With tail the search runs from the newest
// line back, with head from the oldest on, and stops once it has them; then
// matches counts the matching lines it went over and partial says the count
// is a lower bound. Matching reads the texts in place, and only the picks
// that can end up in the result are kept, so a search over a million lines
// allocates no more than its answer.
func searchRing(r *ring, q SearchRequest) (lines []Line, selected, matches int, partial bool, err error) {
	re, err := compileQuery(q)
	if err != nil {
		return nil, 0, 0, false, err
	}
	n, pos := r.n, func(k int) int { return k }
	if idx := filterRing(r, q); idx != nil {
		n, pos = len(idx), func(k int) int { return int(idx[k]) }
	}
	var picks []pick
	if re == nil {
		// Every line is selected: only the range kept is visited.
		lo, hi := headTailRange(n, q)
		selected = hi - lo
		if q.Limit > 0 && hi-lo > q.Limit {
			if q.Tail > 0 {
				lo = hi - q.Limit
			} else {
				hi = lo + q.Limit
			}
		}
		picks = make([]pick, 0, hi-lo)
		for k := lo; k < hi; k++ {
			picks = append(picks, pick{i: int32(pos(k))})
		}
	} else {
		keep := newPicker(q)
		m := newMatcher(re)
		match := func(k int) bool { return m.match(r.text(r.at(pos(k)))) }
		add := func(p pick) bool { return keep.add(pick{i: int32(pos(int(p.i))), match: p.match}) }
		if q.Tail > 0 {
			matches, partial = withContextFromEnd(n, match, q.ContextLines, add)
		} else {
			matches, partial = withContext(n, match, q.ContextLines, add)
		}
		picks, selected = keep.result()
	}
	lines = make([]Line, len(picks))
	for k, p := range picks {
		lines[k] = r.line(int(p.i))
		lines[k].Match = p.match
	}
	return lines, selected, matches, partial, nil
}

// filterRing returns the positions of the lines of r that q's Stream and
// Since keep, or nil when q keeps every line.
func filterRing(r *ring, q SearchRequest) []int32 {
	if q.Stream == "" && q.Since.IsZero() {
		return nil
	}
	var stream uint8
	if q.Stream == Stderr {
		stream = 1
	}
	since := q.Since.UnixNano()
	idx := make([]int32, 0, r.n)
	for i := range r.n {
		e := r.at(i)
		if (q.Stream == "" || e.stream == stream) && (q.Since.IsZero() || e.at >= since) {
			idx = append(idx, int32(i))
		}
	}
	return idx
}

// pick is a selected line: its position among the kept ones, and whether it
// matched (or is context).
type pick struct {
	i     int32
	match bool
}

// picker keeps the picks a search is given, in its order, until it has
// the head (or, given newest first, the tail) it wants; of those it keeps at
// most limit, the oldest with head, the newest with tail.
type picker struct {
	stopAt  int  // head or tail; 0: take every pick
	fromEnd bool // picks come newest first
	limit   int  // 0: no bound
	seen    int
	kept    []pick
}

func newPicker(q SearchRequest) *picker {
	p := &picker{limit: q.Limit, stopAt: q.Head}
	if q.Tail > 0 {
		p.stopAt, p.fromEnd = q.Tail, true
	}
	return p
}

// add takes the next pick and reports whether more are wanted.
func (p *picker) add(k pick) bool {
	p.seen++
	if p.limit == 0 || len(p.kept) < p.limit {
		p.kept = append(p.kept, k)
	}
	return p.stopAt == 0 || p.seen < p.stopAt
}

// result returns the kept picks oldest first, and how many were selected.
func (p *picker) result() ([]pick, int) {
	if p.fromEnd {
		slices.Reverse(p.kept)
	}
	return p.kept, p.seen
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
	case q.Stream != "" && q.Stream != Stdout && q.Stream != Stderr:
		return nil, fmt.Errorf("stream %q is not valid; valid: %s or %s (empty: both)", q.Stream, Stdout, Stderr)
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

// withContext gives emit the lines among n that match and up to c lines
// around each, once each, oldest first, until emit wants no more. It returns
// how many matched among the lines it went over, and whether it stopped
// before the end.
func withContext(n int, match func(i int) bool, c int, emit func(pick) bool) (matches int, stopped bool) {
	emitted := -1  // the last line emitted
	afterEnd := -1 // the last line inside the after-context of a match
	for i := range n {
		if !match(i) {
			if i <= afterEnd {
				emitted = i
				if !emit(pick{i: int32(i)}) {
					return matches, i < n-1
				}
			}
			continue
		}
		matches++
		// Lines before i that are not yet emitted are known non-matches.
		for j := max(i-c, emitted+1); j < i; j++ {
			if !emit(pick{i: int32(j)}) {
				return matches, true
			}
		}
		emitted, afterEnd = i, i+c
		if !emit(pick{i: int32(i), match: true}) {
			return matches, i < n-1
		}
	}
	return matches, false
}

// withContextFromEnd is withContext from the newest line back: emit gets the
// same lines newest first. Line i is selected when a match lies within c of
// it, so it is decided once the lines down to i-c are matched.
func withContextFromEnd(n int, match func(i int) bool, c int, emit func(pick) bool) (matches int, stopped bool) {
	c = min(c, n)
	matched := make([]bool, c+1) // match of line j at j % (c+1), for the last c+1 lines matched
	lowest := n + c + 1          // the lowest match so far
	decide := func(i int) bool {
		if i < 0 || i >= n {
			return true
		}
		if lowest > i+c {
			return true // no match within c above, nor (yet) below
		}
		return emit(pick{i: int32(i), match: matched[i%(c+1)]})
	}
	for j := n - 1; j >= 0; j-- {
		m := match(j)
		matched[j%(c+1)] = m
		if m {
			matches++
			lowest = j
		}
		if !decide(j + c) {
			return matches, j > 0
		}
	}
	for i := c - 1; i >= 0; i-- {
		if !decide(i) {
			return matches, false
		}
	}
	return matches, false
}

// headTailRange is the part of n selected lines that q's tail, or else its
// head, keeps; 0 keeps all.
func headTailRange(n int, q SearchRequest) (lo, hi int) {
	switch {
	case q.Tail > 0 && q.Tail < n:
		return n - q.Tail, n
	case q.Tail > 0:
		return 0, n
	case q.Head > 0 && q.Head < n:
		return 0, q.Head
	}
	return 0, n
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
