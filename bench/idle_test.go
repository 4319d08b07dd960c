//go:build e2e

package bench

import (
	"fmt"
	"testing"
	"time"
)

const idleWindow = 20 * time.Second

// idle is workload 5: bpm with 3 idle processes and an MCP session open
// but silent; CPU ticks of bpm and its guard over 20 s, and their RSS.
func (s *suite) idle(t *testing.T) {
	const w = "5 idle"
	cfg := ""
	for i := range 3 {
		cfg += fmt.Sprintf("[process.idle%d]\ntype = \"command\"\ncommand = [\"sleep\", \"100000\"]\n\n", i+1)
	}
	b := s.startBPM(t, cfg)
	waitUntil(t, 30*time.Second, 20*time.Millisecond, "3 processes running", func() bool {
		st, _ := getStatus(t, b.cs)
		return st.running() == 3
	})
	var guard int
	waitUntil(t, 10*time.Second, 10*time.Millisecond, "bpm's guard", func() bool {
		guard = guardPID(b.pid)
		return guard != 0
	})
	bpm0, guard0 := procTicks(t, b.pid), procTicks(t, guard)
	time.Sleep(idleWindow) // the measurement window, not a wait for a state
	bpmTicks, guardTicks := procTicks(t, b.pid)-bpm0, procTicks(t, guard)-guard0
	s.add(row{workload: w, what: fmt.Sprintf("CPU ticks of bpm + guard over %s, 3 idle `sleep` processes, a silent MCP session open", idleWindow),
		result: fmt.Sprintf("%d (bpm %d, guard %d)", bpmTicks+guardTicks, bpmTicks, guardTicks),
		target: "0 ticks", verdict: verdict(bpmTicks+guardTicks == 0)})
	rb, rg := rssBytes(t, b.pid), rssBytes(t, guard)
	s.add(row{workload: w, what: "RSS of bpm + guard", result: fmt.Sprintf("%s (bpm %s, guard %s)", mb(rb+rg), mb(rb), mb(rg)),
		target: "< 40 MB", verdict: verdict(rb+rg < 40e6)})
}
