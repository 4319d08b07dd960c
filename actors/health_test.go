package actors

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bpm/config"
	"bpm/testkit"
)

// healthCase is one kind of liveness probe: the process and probe config,
// how to make the probe fail and pass again, and how many probes have
// passed so far (so a test waits for probes, not for time).
type healthCase struct {
	name    string
	config  string // [process.app] keys and the [process.app.health] probe line
	fail    func()
	recover func()
	passes  func() int
	wantErr string // in the health_failed event and last_exit
}

// healthProject writes a project whose process app has the probe of c,
// every 0.1 s, 2 failures in a row, and a 0.5 s release backoff.
func healthProject(t *testing.T, config string) string {
	t.Helper()
	return testkit.NewProject(t, `
release_crash_backoff_initial_seconds = 0.5
release_crash_backoff_max_seconds = 0.5
`+config+`
interval_seconds = 0.1
timeout_seconds = 1
failures = 2
`)
}

func httpHealthCase(t *testing.T, bin string) (healthCase, string) {
	port := testkit.FreePort(t)
	c := healthCase{
		name: "http",
		config: fmt.Sprintf(`
[process.app]
type = "command"
command = [%q]
env = { FIXTURE_LISTEN = "127.0.0.1:%d", FIXTURE_HEALTH_FILE = "health" }

[process.app.ready]
http = "http://127.0.0.1:%[2]d/"

[process.app.health]
http = "http://127.0.0.1:%[2]d/health"`, bin, port),
		wantErr: fmt.Sprintf("GET http://127.0.0.1:%d/health: 500 Internal Server Error", port),
	}
	dir := healthProject(t, c.config)
	file := filepath.Join(dir, "health")
	c.fail = func() { testkit.WriteFile(t, file, "fail") }
	c.recover = func() { os.Remove(file) }
	return c, dir
}

func tcpHealthCase(t *testing.T) (healthCase, string) {
	port := testkit.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := healthCase{
		name: "tcp",
		config: fmt.Sprintf(`
[process.app]
type = "command"
command = ["sleep", "1000"]

[process.app.health]
tcp = %q`, addr),
		wantErr: "tcp " + addr + ": connect: connection refused",
	}
	var accepted atomic.Int64
	var ln net.Listener
	listen := func() {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			t.Fatal(err)
		}
		go func(ln net.Listener) {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				conn.Close()
			}
		}(ln)
	}
	listen()
	t.Cleanup(func() { ln.Close() })
	c.fail = func() { ln.Close() }
	c.recover = listen
	c.passes = func() int { return int(accepted.Load()) }
	return c, healthProject(t, c.config)
}

func execHealthCase(t *testing.T) (healthCase, string) {
	c := healthCase{
		name: "exec",
		config: `
[process.app]
type = "command"
command = ["sleep", "1000"]
env = { MARK = "probe-env" }

[process.app.health]
exec = ["sh", "-c", "echo $MARK >> probes.log; test ! -e fail"]`,
		wantErr: `exec sh -c "echo $MARK >> probes.log; test ! -e fail": exit code 1`,
	}
	dir := healthProject(t, c.config)
	log := filepath.Join(dir, "probes.log")
	c.fail = func() { testkit.WriteFile(t, filepath.Join(dir, "fail"), "") }
	c.recover = func() { os.Remove(filepath.Join(dir, "fail")) }
	c.passes = func() int {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "probe-env\n")
	}
	return c, dir
}

// eventMessage is the message of st's last event of kind, or "".
func eventMessage(st ProcessStatus, kind string) string {
	msg := ""
	for _, e := range st.Events {
		if e.Kind == kind {
			msg = e.Message
		}
	}
	return msg
}

func TestHealthFailureRestartsAndRecoveryStaysUp(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	for _, mk := range []func(t *testing.T) (healthCase, string){
		func(t *testing.T) (healthCase, string) { return httpHealthCase(t, bin) },
		tcpHealthCase,
		execHealthCase,
	} {
		c, dir := mk(t)
		t.Run(c.name, func(t *testing.T) {
			h := startHarness(t, dir, nil)
			if c.passes == nil {
				c.passes = func() int {
					return h.search("app", SearchRequest{Kind: KindRun, Pattern: `^health 200$`, Index: -1}).Matches
				}
			}
			checkHealthCycle(t, h, c)
		})
	}
}

