package actors

import (
	"bytes"
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

// A build that leaves a child in the background (a Makefile's `&`, a
// compiler daemon) is over when its leader exits: the child is killed and
// the process starts, instead of the build waiting for the pipes the child
// holds open, for ever.
func TestBuildThatBackgroundsAChildCompletesAndTheChildIsKilled(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
build = ["sh", "-c", "sleep 600 & echo daemon=$!; echo built"]
command = ["sleep", "1000"]
`)
	h := startHarness(t, dir, nil)
	h.waitState("app", StateRunning, 20*time.Second)
	r := h.search("app", SearchRequest{Kind: KindBuild, Pattern: `^daemon=\d+$`, Index: -1})
	if r.Err != nil || len(r.Lines) != 1 {
		t.Fatalf("the build's daemon line: %+v", r)
	}
	pid, _ := strconv.Atoi(strings.TrimPrefix(r.Lines[0].Text, "daemon="))
	testkit.WaitFor(t, 5*time.Second, "the build's background child to be killed", func() bool { return !testkit.Alive(pid) })
	if rr := h.restart("app"); rr.Err != nil {
		t.Fatalf("a restart with the same build: %v", rr.Err)
	}
}

// A failed first build (say the network is not up yet at boot) is retried
// on the release backoff until it succeeds, without anyone calling restart.
func TestFailedFirstBuildIsRetriedOnTheReleaseBackoff(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
release_crash_backoff_initial_seconds = 0.2
release_crash_backoff_max_seconds = 0.5

[process.app]
type = "command"
build = ["sh", "-c", "test -e fixed || { echo 'error: network unreachable' >&2; exit 1; }"]
command = ["sleep", "1000"]
`)
	h := startHarness(t, dir, nil)
	h.waitState("app", StateBuildFailed, 20*time.Second)
	testkit.WaitFor(t, 10*time.Second, "a second failed build", func() bool {
		return h.search("app", SearchRequest{Kind: KindBuild, Index: -1}).Runs >= 2
	})
	if err := os.WriteFile(filepath.Join(dir, "fixed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st := h.waitState("app", StateRunning, 20*time.Second)
	if !hasEvent(st, "build_retry_scheduled", "release mode") {
		t.Errorf("no build_retry_scheduled event: %+v", st.Events)
	}
}

// The switch back to release mode rebuilds what runs a dev build, and leaves
// a process that never left its release build alone.
func TestReleaseSwitchRebuildsOnlyProcessesRunningADevBuild(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
dev_timeout_hours = 0.0005

[process.worked]
type = "command"
build = ["echo", "built"]
command = ["sleep", "1000"]

[process.untouched]
type = "command"
build = ["echo", "built"]
command = ["sleep", "1000"]
`)
	h := startHarness(t, dir, nil)
	h.waitState("worked", StateRunning, 20*time.Second)
	before := h.waitState("untouched", StateRunning, 20*time.Second)
	if r := h.restart("worked"); r.Err != nil || r.Mode != config.Dev {
		t.Fatalf("restart: %+v", r)
	}
	testkit.WaitFor(t, 30*time.Second, "release mode with worked on a release build", func() bool {
		st := h.status()
		w := h.proc("worked")
		return st.Mode == config.Release && w.Mode == config.Release && w.State == StateRunning &&
			h.search("worked", SearchRequest{Kind: KindBuild, Index: -1}).Runs == 3
	})
	after := h.proc("untouched")
	if builds := h.search("untouched", SearchRequest{Kind: KindBuild, Index: -1}).Runs; builds != 1 || after.PID != before.PID {
		t.Errorf("untouched: %d builds and pid %d→%d, want its one release build and the same run", builds, before.PID, after.PID)
	}
}

// A clean shutdown waits as long as the slowest stop may take: a stop
// timeout of minutes must not be cut short by a fixed bound.
func TestShutdownTimeoutCoversTheLongestStopTimeout(t *testing.T) {
	t.Parallel()
	for _, stop := range []float64{5, 150, 600} {
		dir := testkit.NewProject(t, "[process.a]\ntype = \"command\"\ncommand = [\"true\"]\n\n"+
			"[process.b]\ntype = \"command\"\ncommand = [\"true\"]\nstop_timeout_seconds = "+strconv.FormatFloat(stop, 'f', -1, 64)+"\n")
		cfg, err := config.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Duration(stop*float64(time.Second)) + stopMargin
		if got := ShutdownTimeout(cfg); got < want {
			t.Errorf("stop timeout %vs: shutdown bound %v, want at least %v", stop, got, want)
		}
	}
}

// Dependants stop before their dependencies, so a chain's stop timeouts add up.
func TestShutdownTimeoutCoversTheLongestDependencyChain(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, "[process.db]\ntype = \"command\"\ncommand = [\"true\"]\nstop_timeout_seconds = 100\n\n"+
		"[process.api]\ntype = \"command\"\ncommand = [\"true\"]\ndepends_on = [\"db\"]\nstop_timeout_seconds = 200\n\n"+
		"[process.web]\ntype = \"command\"\ncommand = [\"true\"]\ndepends_on = [\"api\"]\nstop_timeout_seconds = 50\n\n"+
		"[process.solo]\ntype = \"command\"\ncommand = [\"true\"]\nstop_timeout_seconds = 300\n")
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := 350*time.Second + stopMargin // web, then api, then db
	if got := ShutdownTimeout(cfg); got < want || got > want+2*time.Minute {
		t.Errorf("shutdown bound %v, want about %v", got, want)
	}
}

// A ring is bounded in bytes as well as lines: long lines cannot make a run's
// history cost hundreds of megabytes.
func TestRingsAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	const logBytes = 1 << 20
	b := NewLogBuffer("web", 10000, 2, nil, nil)
	b.bytes = logBytes
	b.open(LogStart{Kind: KindRun, ID: 1})
	line := bytes.Repeat([]byte("x"), 60<<10)
	for i := range 500 {
		data := append(append([]byte(strconv.Itoa(i)+":"), line...), '\n')
		b.chunk(LogChunk{Kind: KindRun, ID: 1, Stream: Stdout, Data: data})
	}
	r := b.find(KindRun, 1)
	if r.ring.bytes() > logBytes {
		t.Errorf("ring holds %d bytes, over log_bytes %d", r.ring.bytes(), logBytes)
	}
	got := b.search(SearchRequest{Kind: KindRun, Index: -1, Tail: 1})
	if len(got.Lines) != 1 || !strings.HasPrefix(got.Lines[0].Text, "499:") || got.Run.Lines != 500 {
		t.Errorf("newest line: %d lines, total %d", len(got.Lines), got.Run.Lines)
	}
	if n := r.ring.n; n < logBytes/2/(60<<10) || n > logBytes/(60<<10) {
		t.Errorf("%d lines kept, want as many as fit in %d bytes", n, logBytes)
	}
}

// A chunk's buffer goes back to its reader whatever becomes of the chunk
// (a ring never opened or already dropped): a credit that never returned
// would slow that reader for good.
func TestChunkBuffersComeBackEvenForUnknownRings(t *testing.T) {
	t.Parallel()
	b := NewLogBuffer("web", 10, 1, nil, nil)
	free := make(chan []byte, readerBuffers)
	b.chunk(LogChunk{Kind: KindRun, ID: 7, Stream: Stdout, Data: []byte("nobody\n"), Free: free})
	b.open(LogStart{Kind: KindRun, ID: 8})
	b.chunk(LogChunk{Kind: KindRun, ID: 8, Stream: Stdout, Data: []byte("kept\n"), Free: free})
	if len(free) != 2 {
		t.Errorf("%d of 2 buffers came back", len(free))
	}
}

// A line longer than a chunk is stored cut at 64 KiB with a marker, and the
// lines after it are intact.
func TestReaderCutsLinesLongerThanAChunk(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.long]
type = "command"
command = ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a; echo; echo after; sleep 1000"]
`)
	h := startHarness(t, dir, nil)
	testkit.WaitFor(t, 20*time.Second, "the line after the long one", func() bool { return h.logHas("long", KindRun, `^after$`) })
	r := h.search("long", SearchRequest{Kind: KindRun, Index: -1})
	if len(r.Lines) != 2 || !strings.HasSuffix(r.Lines[0].Text, truncatedMarker) || len(r.Lines[0].Text) != maxLineBytes+len(truncatedMarker) {
		t.Fatalf("lines: %d, first %d bytes", len(r.Lines), len(r.Lines[0].Text))
	}
}

func hasEvent(st ProcessStatus, kind, text string) bool {
	for _, e := range st.Events {
		if e.Kind == kind && regexp.MustCompile(regexp.QuoteMeta(text)).MatchString(e.Message) {
			return true
		}
	}
	return false
}

// A pattern of megabytes is refused before it is compiled (compiling one
// took RSS from 27 MB to 523 MB), with the limit in the message.
func TestHugePatternIsRefusedWithTheLimit(t *testing.T) {
	t.Parallel()
	b := NewLogBuffer("web", 10, 1, nil, nil)
	b.open(LogStart{Kind: KindRun, ID: 1})
	r := b.search(SearchRequest{Kind: KindRun, Index: -1, Pattern: strings.Repeat("(a|b)", 600_000)})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "at most 4096") {
		t.Errorf("a 3 MB pattern: %v", r.Err)
	}
}

// A quiet process's pipes start with small buffers; a line longer than one is
// carried into a full-size buffer, not cut.
func TestLineLongerThanTheFirstBufferIsKeptWhole(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.quiet]
type = "command"
command = ["sh", "-c", "head -c 10000 /dev/zero | tr '\\0' b; echo; echo after; sleep 1000"]
`)
	h := startHarness(t, dir, nil)
	testkit.WaitFor(t, 20*time.Second, "the line after the long one", func() bool { return h.logHas("quiet", KindRun, `^after$`) })
	r := h.search("quiet", SearchRequest{Kind: KindRun, Index: -1})
	if len(r.Lines) != 2 || len(r.Lines[0].Text) != 10000 {
		t.Fatalf("lines: %d, first %d bytes, want 2 lines, the first of 10000", len(r.Lines), len(r.Lines[0].Text))
	}
}
