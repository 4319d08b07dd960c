package actors

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"bpm/testkit"
)

// BenchmarkRestartUnderLoad restarts the Go fixture while 8 clients send
// requests, each on a new connection, and reports per restart the failed
// requests and the longest request: with `listen` (the socket hand-off) and
// without it (stop the old run, then start the new one, which binds the port
// itself). Run: go test -run '^$' -bench RestartUnderLoad -benchtime 5x ./actors/
func BenchmarkRestartUnderLoad(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "goapp")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = testkit.RepoPath("testdata/goapp")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for _, mode := range []string{"listen", "stop-start"} {
		b.Run(mode, func(b *testing.B) {
			port := testkit.FreePort(b)
			cfg := fmt.Sprintf("[process.app]\ntype = \"command\"\ncommand = [%q]\n", bin)
			if mode == "listen" {
				cfg += fmt.Sprintf("listen = \"127.0.0.1:%d\"\n", port)
			} else {
				cfg += fmt.Sprintf("env = { FIXTURE_LISTEN = \"127.0.0.1:%d\" }\n", port)
			}
			h := startHarness(b, testkit.NewProject(b, cfg), nil)
			h.waitState("app", StateRunning, 30*time.Second)
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)

			var failed, requests int
			var worst time.Duration
			b.ResetTimer()
			for range b.N {
				load := startLoad(url, 8)
				load.waitRequests(200, 10*time.Second)
				if r := h.restart("app"); r.Err != nil {
					load.stop()
					b.Fatalf("restart: %v", r.Err)
				}
				load.waitRequests(load.count.Load()+200, 10*time.Second)
				res := load.stop()
				failed += res.failed
				if res.firstErr != "" {
					b.Logf("%s: %d failed, first: %s", mode, res.failed, res.firstErr)
				}
				requests += res.ok + res.failed
				worst = max(worst, res.maxLatency)
			}
			b.StopTimer()
			b.ReportMetric(float64(failed)/float64(b.N), "failed/restart")
			b.ReportMetric(float64(requests)/float64(b.N), "requests/restart")
			b.ReportMetric(float64(worst.Microseconds())/1000, "max-latency-ms")
		})
	}
}
