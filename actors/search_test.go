package actors

import (
	"errors"
	"fmt"
	"reflect"
	"regexp/syntax"
	"strings"
	"testing"
	"time"
)

// numbered returns lines numbered from 1 with the given texts.
func numbered(texts ...string) []Line {
	lines := make([]Line, len(texts))
	for i, t := range texts {
		lines[i] = Line{N: i + 1, Stream: Stdout, Text: t}
	}
	return lines
}

// ns lists the line numbers of lines, a match suffixed with '*'.
func ns(lines []Line) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprint(l.N)
		if l.Match {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " ")
}

func TestRingWrapAndNumbering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		capacity int
		add      int
		want     string // numbers of the kept lines, oldest first
		texts    string // their texts
	}{
		{"empty", 3, 0, "", ""},
		{"under capacity", 3, 2, "1 2", "l1 l2"},
		{"exactly full", 3, 3, "1 2 3", "l1 l2 l3"},
		{"one dropped", 3, 4, "2 3 4", "l2 l3 l4"},
		{"wrapped twice", 3, 7, "5 6 7", "l5 l6 l7"},
		{"capacity one", 1, 5, "5", "l5"},
		{"capacity below one counts as one", 0, 2, "2", "l2"},
		{"past a growth step", 20, 25, "6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25",
			"l6 l7 l8 l9 l10 l11 l12 l13 l14 l15 l16 l17 l18 l19 l20 l21 l22 l23 l24 l25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRing(tt.capacity)
			for i := 1; i <= tt.add; i++ {
				r.add(Line{N: 99, Text: fmt.Sprintf("l%d", i), Match: true})
			}
			got := r.ordered()
			if ns(got) != tt.want {
				t.Errorf("numbers = %q, want %q", ns(got), tt.want)
			}
			texts := make([]string, len(got))
			for i, l := range got {
				texts[i] = l.Text
			}
			if strings.Join(texts, " ") != tt.texts {
				t.Errorf("texts = %q, want %q", strings.Join(texts, " "), tt.texts)
			}
			if r.total != tt.add {
				t.Errorf("total = %d, want %d", r.total, tt.add)
			}
			if cap(r.idx) > max(tt.capacity, 1) {
				t.Errorf("cap(buf) = %d, beyond capacity %d", cap(r.idx), tt.capacity)
			}
		})
	}
}

func TestRingOrderedThenAddKeepsOrder(t *testing.T) {
	t.Parallel()
	r := newRing(4)
	for i := 1; i <= 6; i++ {
		r.add(Line{Text: fmt.Sprint(i)})
	}
	if got := ns(r.ordered()); got != "3 4 5 6" {
		t.Fatalf("after rotate = %q", got)
	}
	r.add(Line{})
	r.add(Line{})
	if got := ns(r.ordered()); got != "5 6 7 8" {
		t.Errorf("after more adds = %q, want 5 6 7 8", got)
	}
}

func TestRingAllocatesLazily(t *testing.T) {
	t.Parallel()
	r := newRing(10000)
	for range 3 {
		r.add(Line{})
	}
	if cap(r.idx) > minRingGrowth {
		t.Errorf("3-line ring of capacity 10000 holds %d slots, want at most %d", cap(r.idx), minRingGrowth)
	}
}

func TestSearchLinesOrder(t *testing.T) {
	t.Parallel()
	// Matches at 3, 6, 7 and 12 of 14 lines.
	lines := numbered("a", "b", "ERR 1", "c", "d", "ERR 2", "ERR 3", "e", "f", "g", "h", "ERR 4", "i", "j")
	tests := []struct {
		name    string
		q       SearchRequest
		want    string
		matches int
	}{
		{"empty pattern selects all, marks none", SearchRequest{}, "1 2 3 4 5 6 7 8 9 10 11 12 13 14", 0},
		{"empty pattern head", SearchRequest{Head: 3}, "1 2 3", 0},
		{"empty pattern tail", SearchRequest{Tail: 2}, "13 14", 0},
		{"matches only", SearchRequest{Pattern: "ERR"}, "3* 6* 7* 12*", 4},
		{"no match", SearchRequest{Pattern: "nothing"}, "", 0},
		{"context merges overlapping windows",
			SearchRequest{Pattern: "ERR", ContextLines: 1}, "2 3* 4 5 6* 7* 8 11 12* 13", 4},
		{"context clipped at both ends",
			SearchRequest{Pattern: "^(a|j)$", ContextLines: 3}, "1* 2 3 4 11 12 13 14*", 2},
		{"context covering a later match marks it as match",
			SearchRequest{Pattern: "ERR [23]", ContextLines: 5}, "1 2 3 4 5 6* 7* 8 9 10 11 12", 2},
		// With head or tail the search stops once it has the lines: matches
		// counts those it went over (a lower bound).
		{"head after context", SearchRequest{Pattern: "ERR", ContextLines: 1, Head: 4}, "2 3* 4 5", 2},
		{"tail after context", SearchRequest{Pattern: "ERR", ContextLines: 1, Tail: 3}, "11 12* 13", 1},
		{"tail wins over head", SearchRequest{Pattern: "ERR", Head: 1, Tail: 2}, "7* 12*", 2},
		{"head beyond length keeps all", SearchRequest{Pattern: "ERR", Head: 100}, "3* 6* 7* 12*", 4},
		{"tail beyond length keeps all", SearchRequest{Pattern: "ERR", Tail: 100}, "3* 6* 7* 12*", 4},
		{"RE2 syntax", SearchRequest{Pattern: `(?i)^err \d$`}, "3* 6* 7* 12*", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, matches, err := searchLines(lines, tt.q)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got == nil {
				t.Error("selected is nil, want non-nil")
			}
			if ns(got) != tt.want {
				t.Errorf("selected = %q, want %q", ns(got), tt.want)
			}
			if matches != tt.matches {
				t.Errorf("matches = %d, want %d", matches, tt.matches)
			}
		})
	}
}

