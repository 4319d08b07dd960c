//go:build e2e

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// lineCount is how many lines the log-pipeline child prints.
const lineCount = 1_000_000

// suite is what the workloads share: the binaries, the peers found on this
// machine, and the table they fill.
type suite struct {
	tmp         string // removed at the end of the run
	bpm         string // bpm built from this tree
	child       string // testdata/lines
	supervisord string // "" when not installed
	pm2         string // "" when not installed
	skipped     map[string]string
	rows        []row
	startups    []time.Duration // start to first MCP answer, every bpm started
	linesFile   string          // the child's output under the raw pipe, for grep
	ring        *bpmRun         // bpm holding the 1e6 lines, for search
	raw         float64         // the child's median write time under the raw pipe, s
	rev         string          // the commit bpm was built from, "-dirty" with local changes
	load        string          // the 1-minute load average when the suite began
}

// row is one line of the result table.
type row struct {
	workload, what, result, ratio, target, verdict string
}

// TestE2E runs every workload against bpm, the raw limit and the peers, and
// prints one table (also written to $BPM_BENCH_OUT when set). A missed
// target is a result, not a failure; the test fails only when a workload
// cannot be measured.
func TestE2E(t *testing.T) {
	began := time.Now()
	s := newSuite(t)
	t.Cleanup(func() {
		if s.ring != nil {
			s.ring.stop(t)
		}
	})
	workloads := []struct {
		name string
		run  func(*testing.T)
	}{
		{"1 log pipeline", s.logPipeline},
		{"2 ring memory", s.ringMemory},
		{"3 search", s.search},
		{"4 MCP", s.mcpLoad},
		{"5 idle", s.idle},
		{"6 restart", s.restart},
		{"7 many processes", s.manyProcesses},
	}
	for _, w := range workloads {
		if !t.Run(strings.ReplaceAll(w.name, " ", "_"), w.run) {
			s.add(row{workload: w.name, what: "did not finish", result: "see the log above"})
		}
	}
	if len(s.startups) > 0 {
		s.add(row{workload: "context", what: fmt.Sprintf("MCP answers after bpm's start (median of %d starts)", len(s.startups)),
			result: ms(medianDur(s.startups))})
	}
	table := s.table(time.Since(began))
	fmt.Println("\n" + table)
	if out := os.Getenv("BPM_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Errorf("BPM_BENCH_OUT: %v", err)
		}
	}
}

// newSuite builds bpm and the child into a temp dir and finds the peers.
func newSuite(t *testing.T) *suite {
	tmp, err := os.MkdirTemp("", "bpm-bench")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	s := &suite{tmp: tmp, skipped: map[string]string{}, load: loadAverage(),
		bpm: filepath.Join(tmp, "bpm"), child: filepath.Join(tmp, "lines")}
	root, _ := filepath.Abs("..")
	for _, b := range []struct{ out, pkg, dir string }{{s.bpm, ".", root}, {s.child, "./testdata/lines", "."}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	s.rev = "(no git)"
	if out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output(); err == nil {
		s.rev = strings.TrimSpace(string(out))
	}
	s.findPeers(t)
	return s
}

// findPeers looks for supervisord and pm2; the suite installs neither.
func (s *suite) findPeers(t *testing.T) {
	if p, err := exec.LookPath("supervisord"); err == nil {
		s.supervisord = p
	} else {
		s.skipped["supervisord"] = "supervisord not found; install it with: apt-get install supervisor"
	}
	s.pm2 = findPM2()
	if _, err := exec.LookPath("node"); s.pm2 == "" || err != nil {
		s.pm2 = ""
		s.skipped["PM2"] = "pm2 not found; install it with: npm install --prefix ~/.cache/bpm-bench pm2 (or set BPM_BENCH_PM2)"
	}
	for peer, why := range s.skipped {
		t.Logf("skipping %s: %s", peer, why)
	}
	t.Logf("machine: %d CPUs (%s), %s; supervisord %s, PM2 %s", runtime.NumCPU(), cpuModel(), runtime.Version(),
		orNone(s.supervisordVersion()), orNone(pm2Version(s.pm2)))
}

// findPM2 returns $BPM_BENCH_PM2, pm2 on PATH, or the one the docs install
// under ~/.cache/bpm-bench; "" when none exists.
func findPM2() string {
	if p := os.Getenv("BPM_BENCH_PM2"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	if p, err := exec.LookPath("pm2"); err == nil {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(cache, "bpm-bench", "node_modules", ".bin", "pm2")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// add appends a row to the table.
func (s *suite) add(r row) { s.rows = append(s.rows, r) }

// skip adds a row saying a peer was not measured, and why.
func (s *suite) skip(workload, peer string) {
	s.add(row{workload: workload, what: peer, result: "skipped: " + s.skipped[peer]})
}

// table renders the rows as markdown, with the machine and the run's length.
func (s *suite) table(took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bpm %s, end-to-end benchmarks: %d CPUs (%s), %s, %s; supervisord %s, PM2 %s; suite took %s; load average %s at the start, %s at the end\n\n",
		s.rev, runtime.NumCPU(), cpuModel(), runtime.Version(), time.Now().UTC().Format("2006-01-02"),
		orNone(s.supervisordVersion()), orNone(pm2Version(s.pm2)), took.Round(time.Second), s.load, loadAverage())
	b.WriteString("| workload | measure | result | ratio | target | verdict |\n|---|---|---|---|---|---|\n")
	for _, r := range s.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.workload, esc(r.what), esc(r.result), r.ratio, esc(r.target), r.verdict)
	}
	return b.String()
}

// esc keeps a pipe in a cell from splitting it.
func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// verdict is "met" or "**missed**".
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func orNone(s string) string {
	if s == "" {
		return "not installed"
	}
	return s
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAverage is the 1-minute load average: on a shared machine it says how
// much the numbers were disturbed.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
