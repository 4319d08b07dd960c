package actors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// quietSystem is an actor system whose own logger prints nothing.
func quietSystem(t testing.TB) *actor.ActorSystem {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	t.Cleanup(sys.Shutdown)
	return sys
}

// logBufferFixture is a spawned logbuffer for "web" and its write-through.
type logBufferFixture struct {
	t      *testing.T
	sys    *actor.ActorSystem
	pid    *actor.PID
	stdout *bytes.Buffer
	stderr *bytes.Buffer
}

func spawnLogBuffer(t *testing.T, lines, runs int) *logBufferFixture {
	t.Helper()
	f := &logBufferFixture{t: t, sys: quietSystem(t), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	f.pid = f.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return NewLogBuffer("web", lines, runs, f.stdout, f.stderr)
	}))
	return f
}

func (f *logBufferFixture) send(msgs ...any) {
	for _, m := range msgs {
		f.sys.Root.Send(f.pid, m)
	}
}

// search asks the actor; its reply also orders every earlier Send before the
// test reads the writers.
func (f *logBufferFixture) search(q SearchRequest) SearchReply {
	f.t.Helper()
	res, err := f.sys.Root.RequestFuture(f.pid, q, time.Second).Result()
	if err != nil {
		f.t.Fatalf("search %+v: %v", q, err)
	}
	reply, ok := res.(SearchReply)
	if !ok {
		f.t.Fatalf("search %+v: reply is %T, want SearchReply", q, res)
	}
	return reply
}

func texts(lines []Line) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = l.Text
	}
	return strings.Join(parts, "|")
}

func TestLogBufferWriteThrough(t *testing.T) {
	t.Parallel()
	f := spawnLogBuffer(t, 100, 10)
	f.send(
		LogStart{Kind: KindRun, ID: 1, PID: 100},
		LogStart{Kind: KindBuild, ID: 1, PID: 200},
		LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: "listening on :8080"},
		LogAppend{Kind: KindRun, ID: 1, Stream: Stderr, Text: "warning: slow"},
		LogAppend{Kind: KindBuild, ID: 1, Stream: Stderr, Text: "main.go:3: undefined: x"},
		LogAppend{Kind: KindBuild, ID: 1, Stream: Stdout, Text: "compiled"},
		LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: "bad \xff\xfe byte"},
	)
	reply := f.search(SearchRequest{Kind: KindRun, Index: -1})

	wantOut := "[web] listening on :8080\n[build web] compiled\n[web] bad \uFFFD byte\n"
	wantErr := "[web] warning: slow\n[build web] main.go:3: undefined: x\n"
	if got := f.stdout.String(); got != wantOut {
		t.Errorf("stdout = %q, want %q", got, wantOut)
	}
	if got := f.stderr.String(); got != wantErr {
		t.Errorf("stderr = %q, want %q", got, wantErr)
	}
	if got := texts(reply.Lines); got != "listening on :8080|warning: slow|bad \uFFFD byte" {
		t.Errorf("run lines = %q", got)
	}
	if reply.Lines[1].Stream != Stderr || reply.Lines[0].Stream != Stdout {
		t.Errorf("streams = %q, %q; want stdout, stderr", reply.Lines[0].Stream, reply.Lines[1].Stream)
	}
	if reply.Lines[0].Time.IsZero() {
		t.Error("line without Time was not stamped")
	}
}