// checkHealthCycle: probes pass on the first run; failing ones end it as a
// crash and the mode's crash policy starts a new run; once they pass again
// the new run stays up while probes go on.
func checkHealthCycle(t *testing.T, h *bpmHarness, c healthCase) {
	first := h.waitState("app", StateRunning, 30*time.Second)
	testkit.WaitFor(t, 10*time.Second, "3 passing probes", func() bool { return c.passes() >= 3 })
	if st := h.proc("app"); st.PID != first.PID || st.Crashes != 0 {
		t.Fatalf("passing probes disturbed the run: pid %d → %d, crashes %d", first.PID, st.PID, st.Crashes)
	}

	c.fail()
	var st ProcessStatus
	testkit.WaitFor(t, 10*time.Second, "event health_failed", func() bool {
		st = h.proc("app")
		return eventMessage(st, "health_failed") != ""
	})
	c.recover()
	want := fmt.Sprintf("pid %d: 2 probes failed in a row: %s", first.PID, c.wantErr)
	if got := eventMessage(st, "health_failed"); got != want {
		t.Errorf("health_failed = %q, want %q", got, want)
	}

	var second ProcessStatus
	testkit.WaitFor(t, 20*time.Second, "a new running run", func() bool {
		second = h.proc("app")
		return second.State == StateRunning && second.PID != first.PID
	})
	if second.Crashes != 1 || second.Restarts != 1 {
		t.Errorf("crashes %d, restarts %d; want 1 and 1", second.Crashes, second.Restarts)
	}
	if !strings.Contains(second.LastExit, "health check failed") || !strings.Contains(second.LastExit, c.wantErr) {
		t.Errorf("last_exit %q does not name the health failure %q", second.LastExit, c.wantErr)
	}
	if kinds := eventKinds(second); !hasInOrder(kinds, "health_failed", "stopping", "crashed", "restart_scheduled", "started", "ready") {
		t.Errorf("events %v, want health_failed, stopping, crashed, restart_scheduled, started, ready", kinds)
	}
	if testkit.Alive(first.PID) {
		t.Errorf("unhealthy run %d still alive", first.PID)
	}

	n := c.passes()
	testkit.WaitFor(t, 10*time.Second, "10 more passing probes", func() bool { return c.passes() >= n+10 })
	if st := h.proc("app"); st.State != StateRunning || st.PID != second.PID || st.Crashes != 1 || st.Restarts != 1 {
		t.Errorf("after recovery: state %s pid %d (want %d) crashes %d restarts %d; want it to stay up",
			st.State, st.PID, second.PID, st.Crashes, st.Restarts)
	}
}

