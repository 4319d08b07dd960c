package actors

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"
)

// LogBuffer is the actor that keeps one process's recent run and build
// output, writes each line through as it arrives, and answers SearchRequest.
// All of its state is touched only from Receive.
type LogBuffer struct {
	name    string
	lines   int // ring size per run or build
	bytes   int // ring bytes per run or build (0: no bound)
	runs    int // rings kept per kind
	stdout  io.Writer
	stderr  io.Writer
	prefix  [2]string    // write-through prefix by LogKind
	history [2][]*runLog // rings by LogKind, oldest first
	scratch []byte       // reused write-through buffer
	files   *logFiles    // log_dir; nil keeps logs in memory only
}

// runLog is the ring of one run or build with what identifies it.
type runLog struct {
	start    LogStart
	ring     ring
	counted  int  // lines of a throttled run counted, not kept (throttle.go)
	marked   bool // the throttle's marker line is stored
	previous bool // loaded from log_dir: a run of an earlier bpm session
	// Error lines of the run's stderr kept apart from the ring, which may
	// drop them (crashloop.go): the first among its first errorScanLines
	// stderr lines that reads like an error, and the last line that starts
	// a crash report (a Go panic, a Rust panic, a fatal error).
	firstError string
	crashLine  string
	scanned    int
}

// errorScanLines bounds how many of a run's first lines are matched against
// errorLine: a crash's cause is near the start (a panic before its dump) or
// among the last lines, which the ring keeps.
const errorScanLines = 1000

// NewLogBuffer returns a LogBuffer for process name keeping, for runs and for
// builds separately, the last runs rings of lines lines each (values below 1
// count as 1); a nil writer discards the write-through.
func NewLogBuffer(name string, lines, runs int, stdout, stderr io.Writer) *LogBuffer {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	return &LogBuffer{
		name:   name,
		lines:  max(lines, 1),
		runs:   max(runs, 1),
		stdout: stdout,
		stderr: stderr,
		prefix: [2]string{
			KindRun:   fmt.Sprintf("[%s] ", name),
			KindBuild: fmt.Sprintf("[build %s] ", name),
		},
	}
}

// LogBufferProps returns props that spawn a NewLogBuffer with these arguments;
// a restarted actor starts with empty history.
func LogBufferProps(name string, lines, runs int, stdout, stderr io.Writer) *actor.Props {
	return props(func() actor.Actor {
		return NewLogBuffer(name, lines, runs, stdout, stderr)
	})
}

// Receive handles LogStart, LogChunk, LogAppend, TailRequest and
// SearchRequest (sent as values); it answers every SearchRequest with a
// SearchReply and ignores other messages. Its mailbox stays FIFO: the output
// queued in front of a request is bounded by the readers' buffers (a few per
// pipe), so a search waits at most for those, and a TailRequest sees every
// chunk sent before it.
func (b *LogBuffer) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		b.loadFiles()
	case *actor.Stopping:
		b.files.close()
		// A process removed by a reload: its writers go with it.
		for _, w := range []io.Writer{b.stdout, b.stderr} {
			if p, ok := w.(*passthrough); ok {
				p.close()
			}
		}
	case LogStart:
		b.open(m)
	case LogChunk:
		b.chunk(m)
	case LogAppend:
		b.append(m)
	case LogUnthrottle:
		b.unthrottle(m.ID)
	case logShare:
		b.files.share(m.bytes)
	case TailRequest:
		var reply TailReply
		if r := b.find(m.Kind, m.ID); r != nil {
			reply.Lines, reply.FirstError, reply.CrashLine = r.ring.last(m.N), r.firstError, r.crashLine
		}
		ctx.Respond(reply)
	case SearchRequest:
		ctx.Respond(b.search(m))
	case FlushRequest:
		for _, w := range []io.Writer{b.stdout, b.stderr} {
			if p, ok := w.(*passthrough); ok {
				p.flush(flushTimeout)
			}
		}
		ctx.Respond(FlushReply{})
	}
}

// open starts a ring for m, dropping the oldest beyond b.runs. A repeated
// LogStart for a ring still kept is ignored, so a resent start cannot wipe it.
func (b *LogBuffer) open(m LogStart) {
	if !validKind(m.Kind) || b.find(m.Kind, m.ID) != nil {
		return
	}
	h := append(b.history[m.Kind], &runLog{start: m, ring: newBoundedRing(b.lines, b.bytes)})
	if len(h) > b.runs {
		h = slices.Delete(h, 0, len(h)-b.runs)
	}
	b.history[m.Kind] = h
	if b.files != nil {
		b.note(m.Kind, b.files.begin(m))
	}
}

// append stores m in its ring and writes it through; a line for a ring not
// kept (never started, or already dropped) is stale and ignored entirely.
func (b *LogBuffer) append(m LogAppend) {
	r := b.find(m.Kind, m.ID)
	if r == nil {
		return
	}
	if r.start.Throttle && r.ring.total >= throttleLines {
		b.overflow(r, m.Kind, 1)
		return
	}
	text := strings.ToValidUTF8(m.Text, "\uFFFD")
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	r.ring.add(Line{Time: m.Time, Stream: m.Stream, Text: text})
	if b.files != nil {
		b.note(m.Kind, b.files.line(m.Kind, streamByte(m.Stream), m.Time.UnixNano(), []byte(text)))
	}

	w := b.stdout
	if m.Stream == Stderr {
		w = b.stderr
	}
	b.scratch = append(b.scratch[:0], b.prefix[m.Kind]...)
	b.scratch = append(b.scratch, text...)
	b.scratch = append(b.scratch, '\n')
	// A broken terminal must not stop the logs being kept: the error is dropped.
	_, _ = w.Write(b.scratch)
}

