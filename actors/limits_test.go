package actors

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"bpm/config"
	"bpm/testkit"
)

// limitsProject is a project whose process app runs the goapp binary bin
// with env (KEY=VALUE each), extra process keys and a [limits] table.
func limitsProject(t *testing.T, bin, extra, limits string, env ...string) string {
	t.Helper()
	envTable := make([]string, len(env))
	for i, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envTable[i] = fmt.Sprintf("%s = %q", k, v)
	}
	return testkit.NewProject(t, fmt.Sprintf(`
release_crash_backoff_initial_seconds = 30
release_crash_backoff_max_seconds = 30

[process.app]
type = "command"
command = [%q]
env = { %s }
%s

[process.app.limits]
%s
`, bin, strings.Join(envTable, ", "), extra, limits))
}

// procLimits returns /proc/PID/limits.
func procLimits(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLimitsAppearInProcLimitsOfTheApp(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	for _, listen := range []bool{false, true} {
		t.Run(fmt.Sprintf("listen=%v", listen), func(t *testing.T) {
			extra, port := "", 0
			if listen {
				port = testkit.FreePort(t)
				extra = fmt.Sprintf("listen = \"127.0.0.1:%d\"", port)
			}
			dir := limitsProject(t, bin, extra, "open_files = 64\nmemory_mb = 2048", "FIXTURE_ECHO=limited")
			h := startHarness(t, dir, nil)
			st := h.waitState("app", StateRunning, time.Minute)

			// The launcher execs the app, which keeps the pid bpm reports
			// (a race-enabled launcher, as here, may take a while to start).
			testkit.WaitFor(t, 20*time.Second, "the launcher to exec the app", func() bool {
				exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.PID))
				return exe == bin && h.logHas("app", KindRun, "^goapp started pid="+strconv.Itoa(st.PID)+" ")
			})
			limits := procLimits(t, st.PID)
			for _, want := range []string{`Max open files\s+64\s+64\s`, `Max address space\s+2147483648\s+2147483648\s`} {
				if !regexp.MustCompile(want).MatchString(limits) {
					t.Errorf("/proc/%d/limits lacks %s:\n%s", st.PID, want, limits)
				}
			}
			if !h.logHas("app", KindRun, "^echo=limited$") {
				t.Errorf("the app did not get its env through the launcher:%s", runHead(h))
			}
			if !listen {
				if h.logHas("app", KindRun, "LISTEN_PID") {
					t.Errorf("a run without listen was told of a socket")
				}
				return
			}
			// goapp refuses fd 3 when LISTEN_PID is not its pid, so an
			// answer with its pid shows the launcher still sets it right.
			testkit.WaitFor(t, 10*time.Second, "an answer on the listen socket", func() bool {
				return testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)) == fmt.Sprintf("pid=%d\n", st.PID)
			})
			if !h.logHas("app", KindRun, "LISTEN_PID="+strconv.Itoa(st.PID)+" ") {
				t.Errorf("the app's LISTEN_PID is not its pid %d", st.PID)
			}
		})
	}
}

func TestMemoryLimitEndsRunAndLastExitSaysWhy(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	// 1024 MiB of address space lets a Go program start (it reserves about
	// 800 MiB) but not take 2048 MiB more: the Go runtime ends it (out of
	// memory, or a thread's stack that cannot be mapped) with exit code 2.
	dir := limitsProject(t, bin, "", "memory_mb = 1024", "FIXTURE_ALLOC_MB=2048")
	h := startHarness(t, dir, nil)
	var st ProcessStatus
	testkit.WaitFor(t, time.Minute, "the run to crash", func() bool {
		st = h.proc("app")
		return st.Crashes > 0
	})
	const why = "memory_mb 1024 is set as RLIMIT_AS (address space)"
	if !strings.Contains(st.LastExit, "exit code 2") || !strings.Contains(st.LastExit, why) {
		t.Errorf("last_exit = %q, want exit code 2 and %q", st.LastExit, why)
	}
	crashed := ""
	for _, e := range st.Events {
		if e.Kind == "crashed" {
			crashed = e.Message
		}
	}
	if !strings.Contains(crashed, why) {
		t.Errorf("crashed event = %q, want it to say %q; events %v", crashed, why, eventKinds(st))
	}
	if r := h.search("app", SearchRequest{Kind: KindRun, Pattern: "out of memory|cannot allocate|pthread_create failed|failed to reserve|^allocated", Index: -1}); r.Err != nil || r.Matches == 0 || strings.Contains(fmt.Sprint(r.Lines), "allocated 2048") {
		t.Errorf("the run's log should show the Go runtime out of memory, not the allocation done: %+v%s", r, runHead(h))
	}
}

