package actors

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"
	"time"
)

// loadFiles runs when the logbuffer starts: it reads back from log_dir the
// newest runs and builds of earlier bpm sessions (as many as log_runs,
// log_lines and log_bytes keep) into rings placed before this session's.
// Their ids count up to -1, so they never meet this session's (from 1).
func (b *LogBuffer) loadFiles() {
	if b.files == nil {
		return
	}
	b.files.scan()
	for k := range b.history {
		l := &logLoader{kind: LogKind(k), keep: b.runs, newRing: func() ring { return newBoundedRing(b.lines, b.bytes) }}
		b.files.load(l)
		for i, r := range l.runs {
			r.start.ID, r.previous = i-len(l.runs), true
		}
		b.history[k] = append(l.runs, b.history[k]...)
	}
}

// load reads the files of l.kind, from the oldest one that holds one of the
// newest l.keep starts, into l.
func (lf *logFiles) load(l *logLoader) {
	rotated := len(lf.kinds[l.kind].rotated)
	first, starts := rotated, 0
	for i := 0; i <= rotated; i++ {
		forFileLines(lf.path(l.kind, i), func(line []byte) {
			if len(line) > stampBytes+4 && string(line[stampBytes+1:stampBytes+4]) == tagStart {
				starts++
			}
		})
		if starts >= l.keep {
			first = i
			break
		}
	}
	for i := first; i >= 0; i-- {
		forFileLines(lf.path(l.kind, i), l.line)
	}
}

// logLoader rebuilds the rings of one kind from its files' lines.
type logLoader struct {
	kind    LogKind
	keep    int // rings kept: the newest
	newRing func() ring
	runs    []*runLog

	lastStamp [stampBytes]byte
	lastAt    int64
}

// line takes one line of a file; a line bpm did not write is skipped.
func (l *logLoader) line(line []byte) {
	if len(line) < stampBytes+4 || line[stampBytes] != ' ' {
		return
	}
	at, ok := l.time(line[:stampBytes])
	if !ok {
		return
	}
	text := line[stampBytes+4:]
	if len(text) > 0 {
		if text[0] != ' ' {
			return
		}
		text = text[1:]
	}
	switch string(line[stampBytes+1 : stampBytes+4]) {
	case tagStart:
		l.start(at, text)
	case tagStdout:
		l.push(0, at, text)
	case tagStderr:
		l.push(1, at, text)
	}
}

// start begins a run from a start line's "run 3 pid 1234"; a damaged one
// still begins a run, without pid.
func (l *logLoader) start(at int64, text []byte) {
	m := LogStart{Kind: l.kind, StartedAt: time.Unix(0, at)}
	if f := bytes.Fields(text); len(f) == 4 && string(f[2]) == "pid" {
		m.PID, _ = strconv.Atoi(string(f[3]))
	}
	l.runs = append(l.runs, &runLog{start: m, ring: l.newRing()})
	if len(l.runs) > l.keep {
		l.runs[0] = nil
		l.runs = l.runs[1:]
	}
}

// push stores one output line in the newest run.
func (l *logLoader) push(stream uint8, at int64, text []byte) {
	if len(l.runs) == 0 {
		// The run's start was rotated away, or is older than the files
		// read: its lines make a run without pid, which the starts that
		// follow push out if there are l.keep of them.
		l.start(at, nil)
	}
	l.runs[len(l.runs)-1].ring.push(stream, at, text, nil)
}

// time parses a line's stamp; lines of one chunk share theirs.
func (l *logLoader) time(stamp []byte) (int64, bool) {
	if l.lastAt != 0 && bytes.Equal(stamp, l.lastStamp[:]) {
		return l.lastAt, true
	}
	t, err := time.Parse(stampLayout, string(stamp))
	if err != nil {
		return 0, false
	}
	copy(l.lastStamp[:], stamp)
	l.lastAt = t.UnixNano()
	return l.lastAt, true
}

// forFileLines calls fn with each line of the file at path, without its
// '\n'. A line longer than bpm writes is skipped; a last line without '\n'
// (a write cut short) is passed as it is. Only a regular file is read, and
// only as far as its size when opened (a device such as /dev/zero never ends).
func forFileLines(path string, fn func(line []byte)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return
	}
	r := bufio.NewReaderSize(io.LimitReader(f, st.Size()), 2*chunkBytes)
	skipping := false
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			skipping = true
			continue
		}
		if !skipping && len(line) > 0 {
			fn(bytes.TrimSuffix(line, []byte{'\n'}))
		}
		skipping = false
		if err != nil {
			return
		}
	}
}
