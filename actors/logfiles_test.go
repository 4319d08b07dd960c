package actors

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// fileLogBuffer is a LogBuffer for "web" writing to dir, as the supervisor
// makes it, but called directly: the test is its only goroutine.
func fileLogBuffer(t *testing.T, dir string, maxFile, total int64, keep int) *LogBuffer {
	t.Helper()
	cfg := &config.Config{LogDir: dir, LogMaxBytes: maxFile, LogKeep: keep, LogTotalBytes: total, Processes: []*config.Process{{Name: "web"}}}
	lb := NewLogBuffer("web", 1000, 10, nil, nil)
	lb.files = newLogFiles(cfg, "web", logDirBudget(cfg))
	lb.loadFiles()
	t.Cleanup(lb.files.close)
	return lb
}

// dirBytes is what the files under dir hold.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func linesChunk(kind LogKind, id int, stream string, at time.Time, lines ...string) LogChunk {
	return LogChunk{Kind: kind, ID: id, Stream: stream, At: at, Data: []byte(strings.Join(lines, "\n") + "\n")}
}

// A logbuffer started on the files of an earlier one finds its runs and
// builds before its own, with their pids, start times and streams, marked
// as from a previous session, and ids that new runs never take.
func TestLogFilesAreReadBackByTheNextLogBuffer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	first := fileLogBuffer(t, dir, 1<<20, 10<<20, 3)
	for id := 1; id <= 3; id++ {
		at := t0.Add(time.Duration(id) * time.Minute)
		first.open(LogStart{Kind: KindRun, ID: id, PID: 100 + id, StartedAt: at})
		first.chunk(linesChunk(KindRun, id, Stdout, at.Add(time.Second), fmt.Sprintf("run %d out", id), "second"))
		first.chunk(linesChunk(KindRun, id, Stderr, at.Add(2*time.Second), fmt.Sprintf("run %d err", id)))
	}
	first.open(LogStart{Kind: KindBuild, ID: 1, PID: 99, StartedAt: t0})
	first.append(LogAppend{Kind: KindBuild, ID: 1, Stream: Stderr, Text: "main.go:3: undefined: x", Time: t0})
	first.files.close()

	next := fileLogBuffer(t, dir, 1<<20, 10<<20, 3)
	now := t0.Add(time.Hour)
	next.open(LogStart{Kind: KindRun, ID: 1, PID: 500, StartedAt: now})
	next.chunk(linesChunk(KindRun, 1, Stdout, now, "new session"))

	if r := next.search(SearchRequest{Kind: KindRun, Index: -1}); r.Run.Previous || texts(r.Lines) != "new session" || r.Runs != 4 {
		t.Errorf("newest run = %+v %q of %d; want this session's, 4 runs", r.Run, texts(r.Lines), r.Runs)
	}
	prev := next.search(SearchRequest{Kind: KindRun, Index: -2})
	want := RunInfo{Index: 2, ID: -1, PID: 103, StartedAt: t0.Add(3 * time.Minute), Lines: 3, Previous: true}
	got := prev.Run
	if got.StartedAt.Equal(want.StartedAt) {
		got.StartedAt = want.StartedAt // the same instant, in the local zone
	}
	if prev.Err != nil || got != want {
		t.Errorf("index -2 = %+v, err %v; want %+v", prev.Run, prev.Err, want)
	}
	if got := texts(prev.Lines); got != "run 3 out|second|run 3 err" {
		t.Errorf("index -2 lines = %q", got)
	}
	if l := prev.Lines[2]; l.Stream != Stderr || !l.Time.Equal(t0.Add(3*time.Minute+2*time.Second)) {
		t.Errorf("line 3 = %+v; want stderr at +3m2s", l)
	}
	if r := next.search(SearchRequest{Kind: KindRun, Index: 0}); r.Run.ID != -3 || r.Run.PID != 101 {
		t.Errorf("oldest run = %+v; want id -3, pid 101", r.Run)
	}
	if b := next.search(SearchRequest{Kind: KindBuild, Index: -1}); b.Run.PID != 99 || texts(b.Lines) != "main.go:3: undefined: x" {
		t.Errorf("build = %+v %q; want the previous session's build", b.Run, texts(b.Lines))
	}
}

