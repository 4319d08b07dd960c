package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// With log_dir, a run of a bpm that was stopped is found after the next bpm
// starts on the same project: search_logs index -2 is the previous
// session's run, with its pid, marked as such.
func TestLogsSurviveABPMRestart(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `log_dir = "logs"

[process.app]
type = "command"
command = ["sh", "-c", "echo token-$$; exec sleep 1000"]
`)
	first := startBPM(t, "--port", strconv.Itoa(testkit.FreePort(t)), dir)
	pid := first.waitOutput(t, `\[app\] token-(\d+)`, 20*time.Second)[1]
	first.cmd.Process.Signal(syscall.SIGTERM)
	if code := first.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("first bpm exited %d\n%s", code, first.stderr)
	}

	port := strconv.Itoa(testkit.FreePort(t))
	second := startBPM(t, "--port", port, dir)
	if again := second.waitOutput(t, `\[app\] token-(\d+)`, 20*time.Second)[1]; again == pid {
		t.Fatalf("the second bpm's run has the first one's pid %s", pid)
	}
	cs := connectMCP(t, port)
	text, _ := callTool(t, cs, "search_logs", map[string]any{"process": "app", "index": -2, "pattern": "token-"})
	header := regexp.MustCompile(`app run -2 \(pid (\d+), .*previous bpm session\)`).FindStringSubmatch(text)
	if header == nil || header[1] != pid || !strings.Contains(text, "token-"+pid) {
		t.Errorf("search_logs index -2 after a restart of bpm = %q; want run of pid %s, previous session, with token-%s", text, pid, pid)
	}
	if now, _ := callTool(t, cs, "search_logs", map[string]any{"process": "app", "index": -1}); strings.Contains(now, "previous bpm session") || strings.Contains(now, "token-"+pid+"\n") {
		t.Errorf("index -1 is not this session's run: %q", now)
	}
}

// A process flooding its output and one crashing in a loop with a page of
// output each time rotate their files, keep log_keep rotated ones, and
// never take log_dir past log_total_mb, polled while they run.
func TestLogDirStaysWithinItsCapUnderAFloodAndACrashLoop(t *testing.T) {
	dir := testkit.NewProject(t, `log_dir = "logs"
log_max_mb = 0.0625
log_total_mb = 0.25
log_keep = 1
release_crash_backoff_initial_seconds = 0.05
release_crash_backoff_max_seconds = 0.1

[process.flood]
type = "command"
command = ["yes", "`+strings.Repeat("y", 100)+`"]

[process.crashy]
type = "command"
command = ["sh", "-c", "yes crashing | head -n 1000; exit 1"]
`)
	logs := filepath.Join(dir, "logs")
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	cmd := exec.Command(bpmBin, "--port", strconv.Itoa(testkit.FreePort(t)), dir)
	cmd.Stdout = devnull // never a file: a flood would fill the disk
	b := startCmd(t, cmd)

	const capBytes = 256 << 10
	var peak int64
	var crashRuns int
	sawRotated := false
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		size, files := logDirFiles(logs)
		peak = max(peak, size)
		if size > capBytes {
			t.Fatalf("log_dir holds %d bytes, over log_total_mb (%d): %v", size, capBytes, files)
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".log.2") {
				t.Fatalf("%s exists with log_keep = 1", f)
			}
		}
		sawRotated = sawRotated || fileExists(filepath.Join(logs, "flood", "run.log.1"))
		time.Sleep(10 * time.Millisecond) // the polling interval, not a wait for a state
	}
	// A run prints 38 KB: run.log and run.log.1 (64 KiB each) hold a start
	// line, unless run.log is between a rotation and its next write.
	old, _ := os.ReadFile(filepath.Join(logs, "crashy", "run.log.1"))
	data, _ := os.ReadFile(filepath.Join(logs, "crashy", "run.log"))
	data = append(old, data...)
	for _, m := range regexp.MustCompile(` === run (\d+) `).FindAllStringSubmatch(string(data), -1) {
		crashRuns, _ = strconv.Atoi(m[1])
	}
	t.Logf("peak %d bytes of %d; crashy's newest run is run %d", peak, capBytes, crashRuns)
	if !sawRotated || peak < capBytes/2 {
		t.Errorf("flood/run.log.1 seen: %v, peak %d bytes: the flood did not fill its share", sawRotated, peak)
	}
	if crashRuns < 3 {
		t.Errorf("crashy's newest run is %d; want a crash loop (3 runs or more):\n%.500s", crashRuns, data)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if code := b.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM\n%s", code, b.stderr)
	}
}

// logDirFiles is the bytes of the files under dir and their paths.
func logDirFiles(dir string) (int64, []string) {
	var n int64
	var files []string
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
			files = append(files, path)
		}
		return nil
	})
	return n, files
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
