//go:build e2e

package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	manyCount       = 200
	manyStatusCalls = 30
)

// manyProcesses is workload 7: 200 configured `sleep` processes: the time
// from bpm's start until get_status shows all running, get_status's latency
// over them, and bpm's RSS.
func (s *suite) manyProcesses(t *testing.T) {
	const w = "7 many processes"
	var cfg strings.Builder
	for i := range manyCount {
		fmt.Fprintf(&cfg, "[process.p%03d]\ntype = \"command\"\ncommand = [\"sleep\", \"100000\"]\n\n", i)
	}
	b := s.startBPM(t, cfg.String())
	var st status
	waitUntil(t, 60*time.Second, 10*time.Millisecond, fmt.Sprintf("%d processes running", manyCount), func() bool {
		st, _ = getStatus(t, b.cs)
		return st.running() == manyCount
	})
	seen := time.Since(b.began)
	// The last ready event says when the last one got there, free of the
	// polling's own delay.
	var last time.Time
	for _, p := range st.Processes {
		for _, e := range p.Events {
			if e.Kind == "ready" && e.Time.After(last) {
				last = e.Time
			}
		}
	}
	lastReady := last.Sub(b.began)
	s.add(row{workload: w, what: fmt.Sprintf("bpm's start → get_status shows all %d running", manyCount),
		result: fmt.Sprintf("%s seen by polling; last ready event at %s", secs(seen.Seconds()), secs(lastReady.Seconds())),
		target: "within 2 s", verdict: verdict(seen <= 2*time.Second)})

	var lat []time.Duration
	for range manyStatusCalls {
		_, took := getStatus(t, b.cs)
		lat = append(lat, took)
	}
	s.add(row{workload: w, what: fmt.Sprintf("get_status over %d processes (median of %d)", manyCount, manyStatusCalls),
		result: ms(medianDur(lat)), target: "< 20 ms", verdict: verdict(medianDur(lat) < 20*time.Millisecond)})
	rss := rssBytes(t, b.pid)
	s.add(row{workload: w, what: fmt.Sprintf("bpm's RSS with %d processes", manyCount),
		result: mb(rss), target: "< 60 MB", verdict: verdict(rss < 60e6)})
	s.add(row{workload: w, what: fmt.Sprintf("MCP answers after start, %d processes", manyCount), result: ms(b.up)})
}