// Files rotate at log_max_mb, keep log_keep rotated files, and the process's
// files never pass its budget, after every single chunk.
func TestLogFilesRotateAndStayWithinBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxFile  int64
		total    int64
		keep     int
		keptMost int  // rotated files of run.log at most
		keptAll  bool // and all of them there at the end
	}{
		{"keep honoured", 16 << 10, 1 << 20, 3, 3, true},
		{"budget deletes before keep", 16 << 10, 64 << 10, 10, 3, false},
		{"keep 0", 16 << 10, 1 << 20, 0, 0, true},
		{"budget below two files", 1 << 20, 40 << 10, 5, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			lb := fileLogBuffer(t, dir, tt.maxFile, tt.total, tt.keep)
			lb.open(LogStart{Kind: KindRun, ID: 1, PID: 7, StartedAt: time.Now()})
			lb.open(LogStart{Kind: KindBuild, ID: 1, PID: 8, StartedAt: time.Now()})
			for i := range 200 {
				lb.chunk(LogChunk{Kind: KindRun, ID: 1, Stream: Stdout, At: time.Now(), Data: chunkOf(i * 1000)[:8000]})
				if i%10 == 0 {
					lb.chunk(linesChunk(KindBuild, 1, Stderr, time.Now(), "compiling", strings.Repeat("b", 3000)))
				}
				if got := dirBytes(t, dir); got > tt.total {
					t.Fatalf("after chunk %d the files hold %d bytes; cap %d", i, got, tt.total)
				}
			}
			limit := min(tt.maxFile, tt.total/2)
			for k := 0; k <= tt.keptMost+1; k++ {
				path := lb.files.path(KindRun, k)
				st, err := os.Stat(path)
				switch {
				case k > tt.keptMost && k > 0 && err == nil:
					t.Errorf("%s exists; want at most %d rotated files", filepath.Base(path), tt.keptMost)
				case k <= tt.keptMost && tt.keptAll && err != nil:
					t.Errorf("%s: %v", filepath.Base(path), err)
				case err == nil && st.Size() > limit:
					t.Errorf("%s holds %d bytes; rotation at %d", filepath.Base(path), st.Size(), limit)
				}
			}
		})
	}
}

// Lines that are not bpm's (edited by hand, a cut last line, a run whose
// start was rotated away) load as far as they make sense.
func TestLogFilesLoadWhatADamagedFileHolds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	content := strings.Join([]string{
		"2026-11-25T10:00:00.000Z out orphan line, its start rotated away",
		"garbage without a stamp",
		"2026-11-25T10:00:01.000Z === run 4 pid 1234",
		"2026-11-25T99:00:01.000Z out bad time",
		"2026-11-25T10:00:01.500Z xyz unknown tag",
		"2026-11-25T10:00:02.000Z out kept",
		"2026-11-25T10:00:03.000Z === run five",
		"2026-11-25T10:00:04.000Z err after a damaged start",
		"2026-11-25T10:00:05.000Z out cut short by a ki",
	}, "\n")
	os.WriteFile(filepath.Join(dir, "web", "run.log"), []byte(content), 0o644)
	lb := fileLogBuffer(t, dir, 1<<20, 10<<20, 3)

	tests := []struct {
		index int
		pid   int
		lines string
	}{
		{-3, 0, "orphan line, its start rotated away"},
		{-2, 1234, "kept"},
		{-1, 0, "after a damaged start|cut short by a ki"},
	}
	for _, tt := range tests {
		r := lb.search(SearchRequest{Kind: KindRun, Index: tt.index})
		if r.Err != nil || r.Run.PID != tt.pid || texts(r.Lines) != tt.lines || !r.Run.Previous {
			t.Errorf("index %d = %+v %q (err %v); want pid %d, %q", tt.index, r.Run, texts(r.Lines), r.Err, tt.pid, tt.lines)
		}
	}
	lb.open(LogStart{Kind: KindRun, ID: 1, PID: 9, StartedAt: time.Now()})
	data, _ := os.ReadFile(filepath.Join(dir, "web", "run.log"))
	if !bytes.Contains(data, []byte("by a ki\n")) || !bytes.HasSuffix(data, []byte(" === run 1 pid 9\n")) {
		t.Errorf("the new session did not start on a line of its own:\n%s", data)
	}
}

// A full disk (run.log is /dev/full) is reported once, as a note in the
// run, while the lines are still kept in memory; once the file can be
// written again, writing resumes and says how many lines it missed.
func TestLogFilesWriteFailureIsReportedOnceAndWritingResumes(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "web", "run.log")
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	lb := fileLogBuffer(t, dir, 1<<20, 10<<20, 3)
	lb.open(LogStart{Kind: KindRun, ID: 1, PID: 7, StartedAt: time.Now()})
	for i := range 5 {
		lb.chunk(linesChunk(KindRun, 1, Stdout, time.Now(), fmt.Sprintf("line %d", i)))
	}
	r := lb.search(SearchRequest{Kind: KindRun, Index: -1, Pattern: "log_dir: cannot write"})
	if r.Matches != 1 || !strings.Contains(texts(r.Lines), "no space left") {
		t.Errorf("notes = %d %q; want one saying no space left", r.Matches, texts(r.Lines))
	}
	if all := lb.search(SearchRequest{Kind: KindRun, Index: -1, Pattern: "^line"}); all.Matches != 5 {
		t.Errorf("%d lines kept in memory, want 5", all.Matches)
	}

	// The start line, 5 lines and the note itself were not written.
	os.Remove(path) // room again; the retry is due
	lb.files.retryAt = time.Time{}
	lb.chunk(linesChunk(KindRun, 1, Stdout, time.Now(), "after the disk had room"))
	data, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(data, []byte("] 7 lines were not written to this file")) || !bytes.HasSuffix(data, []byte(" out after the disk had room\n")) {
		t.Errorf("run.log after the retry (err %v):\n%s", err, data)
	}
}

