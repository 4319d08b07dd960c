package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// bpmBin is the bpm binary built once for these tests.
var bpmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bpm-bin")
	if err != nil {
		panic(err)
	}
	bpmBin = filepath.Join(dir, "bpm")
	if out, err := exec.Command("go", "build", "-race", "-o", bpmBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building bpm: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bpmProcess is a bpm binary running in the foreground on a project.
type bpmProcess struct {
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan error
}

func startBPM(t *testing.T, args ...string) *bpmProcess {
	t.Helper()
	return startCmd(t, exec.Command(bpmBin, args...))
}

// startCmd starts cmd (bpm, or a command that execs it) with its output
// collected, and kills it at the end of the test if it still runs.
func startCmd(t *testing.T, cmd *exec.Cmd) *bpmProcess {
	t.Helper()
	b := &bpmProcess{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	b.cmd.Stdout, b.cmd.Stderr = b.stdout, b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	t.Cleanup(func() {
		if b.cmd.ProcessState == nil {
			b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// wait waits for bpm to exit and returns its exit code.
func (b *bpmProcess) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case err := <-b.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return b.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("bpm did not exit within %s\nstdout:\n%s\nstderr:\n%s", within, b.stdout, b.stderr)
		return -1
	}
}

// waitOutput waits until stdout matches re and returns the submatches.
func (b *bpmProcess) waitOutput(t *testing.T, re string, within time.Duration) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for {
		if m := rx.FindStringSubmatch(b.stdout.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in bpm's output within %s\nstdout:\n%s\nstderr:\n%s", re, within, b.stdout, b.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupMembers lists the pids whose process group is pgid.
func groupMembers(pgid int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid && testkit.Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// startFamily runs bpm on a project whose processes fork: the Go fixture
// starts a grandchild, and a shell starts two sleeps. It returns bpm and
// every pid of the project (leaders and descendants) once all are up.
func startFamily(t *testing.T) (*bpmProcess, []int) {
	t.Helper()
	dir := t.TempDir()
	testkit.CopyDir(t, "testdata/goapp", filepath.Join(dir, "goapp"))
	mcpRun := `
[process.app]
type = "go"
dir = "goapp"
env = { FIXTURE_SPAWN_CHILD = "1" }

[process.shell]
type = "command"
command = ["sh", "-c", "sleep 1000 & sleep 1000 & echo forked; wait"]
`
	if err := os.WriteFile(filepath.Join(dir, ".mcp-run"), []byte(mcpRun), 0o644); err != nil {
		t.Fatal(err)
	}
	b := startBPM(t, "--port", strconv.Itoa(testkit.FreePort(t)), dir)
	app, _ := strconv.Atoi(b.waitOutput(t, `\[app\] goapp started pid=(\d+)`, 2*time.Minute)[1])
	child, _ := strconv.Atoi(b.waitOutput(t, `\[app\] child pid=(\d+)`, 10*time.Second)[1])
	b.waitOutput(t, `\[shell\] forked`, 10*time.Second)
	var shell int
	testkit.WaitFor(t, 10*time.Second, "the shell's start event", func() bool {
		m := regexp.MustCompile(`shell: started: pid (\d+)`).FindStringSubmatch(b.stderr.String())
		if m != nil {
			shell, _ = strconv.Atoi(m[1])
		}
		return m != nil
	})
	all := append(groupMembers(app), groupMembers(shell)...)
	if len(all) < 5 || !testkit.Alive(child) || !slices.Contains(all, child) {
		t.Fatalf("expected app, its child, sh and two sleeps; found %v (child %d)", all, child)
	}
	return b, all
}

func TestSIGTERMStopsEveryProcessAndExitsZero(t *testing.T) {
	t.Parallel()
	b, all := startFamily(t)
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\nstderr:\n%s", code, b.stderr)
	}
	for _, pid := range all {
		if testkit.Alive(pid) {
			t.Errorf("pid %d outlived bpm", pid)
		}
	}
	if !strings.Contains(b.stdout.String(), "[app] goapp SIGTERM: shutting down") {
		t.Errorf("the go app was not stopped with SIGTERM:\n%s", b.stdout)
	}
}

func TestCheckPrintsThePlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mcpRun := "[process.web]\ntype = \"command\"\nbuild = [\"make\", \"web\"]\ncommand = [\"./web\", \"--port\", \"8080\"]\n"
	os.WriteFile(filepath.Join(dir, ".mcp-run"), []byte(mcpRun), 0o644)
	out, err := exec.Command(bpmBin, "check", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("bpm check: %v\n%s", err, out)
	}
	for _, want := range []string{"web", "make web", "./web --port 8080"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestBadConfigExitsTwoNamingFileLineAndKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mcpRun := "mcp_port = 3001\n\n[process.web]\ntype = \"command\"\ncommand = [\"x\"]\ncolour = \"red\"\n"
	os.WriteFile(filepath.Join(dir, ".mcp-run"), []byte(mcpRun), 0o644)
	for _, args := range [][]string{{"check", dir}, {"--port", strconv.Itoa(testkit.FreePort(t)), dir}} {
		cmd := exec.Command(bpmBin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("bpm %v: %v, want exit 2", args, err)
		}
		want := filepath.Join(dir, ".mcp-run") + ":6"
		if msg := stderr.String(); !strings.Contains(msg, want) || !strings.Contains(msg, "colour") {
			t.Errorf("bpm %v: message %q lacks %q and the key colour", args, msg, want)
		}
	}
}

func TestBadUsageExitsTwo(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--nope"}, {"a", "b"}, {"--port", "70000", "."}} {
		cmd := exec.Command(bpmBin, args...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("bpm %v: %v, want exit 2", args, err)
		}
	}
}

// The socket hand-off through the real binary: bpm re-execs itself between
// direnv and the app, so the app gets fd 3 with LISTEN_PID equal to its pid.
func TestListenSocketReachesAppThroughDirenvWithItsPid(t *testing.T) {
	if _, err := exec.LookPath("direnv"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("direnv is required in CI")
		}
		t.Skip("direnv not installed")
	}
	home := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	dir := t.TempDir()
	testkit.CopyDir(t, "testdata/goapp", filepath.Join(dir, "goapp"))
	port := strconv.Itoa(testkit.FreePort(t))
	mcpRun := fmt.Sprintf("[process.app]\ntype = \"go\"\ndir = \"goapp\"\nlisten = \"127.0.0.1:%s\"\n", port)
	os.WriteFile(filepath.Join(dir, ".mcp-run"), []byte(mcpRun), 0o644)
	os.WriteFile(filepath.Join(dir, ".envrc"), []byte("export FIXTURE_ECHO=via-envrc\n"), 0o644)
	if out, err := exec.Command("direnv", "allow", dir).CombinedOutput(); err != nil {
		t.Fatalf("direnv allow: %v\n%s", err, out)
	}
	b := startBPM(t, "--port", strconv.Itoa(testkit.FreePort(t)), dir)
	m := b.waitOutput(t, `\[app\] goapp started pid=(\d+)`, 2*time.Minute)
	b.waitOutput(t, `\[app\] echo=via-envrc`, 10*time.Second)
	b.waitOutput(t, `\[app\] goapp inherited fd 3 LISTEN_PID=`+m[1]+` LISTEN_FDNAMES=app\n`, 10*time.Second)
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "pid="+m[1]+"\n" {
		t.Errorf("the socket answered %q, want pid=%s", body, m[1])
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	if code := b.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func TestExamplesAreValidProjects(t *testing.T) {
	t.Parallel()
	dirs, _ := filepath.Glob("examples/*/.mcp-run")
	if len(dirs) < 2 {
		t.Fatalf("found %d example projects", len(dirs))
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		if out, err := exec.Command(bpmBin, "check", dir).CombinedOutput(); err != nil {
			t.Errorf("bpm check %s: %v\n%s", dir, err, out)
		}
	}
}

func TestMCPPortInUseExitsOneNamingThePort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".mcp-run"), []byte("[process.a]\ntype = \"command\"\ncommand = [\"sleep\", \"100\"]\n"), 0o644)
	b := startBPM(t, "--port", port, dir)
	if code := b.wait(t, 20*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if msg := b.stderr.String(); !strings.Contains(msg, "port "+port+" is already in use") {
		t.Errorf("message does not name the port %s: %q", port, msg)
	}
}

func TestEnvrcWithoutDirenvExitsTwoSayingHowToInstall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".mcp-run"), []byte("[process.a]\ntype = \"command\"\ncommand = [\"true\"]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".envrc"), []byte("export A=1\n"), 0o644)
	cmd := exec.Command(bpmBin, "check", dir)
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir()) // no direnv on it
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("bpm check with .envrc and no direnv: %v, want exit 2\n%s", err, out)
	}
	if !strings.Contains(string(out), "direnv is not installed") || !strings.Contains(string(out), "apt-get install direnv") {
		t.Errorf("message does not say how to install direnv: %s", out)
	}
}

// SIGKILL leaves bpm no chance to stop anything: Pdeathsig takes each run's
// leader down, and the guard process kills what the leaders forked.
func TestNoProcessOutlivesBPMKilledWithSIGKILL(t *testing.T) {
	t.Parallel()
	b, all := startFamily(t)
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.wait(t, 10*time.Second)
	testkit.WaitFor(t, 10*time.Second, "every descendant to die", func() bool {
		for _, pid := range all {
			if testkit.Alive(pid) {
				return false
			}
		}
		return true
	})
}

// bpm's output going nowhere (a closed pipe, a terminal gone) must not take
// bpm and its processes down.
func TestClosedStdoutDoesNotKillBPM(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, "[process.talker]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"while :; do echo chatter; sleep 0.01; done\"]\n")
	port := strconv.Itoa(testkit.FreePort(t))
	cmd := exec.Command(bpmBin, "--port", port, dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "[talker] chatter") {
		t.Fatalf("first line %q, %v", line, err)
	}
	stdout.Close() // bpm's next writes hit a closed pipe
	testkit.WaitFor(t, 10*time.Second, "bpm to hit the closed pipe", func() bool {
		return strings.Contains(stderr.String(), "talker: started") // it keeps logging to stderr
	})
	select {
	case err := <-done:
		t.Fatalf("bpm exited after its stdout closed: %v\n%s", err, stderr)
	case <-time.After(time.Second):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("bpm did not stop")
	}
}

