package actors

import (
	"regexp"
	"testing"
)

// FuzzSearch feeds arbitrary output through a small ring (so lines wrap and
// are dropped for lines and for bytes) and searches it with arbitrary
// parameters: a search never panics, and answers either a clear error or
// lines in order, numbered as kept, within head/tail.
func FuzzSearch(f *testing.F) {
	f.Add("a\nb\nerror: x\nc\n", "error", 1, 0, 0, -1)
	f.Add("one\r\ntwo\n\xff\xfe bad\nthree", "(?i)T", 0, 2, 0, -1)
	f.Add("x\nx\nx\nx\nx\nx\nx\nx\nx\n", "x", 3, 0, 2, 0)
	f.Add("", "", 0, 0, 0, -1)
	f.Add("a\n", "(", 0, 0, 0, -1)
	f.Add("a\n", "a", -1, 0, 0, -1)
	f.Add("a\n", "a", 0, -5, 0, -1)
	f.Add("a\nb\n", "b", 0, 0, 0, 1)
	f.Add("a\nb\n", "b", 0, 0, 0, -2)
	f.Add("a\nb\n", "^$", 100, 100, 100, -1)
	f.Fuzz(func(t *testing.T, data, pattern string, context, head, tail, index int) {
		b := NewLogBuffer("web", 7, 1, nil, nil)
		b.bytes = 7 * (entrySize + 8)
		b.open(LogStart{Kind: KindRun, ID: 1})
		b.chunk(LogChunk{Kind: KindRun, ID: 1, Stream: Stdout, Data: []byte(data)})
		q := SearchRequest{Kind: KindRun, Pattern: pattern, ContextLines: context, Head: head, Tail: tail, Index: index}
		r := b.search(q)
		valid := context >= 0 && head >= 0 && tail >= 0 && (index == -1 || index == 0) && len(pattern) <= MaxPatternBytes
		if _, err := regexp.Compile(pattern); err != nil {
			valid = false
		}
		if r.Err != nil {
			if valid {
				t.Fatalf("valid search %+v refused: %v", q, r.Err)
			}
			if r.Err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if !valid {
			t.Fatalf("invalid search %+v answered", q)
		}
		kept := b.find(KindRun, 1).ring
		first := kept.total - kept.n + 1
		matches := 0
		for i, l := range r.Lines {
			if l.N < first || l.N > kept.total || (i > 0 && l.N <= r.Lines[i-1].N) {
				t.Fatalf("line %d numbered %d; kept %d..%d; previous %+v", i, l.N, first, kept.total, r.Lines)
			}
			if l.Match {
				matches++
			}
		}
		want, count := referenceSearch(&kept, q)
		if want != ns(r.Lines) {
			t.Fatalf("search %+v = %q, the plain reading gives %q", q, ns(r.Lines), want)
		}
		if r.Matches > count || !r.MatchesAtLeast && r.Matches != count {
			t.Fatalf("search %+v: %d matches (at least: %v), the plain reading counts %d", q, r.Matches, r.MatchesAtLeast, count)
		}
		switch {
		case tail > 0 && len(r.Lines) > tail, tail == 0 && head > 0 && len(r.Lines) > head:
			t.Fatalf("%d lines for head %d tail %d", len(r.Lines), head, tail)
		case matches > r.Matches, pattern == "" && matches > 0, r.MatchesAtLeast && tail == 0 && head == 0:
			t.Fatalf("%d lines marked, %d matches reported, pattern %q", matches, r.Matches, pattern)
		}
	})
}

// referenceSearch is the plain reading of a search, line by line, for the
// fuzz test to compare searchRing against: the numbers of the lines it
// selects, matches suffixed with '*' (as ns writes them), and how many
// lines match in all.
func referenceSearch(r *ring, q SearchRequest) (string, int) {
	var re *regexp.Regexp
	if q.Pattern != "" {
		re = regexp.MustCompile(q.Pattern)
	}
	var sel []Line
	count := 0
	for i := range r.n {
		l := Line{N: r.firstN() + i}
		if re == nil {
			sel = append(sel, l)
			continue
		}
		near := false
		for j := max(0, i-q.ContextLines); j <= min(r.n-1, i+q.ContextLines); j++ {
			near = near || re.Match(r.text(r.at(j)))
		}
		l.Match = re.Match(r.text(r.at(i)))
		if l.Match {
			count++
		}
		if near {
			sel = append(sel, l)
		}
	}
	lo, hi := 0, len(sel)
	switch {
	case q.Tail > 0:
		lo = max(0, hi-q.Tail)
	case q.Head > 0:
		hi = min(hi, q.Head)
	}
	return ns(sel[lo:hi]), count
}