func TestLogBufferIgnoresStaleAndUnknown(t *testing.T) {
	t.Parallel()
	f := spawnLogBuffer(t, 100, 2)
	f.send(
		LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: "before any start"},
		LogStart{Kind: KindRun, ID: 1},
		LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: "run 1"},
		LogStart{Kind: KindRun, ID: 2},
		LogStart{Kind: KindRun, ID: 3}, // drops run 1
		LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: "late line of dropped run 1"},
		LogAppend{Kind: KindRun, ID: 9, Stream: Stdout, Text: "never started"},
		LogAppend{Kind: KindBuild, ID: 2, Stream: Stdout, Text: "build 2 never started"},
		LogAppend{Kind: LogKind(7), ID: 2, Stream: Stdout, Text: "unknown kind"},
		LogStart{Kind: LogKind(7), ID: 2},
		LogAppend{Kind: KindRun, ID: 2, Stream: Stdout, Text: "run 2"},
		LogStart{Kind: KindRun, ID: 2}, // repeated start must not wipe run 2
	)
	oldest := f.search(SearchRequest{Kind: KindRun, Index: 0})
	if oldest.Err != nil || oldest.Runs != 2 || oldest.Run.ID != 2 || texts(oldest.Lines) != "run 2" {
		t.Errorf("oldest = %+v; want run 2 of 2 with its line", oldest)
	}
	if got := f.stdout.String(); got != "[web] run 1\n[web] run 2\n" {
		t.Errorf("stdout = %q; stale lines were written through", got)
	}
	if r := f.search(SearchRequest{Kind: KindBuild, Index: -1}); r.Err == nil || r.Err.Error() != "no builds of web yet" {
		t.Errorf("build search err = %v, want no builds of web yet", r.Err)
	}
	if r := f.search(SearchRequest{Kind: LogKind(7)}); r.Err == nil {
		t.Error("search of unknown kind gave no error")
	}
}

func TestLogBufferIndexResolution(t *testing.T) {
	t.Parallel()
	f := spawnLogBuffer(t, 3, 3)
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for id := 1; id <= 4; id++ { // run 1 is dropped
		f.send(LogStart{Kind: KindRun, ID: id, PID: 1000 + id, StartedAt: t0.Add(time.Duration(id) * time.Minute)})
		for n := 1; n <= id; n++ {
			f.send(LogAppend{Kind: KindRun, ID: id, Stream: Stdout, Text: fmt.Sprintf("r%d l%d", id, n), Time: t0})
		}
	}
	tests := []struct {
		index   int
		wantID  int
		wantPos int
		wantErr string
	}{
		{-1, 4, 2, ""},
		{-2, 3, 1, ""},
		{-3, 2, 0, ""},
		{0, 2, 0, ""},
		{2, 4, 2, ""},
		{3, 0, 0, "index 3 is beyond the 3 runs kept; valid: -3..-1 (newest is -1) or 0..2 (oldest is 0)"},
		{-4, 0, 0, "index -4 is beyond the 3 runs kept; valid: -3..-1 (newest is -1) or 0..2 (oldest is 0)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.index), func(t *testing.T) {
			r := f.search(SearchRequest{Kind: KindRun, Index: tt.index})
			if r.Runs != 3 {
				t.Errorf("Runs = %d, want 3", r.Runs)
			}
			if tt.wantErr != "" {
				if r.Err == nil || r.Err.Error() != tt.wantErr {
					t.Errorf("Err = %v, want %q", r.Err, tt.wantErr)
				}
				return
			}
			want := RunInfo{
				Index:     tt.wantPos,
				ID:        tt.wantID,
				PID:       1000 + tt.wantID,
				StartedAt: t0.Add(time.Duration(tt.wantID) * time.Minute),
				Lines:     tt.wantID,
			}
			if r.Err != nil || r.Run != want {
				t.Errorf("Run = %+v, Err = %v; want %+v", r.Run, r.Err, want)
			}
		})
	}
	t.Run("ring of 3 keeps numbering", func(t *testing.T) {
		r := f.search(SearchRequest{Kind: KindRun, Index: -1})
		if ns(r.Lines) != "2 3 4" || texts(r.Lines) != "r4 l2|r4 l3|r4 l4" || r.Run.Lines != 4 {
			t.Errorf("lines %q %q, total %d; want 2 3 4 of 4", ns(r.Lines), texts(r.Lines), r.Run.Lines)
		}
	})
}