// Throttled (crash-loop) runs keep, write through and write to log_dir
// only their first throttleLines lines and one marker; every line counts.
func TestThrottledRunKeepsFiftyLinesAndCountsTheRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := &config.Config{LogDir: dir, LogMaxBytes: 1 << 20, LogKeep: 1, LogTotalBytes: 1 << 20, Processes: []*config.Process{{Name: "web"}}}
	f := &logBufferFixture{t: t, sys: quietSystem(t), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	f.pid = f.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		b := NewLogBuffer("web", 1000, 10, f.stdout, f.stderr)
		b.files = newLogFiles(cfg, "web", logDirBudget(cfg))
		return b
	}))
	numbered := func(from, n int) []string {
		var out []string
		for i := from; i < from+n; i++ {
			out = append(out, fmt.Sprintf("crash output %d", i))
		}
		return out
	}
	f.send(LogStart{Kind: KindRun, ID: 1, PID: 7, StartedAt: time.Now(), Throttle: true},
		linesChunk(KindRun, 1, Stdout, time.Now(), numbered(1, 30)...),
		linesChunk(KindRun, 1, Stdout, time.Now(), numbered(31, 100)...),
		LogAppend{Kind: KindRun, ID: 1, Stream: Stderr, Text: "one more"},
		LogStart{Kind: KindRun, ID: 2, PID: 8, StartedAt: time.Now()},
		linesChunk(KindRun, 2, Stdout, time.Now(), numbered(1, 100)...),
	)
	f.send(LogUnthrottle{ID: 1}, linesChunk(KindRun, 1, Stdout, time.Now(), "up for good"))
	r := f.search(SearchRequest{Kind: KindRun, Index: -2})
	if n := len(r.Lines); n != 53 || r.Lines[51].Text != "[bpm] crash loop over: output is kept again; 80 lines before this one were counted, not kept" || r.Lines[52].Text != "up for good" {
		t.Errorf("after LogUnthrottle the run ends %q; want the note, then the new line", texts(r.Lines[min(n, 50):]))
	}
	r.Lines, r.Run.Lines = r.Lines[:51], r.Run.Lines-2
	if r.Run.Lines != 131 || len(r.Lines) != 51 || r.Lines[49].Text != "crash output 50" || r.Lines[50].Text != throttleMarker || r.Lines[50].N != 51 {
		t.Errorf("throttled run: %d lines counted, %d kept, last %q; want 131, 51, the marker as line 51",
			r.Run.Lines, len(r.Lines), r.Lines[len(r.Lines)-1].Text)
	}
	if plain := f.search(SearchRequest{Kind: KindRun, Index: -1}); len(plain.Lines) != 100 {
		t.Errorf("unthrottled run kept %d lines, want 100", len(plain.Lines))
	}
	through := f.stdout.String() + f.stderr.String()
	if n := strings.Count(through, "[web] crash output"); n != 150 || strings.Count(through, throttleMarker) != 1 {
		t.Errorf("written through: %d lines, %d markers; want 50+100 and one marker", n, strings.Count(through, throttleMarker))
	}
	data, _ := os.ReadFile(filepath.Join(dir, "web", "run.log"))
	if n := bytes.Count(data, []byte(" crash output ")); n != 150 || bytes.Count(data, []byte(throttleMarker)) != 1 {
		t.Errorf("run.log: %d lines, %d markers; want 50+100 and one marker", n, bytes.Count(data, []byte(throttleMarker)))
	}
}

