package actors

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
	"bpm/config"
	"bpm/testkit"
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
		GuardArgv: []string{self, osproc.GuardArg}})
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
	testkit.WaitFor(h.t, within, "process "+name+" in state "+state, func() bool {
		last = h.proc(name)
		return last.State == state
	})
	return last
}

// waitEvent waits until name has an event of kind and returns the last
// one. Events stay in the status's history, where a state that passes
// (backoff, crashed) may be over before a loaded machine looks.
func (h *bpmHarness) waitEvent(name, kind string, within time.Duration) Event {
	h.t.Helper()
	var found Event
	testkit.WaitFor(h.t, within, "an event "+kind+" of "+name, func() bool {
		for _, e := range h.proc(name).Events {
			if e.Kind == kind {
				found = e
			}
		}
		return found.Kind != ""
	})
	return found
}

// logHas reports whether the newest run of name has a line matching pattern.
func (h *bpmHarness) logHas(name string, kind LogKind, pattern string) bool {
	r := h.search(name, SearchRequest{Kind: kind, Pattern: pattern, Index: -1})
	return r.Err == nil && r.Matches > 0
}