func TestSearchLinesLeavesInputAlone(t *testing.T) {
	t.Parallel()
	lines := numbered("x", "y", "x")
	lines[1].Match = true // a stale mark must neither survive nor be cleared in the input
	before := append([]Line(nil), lines...)
	for _, q := range []SearchRequest{{}, {Pattern: "x", ContextLines: 1}, {Tail: 1}} {
		got, _, err := searchLines(lines, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			got[0].Text = "changed"
		}
		if !reflect.DeepEqual(lines, before) {
			t.Fatalf("query %+v changed the input: %+v", q, lines)
		}
		for _, l := range got {
			if l.Match && l.Text == "y" {
				t.Errorf("query %+v: context line y marked as match", q)
			}
		}
	}
}

func TestSearchLinesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    SearchRequest
		want string
	}{
		{"bad regex", SearchRequest{Pattern: "x("},
			`invalid pattern "x(": error parsing regexp: missing closing ): ` + "`x(`" + `; pattern is RE2 syntax`},
		{"PCRE lookahead", SearchRequest{Pattern: "a(?=b)"}, `invalid pattern "a(?=b)": `},
		{"negative context", SearchRequest{ContextLines: -1}, "context_lines must be >= 0 (0 means no context)"},
		{"negative head", SearchRequest{Head: -1}, "head must be >= 0 (0 means all lines)"},
		{"negative tail", SearchRequest{Tail: -2}, "tail must be >= 0 (0 means all lines)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, matches, err := searchLines(numbered("a", "b"), tt.q)
			if err == nil {
				t.Fatalf("err = nil, selected %q", ns(got))
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q, want prefix %q", err, tt.want)
			}
			if got != nil || matches != 0 {
				t.Errorf("on error got %d lines, %d matches; want none", len(got), matches)
			}
		})
	}
	t.Run("regexp error is wrapped", func(t *testing.T) {
		_, _, err := searchLines(nil, SearchRequest{Pattern: "x("})
		var se *syntax.Error
		if !errors.As(err, &se) {
			t.Errorf("err %v does not wrap *syntax.Error", err)
		}
	})
}

func TestResolveIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		kind    LogKind
		index   int
		kept    int
		want    int
		wantErr string
	}{
		{"newest", KindRun, -1, 3, 2, ""},
		{"oldest negative", KindRun, -3, 3, 0, ""},
		{"oldest", KindRun, 0, 3, 0, ""},
		{"middle", KindRun, 1, 3, 1, ""},
		{"last positive", KindRun, 2, 3, 2, ""},
		{"no runs yet", KindRun, -1, 0, 0, "no runs of web yet"},
		{"no builds yet", KindBuild, 0, 0, 0, "no builds of web yet"},
		{"positive beyond", KindRun, 5, 3, 0,
			"index 5 is beyond the 3 runs kept; valid: -3..-1 (newest is -1) or 0..2 (oldest is 0)"},
		{"positive just beyond", KindRun, 3, 3, 0,
			"index 3 is beyond the 3 runs kept; valid: -3..-1 (newest is -1) or 0..2 (oldest is 0)"},
		{"negative beyond", KindBuild, -4, 3, 0,
			"index -4 is beyond the 3 builds kept; valid: -3..-1 (newest is -1) or 0..2 (oldest is 0)"},
		{"single kept", KindRun, 1, 1, 0, "index 1 is beyond the 1 run kept; valid: -1 or 0 (the only run)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveIndex(tt.kind, "web", tt.index, tt.kept)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("resolveIndex(%d, %d) = %d, %v; want %d", tt.index, tt.kept, got, err, tt.want)
			}
		})
	}
}

func TestFormatLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines []Line
		want  string
	}{
		{"empty", nil, ""},
		{"one match", []Line{{N: 7, Text: "boom", Match: true}}, "7 * boom\n"},
		{"adjacent, no separator", []Line{{N: 1, Text: "a"}, {N: 2, Text: "b", Match: true}, {N: 3, Text: "c"}},
			"1   a\n2 * b\n3   c\n"},
		{"gap gives --", []Line{{N: 2, Text: "a", Match: true}, {N: 3, Text: "b"}, {N: 7, Text: "c"}, {N: 8, Text: "d", Match: true}},
			"2 * a\n3   b\n--\n7   c\n8 * d\n"},
		{"numbers right-aligned to widest", []Line{{N: 9, Text: "x", Match: true}, {N: 10, Text: "y"}, {N: 100, Text: "z", Match: true}},
			"  9 * x\n 10   y\n--\n100 * z\n"},
		{"empty text", []Line{{N: 1}}, "1   \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatLines(tt.lines); got != tt.want {
				t.Errorf("FormatLines =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestFormatLinesOfSearchWithContext(t *testing.T) {
	t.Parallel()
	lines := numbered("a", "b", "ERR 1", "c", "d", "e", "f", "ERR 2", "g", "h", "i", "j")
	got, _, err := searchLines(lines, SearchRequest{Pattern: "ERR", ContextLines: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := "2   b\n3 * ERR 1\n4   c\n--\n7   f\n8 * ERR 2\n9   g\n"
	if s := FormatLines(got); s != want {
		t.Errorf("got\n%s\nwant\n%s", s, want)
	}
}

// searchLines runs searchRing over a ring holding lines, numbered from 1.
func searchLines(lines []Line, q SearchRequest) ([]Line, int, error) {
	r := newRing(max(len(lines), 1))
	for _, l := range lines {
		r.add(l)
	}
	got, _, matches, _, err := searchRing(&r, q)
	return got, matches, err
}

func TestSearchStreamAndSince(t *testing.T) {
	t.Parallel()
	r := newRing(10)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i, stream := range []string{Stdout, Stderr, Stdout, Stderr, Stdout, Stderr} {
		r.add(Line{Time: t0.Add(time.Duration(i) * time.Second), Stream: stream, Text: fmt.Sprintf("l%d", i+1)})
	}
	tests := []struct {
		name string
		q    SearchRequest
		want string
	}{
		{"stderr only", SearchRequest{Stream: Stderr}, "2 4 6"},
		{"stdout tail", SearchRequest{Stream: Stdout, Tail: 2}, "3 5"},
		{"since", SearchRequest{Since: t0.Add(3 * time.Second)}, "4 5 6"},
		{"since and stream", SearchRequest{Since: t0.Add(3 * time.Second), Stream: Stdout}, "5"},
		{"match with context among stderr", SearchRequest{Stream: Stderr, Pattern: "l4", ContextLines: 1}, "2 4* 6"},
		{"since after the last line", SearchRequest{Since: t0.Add(time.Hour)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, _, _, _, err := searchRing(&r, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if ns(lines) != tt.want {
				t.Errorf("lines %q, want %q", ns(lines), tt.want)
			}
		})
	}
	if _, _, _, _, err := searchRing(&r, SearchRequest{Stream: "both"}); err == nil || !strings.Contains(err.Error(), "valid: stdout or stderr") {
		t.Errorf("stream both: %v", err)
	}
}

// "^tick 3$" matched "tick 30": LiteralPrefix reports an anchored literal as
// complete, and the matcher took containing it for matching.
func TestAnchoredLiteralDoesNotMatchLongerLines(t *testing.T) {
	t.Parallel()
	r := newRing(10)
	for _, text := range []string{"tick 3", "tick 30", "a tick 3", "tick 3"} {
		r.add(Line{Stream: Stdout, Text: text})
	}
	for _, tc := range []struct{ pattern, want string }{
		{"^tick 3$", "1* 4*"},
		{"tick 3$", "1* 3* 4*"},
		{"^tick 3", "1* 2* 4*"},
		{"tick 3", "1* 2* 3* 4*"},
	} {
		lines, _, _, _, err := searchRing(&r, SearchRequest{Pattern: tc.pattern})
		if err != nil {
			t.Fatal(err)
		}
		if got := ns(lines); got != tc.want {
			t.Errorf("%q matched %q, want %q", tc.pattern, got, tc.want)
		}
	}
}

// ordered returns every kept line, oldest first, as fresh Lines.
func (r *ring) ordered() []Line {
	lines := make([]Line, r.n)
	for i := range r.n {
		lines[i] = r.line(i)
	}
	return lines
}
