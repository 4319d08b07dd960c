//go:build e2e

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// searchCalls is how many timed calls each search gets, after one warm-up.
const searchCalls = 7

// searchCase is one search, as search_logs arguments and as the grep
// pipeline a user would type over a file of the same lines.
type searchCase struct {
	name    string
	pattern string
	context int
	tail    int
	grep    string // sh -c script; $0 is the pattern, $1 the file
}

// rareLiteral matches the 10 ERROR lines; noLiteral is made of character
// classes only (about 1 line in 10), so no substring prefilter applies.
const (
	rareLiteral = `disk quota`
	noLiteral   = `[0-9]{5}[[:space:]][89][0-9][5-9][a-z]`
)

var searchCases = []searchCase{
	{"rare literal `" + rareLiteral + "`, tail 10", rareLiteral, 0, 10, `grep -E -- "$0" "$1" | tail -n 10`},
	{"rare literal, context 3", rareLiteral, 3, 0, `grep -E -C 3 -- "$0" "$1"`},
	{"no literal `" + noLiteral + "`, tail 10", noLiteral, 0, 10, `grep -E -- "$0" "$1" | tail -n 10`},
	{"no literal, context 3, tail 10", noLiteral, 3, 10, `grep -E -C 3 -- "$0" "$1" | tail -n 10`},
}

// search is workload 3: search_logs over the 1e6 lines kept by the ring
// workload's bpm, against grep -E over the raw pipe's file of the same lines,
// median of several calls each, timed at the client.
func (s *suite) search(t *testing.T) {
	const w = "3 search"
	if s.ring == nil || s.linesFile == "" {
		t.Fatal("needs the ring workload's bpm and the raw pipe's file")
	}
	defer s.ring.stop(t)
	for _, c := range searchCases {
		args := map[string]any{"process": "lines", "pattern": c.pattern}
		if c.context > 0 {
			args["context_lines"] = c.context
		}
		if c.tail > 0 {
			args["tail"] = c.tail
		}
		what := c.name + ": bpm vs `" + strings.ReplaceAll(c.grep, `"$0" "$1"`, "PATTERN FILE") + "`"
		s.grep(t, c) // warm-up, as the first bpm call below
		res, took, err := tryCall(s.ring.cs, "search_logs", args)
		if err != nil {
			t.Errorf("bpm failed a search: %v", err)
			s.add(row{workload: w, what: what, result: fmt.Sprintf("bpm failed after %s: %v", ms(took), err), verdict: "**bpm failed**"})
			continue
		}
		s.checkSameLines(t, c, res)
		var bpm, grep []time.Duration
		for range searchCalls {
			_, took := call(t, s.ring.cs, "search_logs", args)
			bpm = append(bpm, took)
			_, took = s.grep(t, c)
			grep = append(grep, took)
		}
		b, g := medianDur(bpm), medianDur(grep)
		t.Logf("%s: bpm %v, grep %v", c.name, bpm, grep)
		s.add(row{workload: w, what: what,
			result: "bpm " + ms(b) + ", grep " + ms(g), ratio: ratio(float64(b), float64(g)),
			target: "≤ 1.5x grep -E", verdict: verdict(float64(b) <= 1.5*float64(g))})
	}
}

// grep runs c's pipeline over the lines file and returns its output and how
// long it took, process starts included. The lines are ASCII, so grep runs in
// the C locale, its fastest: in a UTF-8 locale GNU grep 3.8 takes about 6x
// longer over character classes.
func (s *suite) grep(t *testing.T, c searchCase) (string, time.Duration) {
	t.Helper()
	cmd := exec.Command("sh", "-c", c.grep, c.pattern, s.linesFile)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	began := time.Now()
	out, err := cmd.Output()
	took := time.Since(began)
	if err != nil {
		t.Fatalf("%s: %v", c.grep, err)
	}
	return string(out), took
}

// checkSameLines checks that bpm selected the lines grep does: a faster
// wrong answer would make the comparison meaningless.
func (s *suite) checkSameLines(t *testing.T, c searchCase, res *sdk.CallToolResult) {
	t.Helper()
	tail := "cat"
	if c.tail > 0 {
		tail = fmt.Sprintf("tail -n %d", c.tail)
	}
	// grep's "--" between groups is no line of the log; bpm's tail leaves it out.
	script := fmt.Sprintf(`grep -E -C %d -- "$0" "$1" | grep -vx -- -- | %s`, c.context, tail)
	out, _ := s.grep(t, searchCase{pattern: c.pattern, grep: script})
	want := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var sr searchResult
	structured(t, res, &sr)
	slices.SortFunc(sr.Lines, func(a, b searchLine) int { return a.N - b.N })
	got := make([]string, len(sr.Lines))
	for i, l := range sr.Lines {
		got[i] = l.Text
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: bpm selected other lines than grep -E:\nbpm  (%d): %.600q\ngrep (%d): %.600q", c.name, len(got), got, len(want), want)
	}
}
