//go:build e2e

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/api"
	"bpm/testkit"
)

// bpmRun is a bpm started on a project, its stdout and stderr in files, as a
// user would redirect them, with an MCP session open.
type bpmRun struct {
	cmd      *exec.Cmd
	pid      int
	port     string
	dir      string
	began    time.Time     // just before the exec
	up       time.Duration // from began to the first MCP answer
	cs       *sdk.ClientSession
	done     chan struct{}
	stopped  bool
	outLines int  // lines in bpm's stdout file, counted when it stopped
	keep     bool // outlives the workload that started it; the suite stops it
}

// startBPM writes mcpRun into a new project, starts bpm on it and opens an
// MCP session, recording how long after the start MCP first answered.
func (s *suite) startBPM(t *testing.T, mcpRun string) *bpmRun {
	t.Helper()
	// Not t.TempDir: a kept bpm outlives the workload's temp dirs.
	dir, err := os.MkdirTemp(s.tmp, "project")
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, ".mcp-run"), mcpRun)
	b := &bpmRun{port: strconv.Itoa(testkit.FreePort(t)), dir: dir, done: make(chan struct{})}
	b.cmd = exec.Command(s.bpm, "--port", b.port, dir)
	if b.cmd.Stdout, err = os.Create(filepath.Join(dir, "bpm.out")); err != nil {
		t.Fatal(err)
	}
	if b.cmd.Stderr, err = os.Create(filepath.Join(dir, "bpm.err")); err != nil {
		t.Fatal(err)
	}
	b.began = time.Now()
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b.pid = b.cmd.Process.Pid
	go func() { b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		if !b.keep {
			b.stop(t)
		}
	})
	b.cs = b.connect(t, time.Millisecond)
	b.up = time.Since(b.began)
	s.startups = append(s.startups, b.up)
	return b
}

// connect opens an MCP session, trying every `every` for up to 20 s.
func (b *bpmRun) connect(t *testing.T, every time.Duration) *sdk.ClientSession {
	t.Helper()
	client := sdk.NewClient(&sdk.Implementation{Name: "bpm-bench", Version: "0"}, nil)
	var cs *sdk.ClientSession
	waitUntil(t, 20*time.Second, every, "an MCP session with bpm", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		cs, err = client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: "http://127.0.0.1:" + b.port + "/mcp", MaxRetries: -1}, nil)
		return err == nil
	})
	return cs
}

// stop sends SIGTERM, waits for bpm to exit (SIGKILL after 20 s) and removes
// the project with bpm's output.
func (b *bpmRun) stop(t *testing.T) {
	if b.stopped {
		return
	}
	b.stopped = true
	if b.cs != nil {
		b.cs.Close()
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(20 * time.Second):
		t.Errorf("bpm (pid %d) did not exit within 20 s of SIGTERM; killed", b.pid)
		b.cmd.Process.Kill()
		<-b.done
	}
	for _, f := range []any{b.cmd.Stdout, b.cmd.Stderr} {
		f.(*os.File).Close()
	}
	if data, err := os.ReadFile(filepath.Join(b.dir, "bpm.out")); err == nil {
		b.outLines = bytes.Count(data, []byte("\n"))
	}
	os.RemoveAll(b.dir)
}

// call calls a tool on cs and returns its result and the time it took at
// the client. A protocol error or a tool error fails the test.
func call(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (*sdk.CallToolResult, time.Duration) {
	t.Helper()
	res, took, err := tryCall(cs, name, args)
	if err != nil {
		t.Fatal(err)
	}
	return res, took
}

// tryCall is call without the test: for goroutines, which must not fail it.
func tryCall(cs *sdk.ClientSession, name string, args map[string]any) (*sdk.CallToolResult, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	began := time.Now()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	took := time.Since(began)
	if err != nil {
		return nil, took, fmt.Errorf("%s %v: %v (after %v)", name, args, err, took)
	}
	if res.IsError {
		return nil, took, fmt.Errorf("%s %v: tool error: %s", name, args, text(res))
	}
	return res, took, nil
}

// text is a result's text content.
func text(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// structured decodes a result's structured content into out.
func structured(t *testing.T, res *sdk.CallToolResult, out any) {
	t.Helper()
	data, err := json.Marshal(res.StructuredContent)
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		t.Fatalf("structured content: %v", err)
	}
}

// status is the part of get_status's structured result the suite reads.
type status struct {
	Processes []struct {
		Name   string `json:"name"`
		State  string `json:"state"`
		PID    int    `json:"pid"`
		Events []struct {
			Time time.Time `json:"time"`
			Kind string    `json:"kind"`
		} `json:"events"`
	} `json:"processes"`
}

// getStatus calls get_status and decodes it.
func getStatus(t *testing.T, cs *sdk.ClientSession) (status, time.Duration) {
	t.Helper()
	res, took := call(t, cs, "get_status", nil)
	var st status
	structured(t, res, &st)
	return st, took
}

// running is how many processes get_status reports running.
func (st status) running() int {
	n := 0
	for _, p := range st.Processes {
		if p.State == "running" {
			n++
		}
	}
	return n
}

// searchResult is the part of search_logs's structured result the suite reads.
type searchResult struct {
	Run struct {
		TotalLines int `json:"total_lines"`
	} `json:"run"`
	Matches int          `json:"matches"`
	Lines   []searchLine `json:"lines"`
}

// searchLine is one line of a search result, in the tool's compact form.
type searchLine = api.LineOut

// totalLines is how many lines process's newest run has written, as bpm
// counts them; 0 before the run has a log.
func totalLines(t *testing.T, cs *sdk.ClientSession, process string) int {
	t.Helper()
	res, _, err := tryCall(cs, "search_logs", map[string]any{"process": process, "tail": 1})
	if err != nil {
		return 0
	}
	var sr searchResult
	structured(t, res, &sr)
	return sr.Run.TotalLines
}

// waitUntil polls cond every `every` until it holds, failing the test after
// within.
func waitUntil(t *testing.T, within, every time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(every) // the poll interval; the deadline bounds the wait
	}
}

// procStat is a process's CPU ticks (utime+stime) from /proc/PID/stat.
func procTicks(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command, which is in parentheses and may hold spaces:
	// state is field 3, utime 14, stime 15.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// ticksPerSecond is USER_HZ, 100 on every Linux this runs on.
const ticksPerSecond = 100

// rssBytes is a process's VmRSS.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// guardPID finds bpm's guard: a child of bpm whose command line holds
// "__guard"; 0 when there is none.
func guardPID(bpm int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if len(f) > 1 && f[1] == strconv.Itoa(bpm) && strings.Contains(string(cmdline), "__guard") {
			return pid
		}
	}
	return 0
}
