//go:build e2e

package bench

import (
	"fmt"
	"testing"
)

// bigRing keeps every one of the child's lines in one run's ring.
const bigRing = "log_lines = 1000000\nlog_bytes = 2147483647\n"

// ringMemory is workload 2: bpm with a ring of 1e6 lines takes the child's
// output; its RSS growth is compared with the bytes of text stored. The
// last round's bpm is kept for the search workload.
func (s *suite) ringMemory(t *testing.T) {
	const w = "2 ring memory"
	if s.linesFile == "" {
		s.pipeRaw(t, true)
	}
	text := float64(s.textBytes(t))
	var growth, before, write []float64
	for r := range rounds {
		c := s.childUnderBPM(t, bigRing)
		growth = append(growth, float64(c.rssAfter-c.rssBefore))
		before = append(before, float64(c.rssBefore))
		write = append(write, c.write)
		t.Logf("round %d: RSS %s before the output, %s after; write time %.2f s",
			r+1, mb(c.rssBefore), mb(c.rssAfter), c.write)
		if r < rounds-1 {
			c.bpm.stop(t)
			continue
		}
		c.bpm.keep = true
		s.ring = c.bpm
	}
	g, limit := median(growth), 1.2*text+40e6
	s.add(row{workload: w, what: fmt.Sprintf("bpm's RSS growth storing 1e6 lines (%s of text; `log_lines = 1000000`)", mb(int64(text))),
		result: mb(int64(g)) + each(scale(growth, 1e-6), "%.0f"), ratio: ratio(g, text) + " of the text",
		target: fmt.Sprintf("≤ 1.2x text + 40 MB = %s", mb(int64(limit))), verdict: verdict(g <= limit)})
	s.add(row{workload: w, what: "bpm's RSS before the output (child started, waiting)", result: mb(int64(median(before)))})
	wt := median(write)
	r := "-"
	if s.raw > 0 {
		r = ratio(wt, s.raw)
	}
	s.add(row{workload: w, what: "the child's write time under bpm with the 1e6-line ring", result: secs(wt) + each(write, "%.2f"),
		ratio: r + " of raw", target: "recorded"})
}

// scale multiplies every value by k.
func scale(xs []float64, k float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * k
	}
	return out
}
