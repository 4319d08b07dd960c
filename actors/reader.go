package actors

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Back-pressure on a child's output: each pipe's reader owns readerBuffers
// buffers of chunkBytes and sends them, filled with whole lines, straight to
// the logbuffer, which hands each back once it has stored it. While all of a
// reader's buffers are with the logbuffer the reader does not read, the
// kernel pipe fills, and the child blocks in write(2), as under a plain pipe.
// So at most readerBuffers × chunkBytes of a pipe's output is ever in bpm's
// hands, however fast the child prints, and the process actor's mailbox
// (stop, status, restart) never holds output at all.
const (
	chunkBytes    = 64 * 1024
	readerBuffers = 4
)

// firstChunkBytes is a reader's buffer size until its pipe fills one: an
// idle or quiet process (most of them) then holds 4 KiB per pipe, not 64.
const firstChunkBytes = 4 * 1024

// maxLineBytes caps one stored line; the rest of a longer line is dropped
// and the stored part ends with truncatedMarker.
const maxLineBytes = chunkBytes

const truncatedMarker = " …[line truncated at 64 KiB]"

// LogChunk carries whole lines of one stream of a run or build, as read from
// its pipe, to the logbuffer: Data holds lines ending in '\n', except that the
// last one may lack it (end of output, or Cut). Cut says the last line was
// longer than maxLineBytes and was cut there. The logbuffer must hand Data
// back on Free (or drop it) once stored: that is the reader's credit.
type LogChunk struct {
	Kind   LogKind
	ID     int
	Stream string
	At     time.Time
	Data   []byte
	Cut    bool
	Free   chan<- []byte
}

// release hands the chunk's buffer back to its reader; it never blocks.
func (c LogChunk) release() {
	if c.Free == nil {
		return
	}
	select {
	case c.Free <- c.Data[:0]:
	default:
	}
}

// pipeReader reads one pipe of a run or build into LogChunks.
type pipeReader struct {
	f      *os.File
	stream string
	send   func(LogChunk) // delivers a chunk to the logbuffer
	// keep, when set, is asked about every line (without its newline); a
	// line it refuses is not logged. Only builds of cargo use it.
	keep func(line []byte) bool
	// ready is matched against every line until some reader of the same
	// child matched it; then onReady is called once (by whichever matched).
	ready   *regexp.Regexp
	matched *atomic.Bool
	onReady func()

	free  chan []byte
	made  int             // buffers in existence, at most readerBuffers
	size  int             // of the buffers it makes: firstChunkBytes, then chunkBytes
	quit  <-chan struct{} // closed when the child is gone and the drain is over
	carry []byte          // the partial last line of the previous read
	skip  bool            // inside a line already cut at maxLineBytes

	lastRead time.Time // when the previous read returned
}

// buffer returns a free buffer, making one while fewer than readerBuffers
// exist; it waits for one to come back otherwise (the back-pressure), or
// returns nil when quit closes.
func (r *pipeReader) buffer() []byte {
	for {
		var b []byte
		select {
		case b = <-r.free:
		default:
			if r.made < readerBuffers {
				r.made++
				return make([]byte, 0, max(r.size, firstChunkBytes))
			}
			select {
			case b = <-r.free:
			case <-r.quit:
				return nil
			}
		}
		if cap(b) >= r.size {
			return b
		}
		r.made-- // a first, small buffer: let it go for a full one
	}
}

// run reads until EOF, a read error or quit, then closes the pipe and
// signals done.
func (r *pipeReader) run(done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	defer r.f.Close()
	for {
		buf := r.buffer()
		if buf == nil {
			return
		}
		buf = append(buf[:0], r.carry...)
		n, err := r.f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) == cap(buf) {
			r.size = chunkBytes // a busy pipe: full-size buffers from now on
		}
		at := time.Now()
		if err != nil {
			r.last(buf, at, err)
			return
		}
		r.chunk(buf, at)
		if n < gatherBelow && at.Sub(r.lastRead) < gatherWithin && !r.pause() {
			return
		}
		r.lastRead = at
	}
}

