package actors

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// lockedBuffer is a bytes.Buffer safe to read from the test while the
// logbuffer actor writes to it.
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

// bpmHarness is a running actor tree on a temp project.
type bpmHarness struct {
	t      testing.TB
	dir    string
	cfg    *config.Config
	system *actor.ActorSystem
	sup    *actor.PID
	stdout *lockedBuffer
	stderr *lockedBuffer
}

// repoPath is a path relative to the repository root.
func repoPath(t testing.TB, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", rel)
}

// copyDir copies the fixture at repo-relative src into dst, skipping build output.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	src = repoPath(t, src)
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if info.IsDir() && (info.Name() == "target" || info.Name() == "node_modules" || info.Name() == ".bpm") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// newProject writes a .mcp-run into a temp dir (fixtures are copied there by
// the caller) and returns the dir.
func newProject(t testing.TB, mcpRun string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(mcpRun), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startHarness loads dir's config and starts the actor tree on it.
func startHarness(t testing.TB, dir string, clock Clock) *bpmHarness {
	t.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h := &bpmHarness{t: t, dir: dir, cfg: cfg, system: NewSystem(), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h.sup, err = Start(h.system, Options{Config: cfg, Clock: clock, Stdout: h.stdout, Stderr: h.stderr,
		GuardArgv: []string{self, GuardArg}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
	return h
}

func (h *bpmHarness) stop() {
	if _, err := Ask[StopReply](h.system.Root, h.sup, StopRequest{}, 60*time.Second); err != nil {
		h.t.Errorf("stop: %v", err)
	}
	h.system.Shutdown()
}

func (h *bpmHarness) status() StatusReply {
	h.t.Helper()
	st, err := Ask[StatusReply](h.system.Root, h.sup, StatusRequest{}, 10*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	if st.Err != nil {
		h.t.Fatal(st.Err)
	}
	return st
}

func (h *bpmHarness) proc(name string) ProcessStatus {
	h.t.Helper()
	for _, p := range h.status().Processes {
		if p.Name == name {
			return p
		}
	}
	h.t.Fatalf("no process %q in status", name)
	return ProcessStatus{}
}

func (h *bpmHarness) search(name string, q SearchRequest) SearchReply {
	h.t.Helper()
	r, err := Ask[SearchReply](h.system.Root, h.sup, LogSearchRequest{Process: name, SearchRequest: q}, 10*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// restart asks for a restart and waits for its reply.
func (h *bpmHarness) restart(name string) RestartReply {
	h.t.Helper()
	r, err := Ask[RestartReply](h.system.Root, h.sup, RestartRequest{Process: name}, 3*time.Minute)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// waitState waits until name is in state and returns its status.
func (h *bpmHarness) waitState(name, state string, within time.Duration) ProcessStatus {
	h.t.Helper()
	var last ProcessStatus
	waitFor(h.t, within, "process "+name+" in state "+state, func() bool {
		last = h.proc(name)
		return last.State == state
	})
	return last
}

// logHas reports whether the newest run of name has a line matching pattern.
func (h *bpmHarness) logHas(name string, kind LogKind, pattern string) bool {
	r := h.search(name, SearchRequest{Kind: kind, Pattern: pattern, Index: -1})
	return r.Err == nil && r.Matches > 0
}

// waitFor polls cond every 20ms until it holds, failing the test after within.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// need skips the test when a tool it runs is missing outside CI; in CI a
// missing tool fails the test, since .ci/run installs them all.
func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI: %v", tool, err)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}
