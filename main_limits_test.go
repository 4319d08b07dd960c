package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"bpm/mcp"
	"bpm/testkit"
)

// startLimited is startBPM with the descriptor limit (soft and hard) set
// to nofile; prlimit execs bpm, so the pid is bpm's.
func startLimited(t *testing.T, nofile int, args ...string) *bpmProcess {
	t.Helper()
	argv := append([]string{fmt.Sprintf("--nofile=%d:%d", nofile, nofile), bpmBin}, args...)
	return startCmd(t, exec.Command("prlimit", argv...))
}

// openFDs counts pid's open descriptors.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// runPids lists the pids the app printed, in order.
func runPids(out string) []string {
	var pids []string
	for _, m := range regexp.MustCompile(`\[app\] run (\d+)`).FindAllStringSubmatch(out, -1) {
		pids = append(pids, m[1])
	}
	return pids
}

// mcpAnswers reports whether an initialize on port gets 200.
func mcpAnswers(port string) bool {
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/mcp", strings.NewReader(initialize))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// Regression: ~20,000 connections holding half-sent bodies took every
// descriptor; MCP went dark and crash restarts failed with `pipe2: too many
// open files`. Under a limit of 256, more connections than that must leave
// crash restarts working, and MCP must answer again once the slow bodies
// time out.
func TestConnectionFloodLeavesCrashRestartsAndMCPWorking(t *testing.T) {
	testkit.Need(t, "prlimit")
	dir := testkit.NewProject(t, `
release_crash_backoff_initial_seconds = 0.2
release_crash_backoff_max_seconds = 0.5

[process.app]
type = "command"
command = ["sh", "-c", "echo run $$; sleep 1; exit 1"]
`)
	port := strconv.Itoa(testkit.FreePort(t))
	b := startLimited(t, 256, "--port", port, dir)
	b.waitOutput(t, `\[app\] run \d+`, 30*time.Second)
	testkit.WaitFor(t, 10*time.Second, "the MCP endpoint", func() bool { return mcpAnswers(port) })
	pid := b.cmd.Process.Pid

	const flood = 400
	for range flood {
		conn, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		io.WriteString(conn, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:"+port+"\r\nContent-Type: application/json\r\n"+
			"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\":")
	}
	testkit.WaitFor(t, 5*time.Second, "bpm to take in the flood", func() bool { return openFDs(t, pid) >= 128 })
	t.Logf("bpm holds %d descriptors under the flood", openFDs(t, pid))

	// Two new runs: the second began while the flood held its connections.
	before := runPids(b.stdout.String())
	testkit.WaitFor(t, 8*time.Second, "two crash restarts during the flood", func() bool {
		return len(runPids(b.stdout.String())) >= len(before)+2
	})
	if after := runPids(b.stdout.String()); slices.Contains(before, after[len(after)-1]) {
		t.Errorf("the newest run %s is not new", after[len(after)-1])
	}
	if strings.Contains(b.stderr.String(), "too many open files") {
		t.Errorf("bpm ran out of descriptors:\n%s", b.stderr)
	}

	start := time.Now()
	testkit.WaitFor(t, mcp.DefaultBodyTimeout+5*time.Second, "MCP to answer once the slow bodies time out", func() bool { return mcpAnswers(port) })
	t.Logf("MCP answered again %s later", time.Since(start).Round(time.Millisecond))
	testkit.WaitFor(t, 5*time.Second, "bpm to close the slow connections", func() bool { return openFDs(t, pid) < 64 })
}
