package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sys/unix"

	"bpm/actors/osproc"
	"bpm/api"
	"bpm/testkit"
)

// tokenHolders lists the live processes whose environment carries a token
// of the bpm with pid bpm (osproc.TokenEnv): every run, build and probe of
// it and whatever they started, unless a process cleared its environment.
func tokenHolders(bpm int) []int {
	prefix := []byte(osproc.TokenEnv + "=" + strconv.Itoa(bpm) + ".")
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !testkit.Alive(pid) {
			continue
		}
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if bytes.HasPrefix(kv, prefix) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// escapeProject runs bpm on a project with a double-forking daemon and a
// setpgid child, both ignoring SIGTERM, and returns bpm and the two escaped
// pids once bpm has seen them leave their runs' groups.
func escapeProject(t *testing.T) (b *bpmProcess, daemon, child int) {
	t.Helper()
	exe := testkit.BuildFixture(t, "escaper")
	dir := testkit.NewProject(t, fmt.Sprintf(`
[process.daemon]
type = "command"
command = [%[1]q, "daemon"]
stop_timeout_seconds = 1

[process.pgid]
type = "command"
command = [%[1]q, "setpgid"]
stop_timeout_seconds = 1
`, exe))
	b = startBPM(t, "--port", strconv.Itoa(testkit.FreePort(t)), dir)
	daemon, _ = strconv.Atoi(b.waitOutput(t, `\[daemon\] daemon pid=(\d+)`, time.Minute)[1])
	child, _ = strconv.Atoi(b.waitOutput(t, `\[pgid\] setpgid pid=(\d+)`, time.Minute)[1])
	for _, pid := range []int{daemon, child} {
		testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("bpm to see pid %d leave its run's group", pid), func() bool {
			return regexp.MustCompile(`left its run's process group.* pid=` + strconv.Itoa(pid) + ` `).MatchString(b.stderr.String())
		})
	}
	if sid, _ := unix.Getsid(daemon); sid == daemon || sid == syscall.Getpid() {
		t.Fatalf("the daemon's session is %d: the fixture did not double-fork", sid)
	}
	return b, daemon, child
}

// A double-forking daemon (setsid) and a setpgid child used to outlive a
// clean shutdown: bpm adopts the first (child subreaper) and names it by its
// token, follows the second by its parent, and stops both with their runs.
// After SIGKILL the guard kills their groups, which bpm registered with it.
func TestEscapedDescendantsDoNotOutliveBPM(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			b, daemon, child := escapeProject(t)
			bpm := b.cmd.Process.Pid
			if held := tokenHolders(bpm); len(held) < 4 {
				t.Fatalf("processes carrying bpm's token: %v, want both leaders and both escaped", held)
			}
			if err := b.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := b.wait(t, 30*time.Second)
			if sig == syscall.SIGTERM && code != 0 {
				t.Errorf("bpm exited %d after SIGTERM, want 0\n%s", code, b.stderr)
			}
			testkit.WaitFor(t, 10*time.Second, "the daemon and the setpgid child to die", func() bool {
				return !testkit.Alive(daemon) && !testkit.Alive(child)
			})
			testkit.WaitFor(t, 10*time.Second, "no process with bpm's token", func() bool { return len(tokenHolders(bpm)) == 0 })
		})
	}
}

// A command that daemonizes (exits 0, leaving its daemon) used to leak one
// daemon per crash restart. bpm stops the daemon, says so in last_exit and
// an event, and holds the process stopped: a start does the same again and
// leaves nothing behind either.
func TestDaemonizingCommandIsReportedAndLeaksNothing(t *testing.T) {
	t.Parallel()
	exe := testkit.BuildFixture(t, "escaper")
	port := strconv.Itoa(testkit.FreePort(t))
	dir := testkit.NewProject(t, fmt.Sprintf(`
mcp_port = %s
release_crash_backoff_initial_seconds = 0.1

[process.d]
type = "command"
command = [%q, "daemon"]
env = { ESCAPER_EXIT = "1" }

# Never ready: on a loaded machine the leader may take more than the 1 s
# that makes a run without a check ready before it exits; start must still
# report the daemonizing, not a ready run.
[process.d.ready]
log = "never printed"
timeout_seconds = 120
`, port, exe))
	b := startBPM(t, dir)
	bpm := b.cmd.Process.Pid
	first, _ := strconv.Atoi(b.waitOutput(t, `\[d\] daemon pid=(\d+)`, time.Minute)[1])
	testkit.WaitFor(t, 10*time.Second, "the daemonized event", func() bool {
		return strings.Contains(b.stderr.String(), fmt.Sprintf("the command exited 0 leaving pid %d;", first))
	})
	waitDead(t, first, "the first daemon to be stopped")
	cs := connectMCP(t, port)
	st := statusOf(t, cs)["d"]
	if st.State != "stopped" || !st.Held || st.NextRestartAt != nil || st.Crashes != 0 {
		t.Errorf("after daemonizing: state %s, held %v, next restart %v, crashes %d; want stopped, held, none, 0", st.State, st.Held, st.NextRestartAt, st.Crashes)
	}
	if !strings.Contains(st.LastExit, "daemonized") || !strings.Contains(st.LastExit, "without its daemon flag") {
		t.Errorf("last_exit %q does not say it daemonized and what to do", st.LastExit)
	}
	text, isErr := callToolResult(t, cs, "start", map[string]any{"process": "d"})
	if !isErr || !strings.Contains(text, "daemonized") {
		t.Errorf("start of a daemonizing command: error %v, %q; want an error saying it daemonized", isErr, text)
	}
	m := regexp.MustCompile(`\[d\] daemon pid=(\d+)`).FindAllStringSubmatch(b.stdout.String(), -1)
	if len(m) != 2 {
		t.Fatalf("%d daemons started, want 2 (the first run and the start)\n%s", len(m), b.stdout)
	}
	second, _ := strconv.Atoi(m[1][1])
	waitDead(t, second, "the second daemon to be stopped")
	testkit.WaitFor(t, 10*time.Second, "no process with bpm's token", func() bool { return len(tokenHolders(bpm)) == 0 })
	if st := statusOf(t, cs)["d"]; st.State != "stopped" || st.NextRestartAt != nil {
		t.Errorf("after the start: state %s, next restart %v; want stopped and none", st.State, st.NextRestartAt)
	}
}

// statusOf returns get_status's structured result by process.
func statusOf(t *testing.T, cs *sdk.ClientSession) map[string]api.ProcessStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_status", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var out api.StatusOutput
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	m := map[string]api.ProcessStatus{}
	for _, p := range out.Processes {
		m[p.Name] = p
	}
	return m
}

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, what, func() bool { return !testkit.Alive(pid) })
}