// BenchmarkLoadFiles reads back the worst case of the default settings: one
// long run filling run.log and its 5 rotated files of 10 MiB (about 690,000
// lines), of which the ring keeps the newest log_lines (10,000).
func BenchmarkLoadFiles(b *testing.B) {
	dir := b.TempDir()
	cfg := &config.Config{LogDir: dir, LogMaxBytes: 10 << 20, LogKeep: 5, LogTotalBytes: 500 << 20, Processes: []*config.Process{{Name: "web"}}}
	w := NewLogBuffer("web", 10000, 10, nil, nil)
	w.files = newLogFiles(cfg, "web", logDirBudget(cfg))
	w.loadFiles()
	w.open(LogStart{Kind: KindRun, ID: 1, PID: 7, StartedAt: time.Now()})
	data := chunkOf(0)
	for w.files.used() < 59<<20 {
		w.chunk(LogChunk{Kind: KindRun, ID: 1, Stream: Stdout, Data: data, At: time.Now()})
	}
	w.files.close()
	for b.Loop() {
		lb := NewLogBuffer("web", 10000, 10, nil, nil)
		lb.bytes = config.DefaultLogBytes
		lb.files = newLogFiles(cfg, "web", logDirBudget(cfg))
		lb.loadFiles()
		lb.files.close()
		if r := lb.search(SearchRequest{Kind: KindRun, Index: -1, Tail: 1}); r.Run.Lines < 600_000 {
			b.Fatalf("loaded %d lines", r.Run.Lines)
		}
	}
	b.ReportMetric(float64(w.files.used())/(1<<20), "MiB-read")
}

// A smaller share (a reload added processes) trims the files at once.
func TestLogShareTrimsTheFilesAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lb := fileLogBuffer(t, dir, 16<<10, 1<<20, 10)
	lb.open(LogStart{Kind: KindRun, ID: 1, PID: 7, StartedAt: time.Now()})
	for i := range 100 {
		lb.chunk(LogChunk{Kind: KindRun, ID: 1, Stream: Stdout, At: time.Now(), Data: chunkOf(i * 1000)[:8000]})
	}
	before := dirBytes(t, dir)
	lb.files.share(40 << 10)
	if after := dirBytes(t, dir); before < 100<<10 || after > 40<<10 {
		t.Errorf("files hold %d bytes, then %d after the share became %d", before, after, 40<<10)
	}
}

// A log_dir removed (or a run.log moved away) while bpm writes it is made
// again within checkFileEvery, with a note in the run saying so.
func TestLogFilesRemovedWhileWrittenAreMadeAgain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	lb := fileLogBuffer(t, logDir, 1<<20, 10<<20, 3)
	lb.open(LogStart{Kind: KindRun, ID: 1, PID: 7, StartedAt: time.Now()})
	lb.chunk(linesChunk(KindRun, 1, Stdout, time.Now(), "before"))
	path := filepath.Join(logDir, "web", "run.log")
	if data, _ := os.ReadFile(path); !bytes.Contains(data, []byte("out before")) {
		t.Fatalf("run.log before the removal:\n%s", data)
	}
	if err := os.RemoveAll(logDir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(checkFileEvery + 5*time.Second)
	for i := 0; ; i++ {
		lb.chunk(linesChunk(KindRun, 1, Stdout, time.Now(), fmt.Sprintf("after %d", i)))
		if data, err := os.ReadFile(path); err == nil && bytes.Contains(data, []byte("out after")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new run.log within %v of the removal", checkFileEvery+5*time.Second)
		}
		time.Sleep(100 * time.Millisecond) // the pace of a child's output
	}
	if r := lb.search(SearchRequest{Kind: KindRun, Index: -1, Pattern: "was removed or replaced while bpm wrote it"}); r.Matches != 1 {
		t.Errorf("notes about the removal: %d, want 1", r.Matches)
	}
}

// A log_dir that cannot be made, or that other files fill, is said in every
// new run, where an agent reads it, not only on bpm's terminal.
func TestUnusableLogDirIsSaidInEachRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, want string
		dir        func(t *testing.T) string
		total      int64
	}{
		{"cannot be made", "cannot write", func(t *testing.T) string {
			file := filepath.Join(t.TempDir(), "a-file")
			os.WriteFile(file, nil, 0o644)
			return filepath.Join(file, "logs")
		}, 1 << 20},
		{"full of other files", "fill log_total_mb", func(t *testing.T) string {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "big.bin"), make([]byte, 2<<20), 0o644)
			return dir
		}, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lb := fileLogBuffer(t, tc.dir(t), 1<<20, tc.total, 3)
			for id := 1; id <= 2; id++ {
				lb.open(LogStart{Kind: KindRun, ID: id, PID: 7, StartedAt: time.Now()})
				lb.chunk(linesChunk(KindRun, id, Stdout, time.Now(), "hello"))
				if r := lb.search(SearchRequest{Kind: KindRun, Index: -1, Pattern: "log_dir: .*" + tc.want}); r.Matches != 1 {
					t.Errorf("run %d: %d notes containing %q, want 1; lines %q", id, r.Matches, tc.want, texts(lb.search(SearchRequest{Kind: KindRun, Index: -1}).Lines))
				}
			}
		})
	}
}
