//go:build e2e

package bench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rounds is how many times each timed run is repeated; results are medians.
// The log pipeline, the noisiest, gets more.
const (
	rounds         = 3
	pipelineRounds = 5
)

// logPipeline is workload 1: the child prints 1e6 lines under a raw pipe,
// bpm, supervisord and PM2, one of each per round, and reports its own write
// time. bpm's CPU time for the workload is recorded too.
func (s *suite) logPipeline(t *testing.T) {
	const w = "1 log pipeline"
	var direct, raw, bpm, cpu, passed, sup, pm2 []float64
	var pm2Home string
	if s.pm2 != "" {
		pm2Home = s.startPM2(t)
	}
	for r := range pipelineRounds {
		direct = append(direct, s.toFile(t))
		raw = append(raw, s.pipeRaw(t, r == 0))
		c := s.childUnderBPM(t, "")
		c.bpm.stop(t)
		bpm, cpu = append(bpm, c.write), append(cpu, c.cpu)
		passed = append(passed, float64(c.bpm.outLines))
		if s.supervisord != "" {
			sup = append(sup, s.pipeSupervisord(t))
		}
		if pm2Home != "" {
			pm2 = append(pm2, s.pipePM2(t, pm2Home, r))
		}
		t.Logf("round %d: file %.2f s, raw %.2f s, bpm %.2f s (CPU %.2f s, %.0f lines written through); supervisord %v, PM2 %v so far",
			r+1, direct[r], raw[r], bpm[r], cpu[r], passed[r], sup, pm2)
	}
	lim := median(raw)
	s.raw = lim
	s.add(row{workload: w, what: "raw pipe (`child | cat > file`): the child's write time",
		result: secs(lim) + each(raw, "%.2f"), ratio: "1.00x", target: "the limit"})
	s.add(row{workload: w, what: "no pipe (`child > file`), for context",
		result: secs(median(direct)) + each(direct, "%.2f"), ratio: ratio(median(direct), lim)})
	ok := median(bpm) <= 1.1*lim && (len(sup) == 0 || median(bpm) < median(sup))
	s.add(row{workload: w, what: "bpm, its stdout to a file (log_lines default)",
		result: secs(median(bpm)) + each(bpm, "%.2f"), ratio: ratio(median(bpm), lim),
		target: "≤ 1.10x raw, ahead of supervisord", verdict: verdict(ok)})
	for _, p := range []struct {
		name, what string
		xs         []float64
	}{{"supervisord", "supervisord, stdout captured to its log file (default)", sup}, {"PM2", "PM2, its log files (default)", pm2}} {
		if len(p.xs) == 0 {
			s.skip(w, p.name)
			continue
		}
		s.add(row{workload: w, what: p.what, result: secs(median(p.xs)) + each(p.xs, "%.2f"), ratio: ratio(median(p.xs), lim)})
	}
	s.add(row{workload: w, what: "bpm's CPU time (user+system) for the 1e6 lines",
		result: secs(median(cpu)) + each(cpu, "%.2f"), target: "recorded"})
	s.add(row{workload: w, what: "lines bpm wrote through to its stdout file (it drops batches while the writer lags)",
		result: fmt.Sprintf("%.0f of %d", median(passed), lineCount) + each(passed, "%.0f"), target: "recorded"})
}

// childRun is one run of the child that waits on a FIFO before printing.
type childRun struct {
	fifo, report string
}