func TestLogBufferSearchThroughActor(t *testing.T) {
	t.Parallel()
	f := spawnLogBuffer(t, 100, 10)
	f.send(LogStart{Kind: KindBuild, ID: 5, PID: 55})
	for _, s := range []string{"compiling", "a.go:1: bad", "b.go:2: worse", "done"} {
		f.send(LogAppend{Kind: KindBuild, ID: 5, Stream: Stderr, Text: s})
	}
	r := f.search(SearchRequest{Kind: KindBuild, Index: -1, Pattern: `\.go:\d+:`, Tail: 2, ContextLines: 1})
	if r.Err != nil || r.Matches != 2 || ns(r.Lines) != "3* 4" {
		t.Errorf("reply = %+v; want matches 2, lines 3* 4", r)
	}
	bad := f.search(SearchRequest{Kind: KindBuild, Index: -1, Pattern: "x("})
	if bad.Err == nil || !strings.HasPrefix(bad.Err.Error(), `invalid pattern "x(": `) {
		t.Errorf("bad pattern Err = %v", bad.Err)
	}
	if bad.Run.ID != 5 || bad.Runs != 1 {
		t.Errorf("bad pattern reply lost its run: %+v", bad)
	}
	if neg := f.search(SearchRequest{Kind: KindBuild, Head: -1}); neg.Err == nil {
		t.Error("negative head gave no error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("terminal gone") }

func TestLogBufferKeepsLinesWhenWritesFail(t *testing.T) {
	sys := quietSystem(t)
	pid := sys.Root.Spawn(LogBufferProps("web", 10, 1, failingWriter{}, nil))
	sys.Root.Send(pid, LogStart{Kind: KindRun, ID: 1})
	sys.Root.Send(pid, LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: "out"})
	sys.Root.Send(pid, LogAppend{Kind: KindRun, ID: 1, Stream: Stderr, Text: "err"})
	res, err := sys.Root.RequestFuture(pid, SearchRequest{Kind: KindRun, Index: -1}, time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if r := res.(SearchReply); r.Err != nil || texts(r.Lines) != "out|err" {
		t.Errorf("reply = %+v; want both lines kept", r)
	}
}

func BenchmarkLogAppend(b *testing.B) {
	lb := NewLogBuffer("web", 10000, 10, io.Discard, io.Discard)
	lb.open(LogStart{Kind: KindRun, ID: 1})
	m := LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: "GET /api/items/42 200 1.2ms", Time: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		lb.append(m)
	}
}

func BenchmarkSearch(b *testing.B) {
	lb := NewLogBuffer("web", 10000, 10, io.Discard, io.Discard)
	lb.open(LogStart{Kind: KindRun, ID: 1})
	now := time.Now()
	for i := range 12000 { // wraps the 10k ring
		text := fmt.Sprintf("GET /api/items/%d 200 1.2ms", i)
		if i%100 == 0 {
			text = fmt.Sprintf("ERROR item %d: connection reset", i)
		}
		lb.append(LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: text, Time: now})
	}
	for _, bc := range []struct {
		name string
		q    SearchRequest
	}{
		{"pattern context 3", SearchRequest{Pattern: `ERROR item \d+`, ContextLines: 3, Index: -1}},
		{"pattern tail 20", SearchRequest{Pattern: "connection reset", Tail: 20, Index: -1}},
		{"all tail 100", SearchRequest{Tail: 100, Index: -1}},
		{"all", SearchRequest{Index: -1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := lb.search(bc.q); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkLogActorThroughput sends lines through a logbuffer actor, as the
// process actor does, including the write-through; ns/op is per line.
func BenchmarkLogActorThroughput(b *testing.B) {
	system := NewSystem()
	defer system.Shutdown()
	pid := system.Root.Spawn(LogBufferProps("web", 10000, 10, io.Discard, io.Discard))
	system.Root.Send(pid, LogStart{Kind: KindRun, ID: 1})
	m := LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: "GET /api/items/42 200 1.2ms", Time: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		system.Root.Send(pid, m)
	}
	// A search is answered after every line before it: wait for it.
	if _, err := Ask[SearchReply](system.Root, pid, SearchRequest{Tail: 1, Index: -1}, time.Minute); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFullRingMemory reports the heap a full ring of 10,000 lines of
// 100 bytes holds, the default log_lines per run.
func BenchmarkFullRingMemory(b *testing.B) {
	line := []byte(strings.Repeat("x", 100))
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		lb := NewLogBuffer("web", 10000, 1, io.Discard, io.Discard)
		lb.open(LogStart{Kind: KindRun, ID: 1})
		for range 10000 {
			// A string of its own per line, as lines read from a pipe are.
			lb.append(LogAppend{Kind: KindRun, ID: 1, Stream: Stdout, Text: string(line), Time: time.Now()})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/ring")
		runtime.KeepAlive(lb)
	}
}
