package actors

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// What may wait for a slow stdout or stderr before further output is dropped
// from the pass-through (not from the rings): a number of batches (a chunk's
// lines each) and a number of bytes.
const (
	passthroughQueue = 1024
	passthroughBytes = 1 << 20
)

// flushTimeout bounds how long a shutdown waits for queued lines to be written.
const flushTimeout = 2 * time.Second

// passthrough writes a logbuffer's lines to bpm's stdout or stderr from a
// goroutine of its own. A terminal paused with Ctrl-S, or a pipe nobody
// reads, then stalls only that goroutine: the logbuffer keeps storing and
// answering searches, and bpm keeps draining the children's pipes, so an app
// never blocks on its own logging because bpm's output is stuck.
type passthrough struct {
	queue   chan passItem
	free    chan []byte  // written batches' buffers, for the next ones
	queued  atomic.Int64 // bytes queued and not yet written
	batches atomic.Int64 // batches queued and not yet written (the writer may hold some)
	dropped int          // lines not queued since the last note; only Write touches it
}

// passItem is a batch of lines to write, or (done set) a flush marker.
type passItem struct {
	lines []byte
	done  chan struct{}
}

// newPassthrough starts the goroutine writing to w.
func newPassthrough(w io.Writer) *passthrough {
	p := &passthrough{queue: make(chan passItem, passthroughQueue), free: make(chan []byte, 4)}
	go func() {
		var out []byte
		for it := range p.queue {
			// What else waits goes out in the same write: under a stream
			// of small chunks that is one write(2) for many.
			out = append(out[:0], it.lines...)
			p.recycle(it.lines)
			taken := int64(0) // batches taken, flush markers aside
			if it.done == nil {
				taken = 1
			}
			for more := true; more && it.done == nil && len(out) < passthroughBytes; {
				select {
				case next := <-p.queue:
					if next.done != nil {
						it = next
						continue
					}
					out = append(out, next.lines...)
					p.recycle(next.lines)
					taken++
				default:
					more = false
				}
			}
			// A broken terminal must not stop the logs being kept.
			if len(out) > 0 {
				_, _ = w.Write(out)
				p.queued.Add(-int64(len(out)))
			}
			p.batches.Add(-taken)
			if it.done != nil {
				close(it.done)
			}
			if cap(out) > passthroughBytes {
				out = nil
			}
		}
	}()
	return p
}

// Write queues a copy of lines (whole lines, each ending in '\n') and never
// blocks; when the queue is full they are dropped, and a note saying how
// many lines were dropped goes out first once there is room again.
func (p *passthrough) Write(lines []byte) (int, error) {
	if p.dropped > 0 {
		note := fmt.Sprintf("[bpm] %d lines were not passed through: this output did not keep up (search_logs has them)\n", p.dropped)
		if !p.offer([]byte(note)) {
			p.dropped += bytes.Count(lines, []byte{'\n'})
			return len(lines), nil
		}
		p.dropped = 0
	}
	if p.queued.Load()+int64(len(lines)) > passthroughBytes || !p.offer(append(p.buffer(), lines...)) {
		p.dropped += bytes.Count(lines, []byte{'\n'})
	}
	return len(lines), nil
}

// recycle offers a written batch's buffer for the next one.
func (p *passthrough) recycle(b []byte) {
	select {
	case p.free <- b[:0]:
	default:
	}
}

// buffer returns an empty buffer, one already written if there is one, so
// a steady stream of batches allocates nothing.
func (p *passthrough) buffer() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return nil
	}
}

// offer queues lines unless passthroughQueue batches wait already, those
// the writer took but has not written yet included.
func (p *passthrough) offer(lines []byte) bool {
	if p.batches.Load() >= passthroughQueue {
		return false
	}
	p.queued.Add(int64(len(lines)))
	p.batches.Add(1)
	select {
	case p.queue <- passItem{lines: lines}:
		return true
	default:
		p.queued.Add(-int64(len(lines)))
		p.batches.Add(-1)
		return false
	}
}

// flush waits until every line queued before it is written, at most d.
func (p *passthrough) flush(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	done := make(chan struct{})
	select {
	case p.queue <- passItem{done: done}:
	case <-t.C:
		return
	}
	select {
	case <-done:
	case <-t.C:
	}
}

// close writes what is queued (at most flushTimeout) and ends the writer
// goroutine; the logbuffer is stopping and writes no more.
func (p *passthrough) close() {
	p.flush(flushTimeout)
	close(p.queue)
}