// chunk stores the lines of c in their ring and writes them through as one
// batch, then hands c's buffer back to its reader, whatever happens: that
// buffer is the reader's credit, and a lost one would slow it for good.
func (b *LogBuffer) chunk(c LogChunk) {
	defer c.release()
	r := b.find(c.Kind, c.ID)
	if r == nil {
		return
	}
	data, over := c.Data, 0
	if r.start.Throttle {
		data, over = r.throttle(data)
	}
	b.store(r, c, data)
	if over > 0 {
		b.overflow(r, c.Kind, over)
	}
}

// store stores data, the lines of c to keep, in r and writes them through
// and to r's file.
func (b *LogBuffer) store(r *runLog, c LogChunk, data []byte) {
	if len(data) == 0 {
		return
	}
	stream := streamByte(c.Stream)
	prefix := b.prefix[c.Kind]
	at := c.At.UnixNano()
	out := b.scratch[:0]
	var file []byte // the lines as written to r's file; nil without log_dir
	var stamp []byte
	if b.files != nil {
		file, stamp = b.files.kinds[c.Kind].buf[:0], b.files.stamp(at, stream)
	}
	cut := c.Cut && len(data) == len(c.Data)
	// forLines's split, written out: through its callback this loop, the
	// hottest of the log path, costs 28 ns a line instead of 22.
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		var suffix []byte
		if cut && len(data) == 0 {
			suffix = truncatedSuffix
		}
		r.ring.push(stream, at, line, suffix)
		if stream == 1 && c.Kind == KindRun {
			r.scanError(line)
		}
		out = append(append(append(append(out, prefix...), line...), suffix...), '\n')
		if stamp != nil {
			file = append(append(append(append(file, stamp...), line...), suffix...), '\n')
		}
	}
	b.scratch = out
	if stamp != nil {
		b.files.kinds[c.Kind].buf = file
		b.note(c.Kind, b.files.flush(c.Kind))
	}
	w := b.stdout
	if c.Stream == Stderr {
		w = b.stderr
	}
	// A broken terminal must not stop the logs being kept: the error is dropped.
	_, _ = w.Write(b.scratch)
	if cap(b.scratch) > 4*chunkBytes {
		b.scratch = nil // a burst of short lines with long prefixes: do not keep it
	}
}

var truncatedSuffix = []byte(truncatedMarker)

// crashStarts begin the line that opens a crash report on stderr.
var crashStarts = [][]byte{[]byte("panic: "), []byte("fatal error: "), []byte("thread '")}

// scanError notes a stderr line of a run that starts a crash report, and
// the first error-like line among the first errorScanLines; the prefix
// checks cost a few ns, the regexp runs on at most errorScanLines lines.
func (r *runLog) scanError(line []byte) {
	for _, p := range crashStarts {
		if bytes.HasPrefix(line, p) && (p[0] != 't' || bytes.Contains(line, []byte("panicked"))) {
			r.crashLine = strings.TrimSpace(lineText(line))
			break
		}
	}
	if r.scanned >= errorScanLines {
		return
	}
	r.scanned++
	if errorLine.Match(line) {
		r.firstError, r.scanned = strings.TrimSpace(lineText(line)), errorScanLines
	}
}

// lineText is a stored line as searches show it: invalid UTF-8 replaced.
func lineText(line []byte) string {
	if utf8.Valid(line) {
		return string(line)
	}
	return string(bytes.ToValidUTF8(line, []byte("\uFFFD")))
}

// search answers q from the ring q.Index selects.
func (b *LogBuffer) search(q SearchRequest) SearchReply {
	if !validKind(q.Kind) {
		return SearchReply{Err: fmt.Errorf("unknown log kind %d; valid: %d (run) or %d (build)", q.Kind, KindRun, KindBuild)}
	}
	h := b.history[q.Kind]
	reply := SearchReply{Process: b.name, Runs: len(h)}
	i, err := resolveIndex(q.Kind, b.name, q.Index, len(h))
	if err != nil {
		reply.Err = err
		return reply
	}
	r := h[i]
	reply.Run = RunInfo{
		Index:     i,
		ID:        r.start.ID,
		PID:       r.start.PID,
		StartedAt: r.start.StartedAt,
		Lines:     r.ring.total + r.counted,
		Previous:  r.previous,
	}
	reply.Lines, reply.Selected, reply.Matches, reply.MatchesAtLeast, reply.Err = searchRing(&r.ring, q)
	return reply
}

// find returns the kept ring of kind with id, looking from the newest.
func (b *LogBuffer) find(kind LogKind, id int) *runLog {
	if !validKind(kind) {
		return nil
	}
	h := b.history[kind]
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].start.ID == id {
			return h[i]
		}
	}
	return nil
}

func validKind(k LogKind) bool { return k == KindRun || k == KindBuild }
