package actors

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"bpm/config"
	"bpm/testkit"
)

// stuckWriter blocks every Write until released, like a terminal paused
// with Ctrl-S or a pipe nobody reads.
type stuckWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *stuckWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestPassthroughNeverBlocksAndCountsWhatItDrops(t *testing.T) {
	t.Parallel()
	w := &stuckWriter{release: make(chan struct{})}
	p := newPassthrough(w)
	start := time.Now()
	total := passthroughQueue + 500
	for i := range total {
		p.Write([]byte(fmt.Sprintf("line %d\n", i)))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("%d writes to a stuck output took %v", total, took)
	}
	close(w.release)
	p.flush(10 * time.Second) // the queue drains
	p.Write([]byte("after\n"))
	p.flush(10 * time.Second)
	out := w.String()
	// The goroutine may have taken one line off the queue before it blocked.
	if n := strings.Count(out, "\nline "); n < passthroughQueue-1 {
		t.Errorf("%d lines written, want the %d queued", n, passthroughQueue)
	}
	if !strings.Contains(out, "lines were not passed through") || !strings.HasSuffix(out, "after\n") {
		t.Errorf("no drop note before the next line; output ends %q", out[max(0, len(out)-200):])
	}
}

// With bpm's stdout stuck, output is still stored and searchable: the
// process is not blocked on its pipe and searches are answered.
func TestStuckStdoutBlocksNeitherTheAppNorSearches(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.chatty]
type = "command"
command = ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done; echo all written; exec sleep 1000"]
`)
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	stuck := &stuckWriter{release: make(chan struct{})}
	h := &bpmHarness{t: t, dir: dir, cfg: cfg, system: NewSystem(), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	h.sup, err = Start(h.system, Options{Config: cfg, Stdout: stuck, Stderr: h.stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(stuck.release)
		h.stop()
	})
	testkit.WaitFor(t, 30*time.Second, "the last line in the ring", func() bool {
		return h.logHas("chatty", KindRun, "^all written$")
	})
}