// The Go fixture drains with the same code the example shows users, so the
// recipe in docs/zero-downtime.md is the one the hand-off tests exercise.
func TestGoFixtureDrainsWithTheExamplesCode(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("examples/hello/drain.go")
	if err != nil {
		t.Fatal(err)
	}
	fixture, err := os.ReadFile("testdata/goapp/drain.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(example, fixture) {
		t.Error("examples/hello/drain.go and testdata/goapp/drain.go differ; keep them the same file")
	}
}

// The MCP endpoint answers while the first builds still run.
func TestMCPIsUpBeforeTheFirstBuildEnds(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, "[process.slow]\ntype = \"command\"\nbuild = [\"sleep\", \"30\"]\ncommand = [\"sleep\", \"1000\"]\n")
	port := strconv.Itoa(testkit.FreePort(t))
	started := time.Now()
	b := startBPM(t, "--port", port, dir)
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`
	var body string
	testkit.WaitFor(t, 10*time.Second, "the MCP endpoint", func() bool {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/mcp", strings.NewReader(initialize))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		body = string(data)
		return resp.StatusCode == http.StatusOK
	})
	t.Logf("MCP answered %v after start", time.Since(started))
	if !strings.Contains(body, `"serverInfo":{"name":"bpm"`) {
		t.Errorf("initialize answered %q", body)
	}
	if strings.Contains(b.stderr.String(), "slow: build_ok") || strings.Contains(b.stderr.String(), "slow: build_failed") {
		t.Errorf("the first build ended before MCP answered:\n%s", b.stderr)
	}
	testkit.WaitFor(t, 10*time.Second, "the build to be under way", func() bool {
		return strings.Contains(b.stderr.String(), "slow: build_started")
	})
}

// A process that ignores its stop signal holds a clean shutdown up to its
// stop timeout; a second SIGINT kills everything at once.
func TestSecondSIGINTKillsAtOnce(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.stubborn]
type = "command"
command = ["sh", "-c", "trap '' TERM; echo ignoring; while :; do sleep 0.1; done"]
stop_timeout_seconds = 60
`)
	b := startBPM(t, "--port", strconv.Itoa(testkit.FreePort(t)), dir)
	b.waitOutput(t, `\[stubborn\] ignoring`, 20*time.Second)
	var pid int
	testkit.WaitFor(t, 10*time.Second, "the start event", func() bool {
		m := regexp.MustCompile(`stubborn: started: pid (\d+)`).FindStringSubmatch(b.stderr.String())
		if m != nil {
			pid, _ = strconv.Atoi(m[1])
		}
		return m != nil
	})
	b.cmd.Process.Signal(syscall.SIGINT)
	testkit.WaitFor(t, 10*time.Second, "the stop to begin", func() bool {
		return strings.Contains(b.stderr.String(), "stubborn: stopping")
	})
	if !testkit.Alive(pid) {
		t.Fatal("the stubborn process died of its stop signal; the test needs one that ignores it")
	}
	b.cmd.Process.Signal(syscall.SIGINT)
	if code := b.wait(t, 10*time.Second); code != 130 {
		t.Errorf("exit code %d after a second SIGINT, want 130", code)
	}
	testkit.WaitFor(t, 10*time.Second, "the process to be killed", func() bool { return !testkit.Alive(pid) })
}