// newChildRun makes the FIFO and names the report file in dir.
func newChildRun(t *testing.T, dir string) childRun {
	t.Helper()
	c := childRun{fifo: filepath.Join(dir, "go.fifo"), report: filepath.Join(dir, "write-seconds")}
	if err := syscall.Mkfifo(c.fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// argv is the child's command line: n lines after the FIFO opens, then hold.
func (s *suite) argv(c childRun, n int) []string {
	return []string{s.child, "-n", strconv.Itoa(n), "-wait", c.fifo, "-report", c.report, "-hold"}
}

// openGo opens the FIFO for writing once the child waits on it; closing the
// returned file starts the output.
func openGo(t *testing.T, fifo string) *os.File {
	t.Helper()
	var f *os.File
	waitUntil(t, 60*time.Second, 5*time.Millisecond, "the child to wait on its FIFO", func() bool {
		var err error
		// Without a reader a non-blocking open for writing fails with ENXIO.
		f, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		return err == nil
	})
	return f
}

// writeTime waits for the child's report and returns its write time in s.
func writeTime(t *testing.T, report string) float64 {
	t.Helper()
	var data []byte
	waitUntil(t, 5*time.Minute, 5*time.Millisecond, "the child's write time", func() bool {
		var err error
		data, err = os.ReadFile(report)
		return err == nil
	})
	v, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
	if err != nil {
		t.Fatalf("report %s: %v", report, err)
	}
	return v
}

// toFile runs `child > file`, no pipe and no reader, and returns the
// child's write time.
func (s *suite) toFile(t *testing.T) float64 {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "lines.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	report := filepath.Join(dir, "write-seconds")
	cmd := exec.Command(s.child, "-n", strconv.Itoa(lineCount), "-report", report)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child > file: %v\n%s", err, stderr.String())
	}
	os.Remove(out.Name())
	return writeTime(t, report)
}

// pipeRaw runs `child | cat > file` and returns the child's write time. The
// first round keeps the file for the search workload.
func (s *suite) pipeRaw(t *testing.T, keep bool) float64 {
	t.Helper()
	dir := t.TempDir()
	out, report := filepath.Join(dir, "lines.txt"), filepath.Join(dir, "write-seconds")
	cmd := exec.Command("sh", "-c", `"$0" -n "$1" -report "$2" | cat > "$3"`, s.child, strconv.Itoa(lineCount), report, out)
	if data, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("raw pipe: %v\n%s", err, data)
	}
	if keep {
		s.linesFile = filepath.Join(s.tmp, "lines.txt")
		if err := os.Rename(out, s.linesFile); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(out)
	return writeTime(t, report)
}

// bpmChildResult is one run of the child under bpm.
type bpmChildResult struct {
	bpm       *bpmRun
	write     float64 // the child's write time, s
	cpu       float64 // bpm's CPU time from the start of output until every line is stored, s
	rssBefore int64   // bpm's RSS with the child waiting, before its output
	rssAfter  int64   // bpm's RSS once every line is stored
}

// childUnderBPM runs the child as process "lines" of a bpm whose .mcp-run
// starts with header, and returns with bpm still running.
func (s *suite) childUnderBPM(t *testing.T, header string) bpmChildResult {
	t.Helper()
	dir, err := os.MkdirTemp(s.tmp, "child")
	if err != nil {
		t.Fatal(err)
	}
	c := newChildRun(t, dir)
	b := s.startBPM(t, header+"\n[process.lines]\ntype = \"command\"\ncommand = "+tomlArray(s.argv(c, lineCount))+"\n")
	res := bpmChildResult{bpm: b}
	f := openGo(t, c.fifo)
	ticks := procTicks(t, b.pid)
	res.rssBefore = rssBytes(t, b.pid)
	f.Close()
	res.write = writeTime(t, c.report)
	waitUntil(t, 5*time.Minute, 20*time.Millisecond, "bpm to store every line", func() bool {
		return totalLines(t, b.cs, "lines") >= lineCount
	})
	res.cpu = float64(procTicks(t, b.pid)-ticks) / ticksPerSecond
	res.rssAfter = rssBytes(t, b.pid)
	return res
}

// tomlArray writes argv as a TOML array of basic strings.
func tomlArray(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// stopProcess sends SIGTERM to cmd and waits up to 20 s, then SIGKILL.
func stopProcess(t *testing.T, cmd *exec.Cmd, done <-chan error) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Errorf("%s: %v", cmd.Path, err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s (pid %d) did not exit within 20 s of SIGTERM; killed", cmd.Path, cmd.Process.Pid)
		cmd.Process.Kill()
		<-done
	}
}

// textBytes is the bytes of text in the lines file, newlines left out.
func (s *suite) textBytes(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(s.linesFile)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size() - lineCount
}