// A child that writes a line per write(2) as fast as it can would wake the
// reader for every line, and each wake-up costs a read, a chunk message and a
// logbuffer turn. When small reads come back to back, the reader lets the
// pipe gather for gatherPause before it reads again: a steady stream then
// arrives in large chunks, while a process that logs now and then is read
// at once.
const (
	gatherBelow  = 4096
	gatherWithin = time.Millisecond
	gatherPause  = time.Millisecond
)

// pause waits gatherPause; false when the reader must stop instead.
func (r *pipeReader) pause() bool {
	t := time.NewTimer(gatherPause)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.quit:
		return false
	}
}

// chunk sends the whole lines of buf and keeps the partial last line.
func (r *pipeReader) chunk(buf []byte, at time.Time) {
	r.carry = r.carry[:0]
	if r.skip {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			r.putBack(buf)
			return
		}
		r.skip = false
		buf = buf[:copy(buf, buf[i+1:])]
	}
	cut := bytes.LastIndexByte(buf, '\n')
	switch {
	case cut < 0 && len(buf) == cap(buf) && cap(buf) < maxLineBytes:
		// A line longer than a small first buffer: carry it into a full one.
		r.carry = append(r.carry, buf...)
		r.putBack(buf)
		return
	case cut < 0 && len(buf) == cap(buf):
		// A line as long as a whole buffer: keep its start, skip the rest.
		r.skip = true
		r.emit(LogChunk{Data: buf, Cut: true, At: at})
		return
	case cut < 0:
		r.carry = append(r.carry, buf...)
		r.putBack(buf)
		return
	}
	r.carry = append(r.carry, buf[cut+1:]...)
	r.emit(LogChunk{Data: buf[:cut+1], At: at})
}

// last sends what is left at the end of the output.
func (r *pipeReader) last(buf []byte, at time.Time, err error) {
	if r.skip {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[:copy(buf, buf[i+1:])]
		} else {
			buf = buf[:0]
		}
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
		buf = append(buf, "[bpm: read error: "+err.Error()+"]"...)
	}
	if len(buf) == 0 {
		r.putBack(buf)
		return
	}
	r.emit(LogChunk{Data: buf, At: at})
}

func (r *pipeReader) putBack(buf []byte) {
	select {
	case r.free <- buf[:0]:
	default:
	}
}

// emit filters and watches the chunk's lines, then sends it.
func (r *pipeReader) emit(c LogChunk) {
	if r.keep != nil {
		c.Data = filterLines(c.Data, r.keep)
		if len(c.Data) == 0 {
			r.putBack(c.Data)
			return
		}
	}
	if r.ready != nil && !r.matched.Load() {
		forLines(c.Data, func(line []byte) bool {
			if r.ready.Match(line) {
				if r.matched.CompareAndSwap(false, true) {
					r.onReady()
				}
				return false
			}
			return true
		})
	}
	c.Stream, c.Free = r.stream, r.free
	r.send(c)
}

// forLines calls fn with each line of data (without '\n' or a trailing
// '\r') until fn returns false.
func forLines(data []byte, fn func(line []byte) bool) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		line := data
		if i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if !fn(bytes.TrimSuffix(line, []byte{'\r'})) {
			return
		}
	}
}

// filterLines drops, in place, the lines of data keep refuses.
func filterLines(data []byte, keep func(line []byte) bool) []byte {
	out := data[:0]
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		line := data
		if i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if keep(bytes.TrimRight(line, "\r\n")) {
			out = append(out, line...)
		}
	}
	return out
}

// chunkSender returns a send function that delivers chunks of kind and id
// to logs.
func chunkSender(root *actor.RootContext, logs *actor.PID, kind LogKind, id int) func(LogChunk) {
	return func(c LogChunk) {
		c.Kind, c.ID = kind, id
		root.Send(logs, c)
	}
}
