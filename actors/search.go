package actors

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MaxPatternBytes caps a search pattern: compiling a regexp of megabytes
// takes hundreds of megabytes.
const MaxPatternBytes = 4096

// searchRing selects lines of r for q: match, then context, then head/tail,
// then q.Limit. The lines come out fresh, in order, and never nil; selected
// counts them before the limit, matches counts matching lines before
// head/tail. Matching reads the texts in place, and only the picks that can
// end up in the result are kept, so a search over a million lines allocates
// no more than its answer.
func searchRing(r *ring, q SearchRequest) (lines []Line, selected, matches int, err error) {
	re, err := compileQuery(q)
	if err != nil {
		return nil, 0, 0, err
	}
	var picks []pick
	if re == nil {
		// Every line is selected: only the range kept is visited.
		lo, hi := headTailRange(r.n, q)
		selected = hi - lo
		if q.Limit > 0 && hi-lo > q.Limit {
			if q.Tail > 0 {
				lo = hi - q.Limit
			} else {
				hi = lo + q.Limit
			}
		}
		picks = make([]pick, 0, hi-lo)
		for i := lo; i < hi; i++ {
			picks = append(picks, pick{i: int32(i)})
		}
	} else {
		keep := newPicker(q)
		m := newMatcher(re)
		matches = withContext(r.n, func(i int) bool { return m.match(r.text(r.at(i))) }, q.ContextLines, keep.add)
		picks, selected = keep.result()
	}
	lines = make([]Line, len(picks))
	for k, p := range picks {
		lines[k] = r.line(int(p.i))
		lines[k].Match = p.match
	}
	return lines, selected, matches, nil
}

// pick is a selected line: its position among the kept ones, and whether it
// matched (or is context).
type pick struct {
	i     int32
	match bool
}

// picker keeps, of the picks it is given in order, those that head/tail and
// the limit let through: the first ones, or the last ones in a circular
// buffer with a tail.
type picker struct {
	head, tail int // at most this many picks are selected (0: no bound)
	limit      int // of which at most this many are kept (0: no bound)
	seen       int
	kept       []pick
}

func newPicker(q SearchRequest) *picker {
	p := &picker{limit: q.Limit}
	if q.Tail > 0 {
		p.tail = q.Tail
	} else {
		p.head = q.Head
	}
	return p
}

func (p *picker) add(k pick) {
	p.seen++
	switch {
	case p.tail > 0:
		size := p.tail
		if p.limit > 0 {
			size = min(size, p.limit)
		}
		if len(p.kept) < size {
			p.kept = append(p.kept, k)
		} else {
			p.kept[(p.seen-1)%size] = k
		}
	case p.head > 0 && p.seen > p.head, p.limit > 0 && len(p.kept) >= p.limit:
	default:
		p.kept = append(p.kept, k)
	}
}

// result returns the kept picks in order, and how many head/tail selected.
func (p *picker) result() ([]pick, int) {
	switch {
	case p.tail > 0:
		if n := len(p.kept); p.seen > n {
			// Rotate the circular buffer so the oldest kept pick comes first.
			at := p.seen % n
			p.kept = append(p.kept[at:], p.kept[:at]...)
		}
		return p.kept, min(p.seen, p.tail)
	case p.head > 0:
		return p.kept, min(p.seen, p.head)
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
// around each, once each, in their order, and returns how many matched.
func withContext(n int, match func(i int) bool, c int, emit func(pick)) (matches int) {
	emitted := -1  // the last line emitted
	afterEnd := -1 // the last line inside the after-context of a match
	for i := range n {
		if !match(i) {
			if i <= afterEnd {
				emit(pick{i: int32(i)})
				emitted = i
			}
			continue
		}
		// Lines before i that are not yet emitted are known non-matches.
		for j := max(i-c, emitted+1); j < i; j++ {
			emit(pick{i: int32(j)})
		}
		emit(pick{i: int32(i), match: true})
		matches++
		emitted = i
		afterEnd = i + c
	}
	return matches
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