func TestHealthProbeThatHangsIsCutAtTimeout(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	port := testkit.FreePort(t)
	tests := []struct {
		name, config, trigger, wantErr string
	}{
		{"http", fmt.Sprintf(`command = [%q]
env = { FIXTURE_LISTEN = "127.0.0.1:%d", FIXTURE_HEALTH_FILE = "hang" }

[process.app.ready]
http = "http://127.0.0.1:%[2]d/"

[process.app.health]
http = "http://127.0.0.1:%[2]d/health"`, bin, port),
			"hang", fmt.Sprintf("GET http://127.0.0.1:%d/health: no answer within 300ms", port)},
		// The probe's own child must go with it: its group is killed.
		{"exec", `command = ["sleep", "1000"]

[process.app.health]
exec = ["sh", "-c", "test -e hang || exit 0; sleep 600 & echo $! > sleep.pid; wait"]`,
			"hang", `exec sh -c "test -e hang || exit 0; sleep 600 & echo $! > sleep.pid; wait": no exit within 300ms, killed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testkit.NewProject(t, `
release_crash_backoff_initial_seconds = 60

[process.app]
type = "command"
`+tt.config+`
interval_seconds = 0.1
timeout_seconds = 0.3
failures = 1
`)
			h := startHarness(t, dir, nil)
			first := h.waitState("app", StateRunning, 30*time.Second)
			testkit.WriteFile(t, filepath.Join(dir, tt.trigger), "hang")
			hung := time.Now()
			st := h.waitState("app", StateBackoff, 10*time.Second)
			if took := time.Since(hung); took > 3*time.Second {
				t.Errorf("the hung probe took %v to fail; its timeout is 300ms", took)
			}
			want := fmt.Sprintf("pid %d: probe failed: %s", first.PID, tt.wantErr)
			if got := eventMessage(st, "health_failed"); got != want {
				t.Errorf("health_failed = %q, want %q", got, want)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "sleep.pid")); err == nil {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				testkit.WaitFor(t, 5*time.Second, "the hung probe's child killed", func() bool { return !testkit.Alive(pid) })
			} else if tt.name == "exec" {
				t.Errorf("the exec probe never started its child: %v", err)
			}
		})
	}
}

func TestHealthProbesStartAfterReadyOnEveryRun(t *testing.T) {
	t.Parallel()
	port := testkit.FreePort(t)
	dir := testkit.NewProject(t, fmt.Sprintf(`
release_crash_backoff_initial_seconds = 0.1
release_crash_backoff_max_seconds = 0.1

[process.app]
type = "command"
command = ["sh", "-c", "sleep 1; echo up; exec sleep 1000"]

[process.app.ready]
log = "^up$"

[process.app.health]
tcp = "127.0.0.1:%d"
interval_seconds = 0.05
failures = 1
`, port))
	h := startHarness(t, dir, nil)
	var st ProcessStatus
	testkit.WaitFor(t, 20*time.Second, "three runs failing their probes", func() bool {
		st = h.proc("app")
		return st.Crashes >= 3
	})
	// Each run: started, ready a second later, and only then health_failed.
	var runs int
	var startedAt, readyAt time.Time
	for _, e := range st.Events {
		switch e.Kind {
		case "started":
			startedAt, readyAt = e.Time, time.Time{}
		case "ready":
			readyAt = e.Time
			if d := readyAt.Sub(startedAt); d < 900*time.Millisecond {
				t.Errorf("ready %v after start, before the run printed up", d)
			}
		case "health_failed":
			if readyAt.IsZero() {
				t.Errorf("health_failed before the run was ready: %v", eventKinds(st))
			}
			runs++
		}
	}
	if runs < 3 {
		t.Errorf("%d runs failed their probes, want every run probed: %v", runs, eventKinds(st))
	}
}

func TestHealthSharesPortWithListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		hc     config.Health
		listen string
		want   bool
	}{
		{"http same port", config.Health{HTTP: "http://127.0.0.1:8080/health"}, "127.0.0.1:8080", true},
		{"http wildcard listen", config.Health{HTTP: "http://localhost:8080/health"}, ":8080", true},
		{"http default port", config.Health{HTTP: "http://127.0.0.1/health"}, "0.0.0.0:80", true},
		{"https default port", config.Health{HTTP: "https://127.0.0.1/health"}, "127.0.0.1:443", true},
		{"http admin port", config.Health{HTTP: "http://127.0.0.1:9090/health"}, "127.0.0.1:8080", false},
		{"tcp same port", config.Health{TCP: "127.0.0.1:8080"}, "127.0.0.1:8080", true},
		{"tcp other port", config.Health{TCP: "127.0.0.1:5432"}, "127.0.0.1:8080", false},
		{"exec", config.Health{Exec: []string{"true"}}, "127.0.0.1:8080", false},
		{"no listen", config.Health{TCP: "127.0.0.1:8080"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sharesPort(&tt.hc, tt.listen); got != tt.want {
				t.Errorf("sharesPort(%+v, %q) = %v, want %v", tt.hc, tt.listen, got, tt.want)
			}
		})
	}
}