func TestNoMemoryNoteForARunBPMStops(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	// An allocation well within the limit, and a run bpm stops: no note.
	dir := limitsProject(t, bin, "stop_timeout_seconds = 3", "memory_mb = 4096", "FIXTURE_ALLOC_MB=32")
	h := startHarness(t, dir, nil)
	st := h.waitState("app", StateRunning, time.Minute)
	testkit.WaitFor(t, 10*time.Second, "the allocation", func() bool { return h.logHas("app", KindRun, "^allocated 32 MiB$") })
	if _, err := Ask[StopReply](h.system.Root, h.sup, StopRequest{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	st = h.proc("app")
	if !strings.Contains(st.LastExit, "exit code 0") || strings.Contains(st.LastExit, "memory_mb") {
		t.Errorf("last_exit of a run bpm stopped = %q, want exit code 0 and no memory_mb note", st.LastExit)
	}
}

func TestCPUPercentWithoutCgroupsDoesNotStart(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	// bpm refuses this config at start on such a host (osproc.Prepare);
	// the process actor keeps the promise for callers that skip that.
	dir := limitsProject(t, bin, "", "cpu_percent = 50")
	h := startHarness(t, dir, nil)
	var st ProcessStatus
	testkit.WaitFor(t, 30*time.Second, "a failed start", func() bool {
		st = h.proc("app")
		return strings.Contains(st.LastExit, "cpu_percent 50 needs a cgroup v2")
	})
	if st.PID != 0 {
		t.Errorf("pid %d runs without its cpu limit", st.PID)
	}
}

// runHead is the first lines of app's newest run, for failure messages.
func runHead(h *bpmHarness) string {
	r := h.search("app", SearchRequest{Kind: KindRun, Head: 8, Index: -1})
	var b strings.Builder
	for _, l := range r.Lines {
		fmt.Fprintf(&b, "\n  %s", l.Text)
	}
	return b.String()
}

func TestReloadAppliesOpenFilesAndRefusesCPUPercentItCannotApply(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	dir := limitsProject(t, bin, "", "memory_mb = 4096")
	h := startHarness(t, dir, nil)
	first := h.waitState("app", StateRunning, time.Minute)
	reload := func(limits string) ReloadReply {
		t.Helper()
		mcpRun, err := os.ReadFile(filepath.Join(dir, config.FileName))
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(string(mcpRun), "[process.app.limits]")
		testkit.WriteFile(t, filepath.Join(dir, config.FileName), head+"[process.app.limits]\n"+limits+"\n")
		r, err := Ask[ReloadReply](h.system.Root, h.sup, ReloadRequest{}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// bpm made no cgroup at start here: a cpu_percent now is refused at its
	// key, and nothing changes.
	r := reload("memory_mb = 4096\ncpu_percent = 50")
	mcpRun, _ := os.ReadFile(filepath.Join(dir, config.FileName))
	line := strings.Count(string(mcpRun[:strings.Index(string(mcpRun), "cpu_percent")]), "\n") + 1
	if want := fmt.Sprintf("%s:%d: process.app.limits.cpu_percent: ", filepath.Join(dir, config.FileName), line); r.Err == nil || !strings.HasPrefix(r.Err.Error(), want) {
		t.Fatalf("reload with cpu_percent = %+v, want an error beginning %q", r, want)
	}
	if st := h.proc("app"); st.PID != first.PID || st.State != StateRunning {
		t.Fatalf("a refused reload touched the run: pid %d state %s, was %d", st.PID, st.State, first.PID)
	}

	// open_files is a change like any other: the new run has it.
	if r := reload("memory_mb = 4096\nopen_files = 64"); r.Err != nil || len(r.Changed) != 1 {
		t.Fatalf("reload with open_files = %+v, want app changed", r)
	}
	var st ProcessStatus
	testkit.WaitFor(t, time.Minute, "a new run with open_files 64", func() bool {
		st = h.proc("app")
		if st.PID == first.PID || st.State != StateRunning {
			return false
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", st.PID))
		return regexp.MustCompile(`Max open files\s+64\s+64\s`).Match(b)
	})
}
