//go:build e2e

package bench

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	mcpSessions = 16
	mcpWindow   = 5 * time.Second
	mcpSeqCalls = 300 // per tool, for the one sequential client
)

// mcpCalls are the two calls of the MCP workload, taken in turn.
var mcpCalls = []struct {
	name string
	args map[string]any
}{
	{"get_status", nil},
	{"search_logs", map[string]any{"process": "app", "tail": 5}},
}

// mcpLoad is workload 4: get_status and a small search_logs, in turn, from
// 16 concurrent sessions for about 5 s, then from one client in sequence.
// Latency is measured at the client, which shares the machine with bpm.
func (s *suite) mcpLoad(t *testing.T) {
	const w = "4 MCP"
	b := s.startBPM(t, fmt.Sprintf(`[process.app]
type = "command"
command = %s

[process.idle1]
type = "command"
command = ["sleep", "100000"]

[process.idle2]
type = "command"
command = ["sleep", "100000"]
`, tomlArray([]string{s.child, "-n", "1000", "-hold"})))
	waitUntil(t, 30*time.Second, 20*time.Millisecond, "3 processes running and app's 1000 lines", func() bool {
		st, _ := getStatus(t, b.cs)
		return st.running() == 3 && totalLines(t, b.cs, "app") >= 1000
	})

	lat, errs, elapsed := concurrentCalls(t, b)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	rate := float64(len(all)) / elapsed.Seconds()
	p99 := percentile(all, 99)
	s.add(row{workload: w, what: fmt.Sprintf("%d sessions for %s, get_status and search_logs (tail 5) in turn", mcpSessions, mcpWindow),
		result: fmt.Sprintf("%.0f calls/s, p50 %s, p99 %s", rate, ms(percentile(all, 50)), ms(p99)),
		target: "≥ 3,000 calls/s, p99 < 10 ms", verdict: verdict(rate >= 3000 && p99 < 10*time.Millisecond)})
	for i, c := range mcpCalls {
		s.add(row{workload: w, what: fmt.Sprintf("… %s alone (%d calls)", c.name, len(lat[i])),
			result: fmt.Sprintf("p50 %s, p99 %s", ms(percentile(lat[i], 50)), ms(percentile(lat[i], 99)))})
	}
	if errs > 0 {
		s.add(row{workload: w, what: "failed calls under load", result: fmt.Sprint(errs), verdict: "**bpm failed calls**"})
	}

	seq := sequentialCalls(t, b.cs)
	p50s := []time.Duration{percentile(seq[0], 50), percentile(seq[1], 50)}
	s.add(row{workload: w, what: fmt.Sprintf("one client in sequence (%d calls of each)", mcpSeqCalls),
		result: fmt.Sprintf("get_status p50 %s, search_logs p50 %s", ms(p50s[0]), ms(p50s[1])),
		target: "p50 < 1 ms", verdict: verdict(slices.Max(p50s) < time.Millisecond)})
}

// concurrentCalls runs mcpSessions sessions calling in turn for mcpWindow
// and returns the latencies per call kind, the failed calls and the time
// the window took.
func concurrentCalls(t *testing.T, b *bpmRun) ([][]time.Duration, int, time.Duration) {
	t.Helper()
	sessions := make([]*sdk.ClientSession, mcpSessions)
	for i := range sessions {
		sessions[i] = b.connect(t, 10*time.Millisecond)
		defer sessions[i].Close()
	}
	type result struct {
		lat  [][]time.Duration
		errs int
		err  error
	}
	results := make([]result, len(sessions))
	var wg sync.WaitGroup
	began := time.Now()
	end := began.Add(mcpWindow)
	for i, cs := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := result{lat: make([][]time.Duration, len(mcpCalls))}
			for j := i; time.Now().Before(end); j++ {
				c := j % len(mcpCalls)
				_, took, err := tryCall(cs, mcpCalls[c].name, mcpCalls[c].args)
				if err != nil {
					r.errs++
					r.err = err
					continue
				}
				r.lat[c] = append(r.lat[c], took)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	lat := make([][]time.Duration, len(mcpCalls))
	errs := 0
	for _, r := range results {
		for c := range lat {
			lat[c] = append(lat[c], r.lat[c]...)
		}
		errs += r.errs
		if r.err != nil {
			t.Errorf("under load: %d failed calls, e.g. %v", r.errs, r.err)
		}
	}
	return lat, errs, elapsed
}

// sequentialCalls makes mcpSeqCalls calls of each kind, in turn, from one
// session, after a few unmeasured ones.
func sequentialCalls(t *testing.T, cs *sdk.ClientSession) [][]time.Duration {
	t.Helper()
	lat := make([][]time.Duration, len(mcpCalls))
	for j := range 2 * (mcpSeqCalls + 10) {
		c := j % len(mcpCalls)
		_, took := call(t, cs, mcpCalls[c].name, mcpCalls[c].args)
		if j >= 20 {
			lat[c] = append(lat[c], took)
		}
	}
	return lat
}
