package actors

import (
	"fmt"
	"io"
	"time"
)

// passthroughQueue is how many lines may wait for a slow stdout or stderr
// before further lines are dropped from the pass-through (not from the rings).
const passthroughQueue = 8192

// flushTimeout bounds how long a shutdown waits for queued lines to be written.
const flushTimeout = 2 * time.Second

// passthrough writes a logbuffer's lines to bpm's stdout or stderr from a
// goroutine of its own. A terminal paused with Ctrl-S, or a pipe nobody
// reads, then stalls only that goroutine: the logbuffer keeps storing and
// answering searches, and bpm keeps draining the children's pipes, so an app
// never blocks on its own logging because bpm's output is stuck.
type passthrough struct {
	queue   chan passItem
	dropped int // lines not queued since the last note; only Write touches it
}

// passItem is a line to write, or (done set) a flush marker.
type passItem struct {
	line []byte
	done chan struct{}
}

// newPassthrough starts the goroutine writing to w.
func newPassthrough(w io.Writer) *passthrough {
	p := &passthrough{queue: make(chan passItem, passthroughQueue)}
	go func() {
		for it := range p.queue {
			if it.done != nil {
				close(it.done)
				continue
			}
			// A broken terminal must not stop the logs being kept.
			_, _ = w.Write(it.line)
		}
	}()
	return p
}

// Write queues a copy of line and never blocks; when the queue is full the
// line is dropped, and a note saying how many were dropped goes out first
// once there is room again.
func (p *passthrough) Write(line []byte) (int, error) {
	if p.dropped > 0 {
		note := fmt.Sprintf("[bpm] %d lines were not passed through: this output did not keep up (search_logs has them)\n", p.dropped)
		if !p.offer([]byte(note)) {
			p.dropped++
			return len(line), nil
		}
		p.dropped = 0
	}
	if !p.offer(append([]byte(nil), line...)) {
		p.dropped++
	}
	return len(line), nil
}

func (p *passthrough) offer(line []byte) bool {
	select {
	case p.queue <- passItem{line: line}:
		return true
	default:
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
