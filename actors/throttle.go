package actors

import (
	"bytes"
	"fmt"
	"time"
)

// A run started in a crash loop (LogStart.Throttle) keeps only its first
// throttleLines lines; the rest are counted in RunInfo.Lines, and one
// marker line says so. A process that crashes every second with a page of
// output then costs neither memory, nor terminal, nor disk.
const throttleLines = 50

// throttleMarker is stored, written through and written to log_dir once,
// in place of a throttled run's first line beyond throttleLines.
const throttleMarker = "[bpm] crash loop: the rest of this run's output is counted, not kept"

// throttle splits data (whole lines, the last maybe without '\n') into the
// lines r may still keep and the number of lines beyond them.
func (r *runLog) throttle(data []byte) (keep []byte, over int) {
	room := throttleLines - r.ring.total
	if r.marked {
		room = 0
	}
	end := 0
	for room > 0 && end < len(data) {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			end = len(data)
		} else {
			end += i + 1
		}
		room--
	}
	rest := data[end:]
	over = bytes.Count(rest, []byte{'\n'})
	if len(rest) > 0 && rest[len(rest)-1] != '\n' {
		over++
	}
	return data[:end], over
}

// overflow counts n lines of r that were not kept, and stores the marker
// the first time.
func (b *LogBuffer) overflow(r *runLog, kind LogKind, n int) {
	r.counted += n
	if r.marked {
		return
	}
	r.marked = true
	r.counted-- // the marker takes the place of the first line not kept
	b.storeNote(r, kind, throttleMarker)
}

// unthrottle keeps run id's later lines again, saying how many were not.
func (b *LogBuffer) unthrottle(id int) {
	r := b.find(KindRun, id)
	if r == nil || !r.start.Throttle {
		return
	}
	r.start.Throttle = false
	if r.counted > 0 {
		b.storeNote(r, KindRun, fmt.Sprintf("[bpm] crash loop over: output is kept again; %d lines before this one were counted, not kept", r.counted))
	}
}

// note stores text (a note about log_dir, when not empty) as a bpm line of
// the newest ring of kind.
func (b *LogBuffer) note(kind LogKind, text string) {
	if text == "" || len(b.history[kind]) == 0 {
		return
	}
	h := b.history[kind]
	b.storeNote(h[len(h)-1], kind, text)
}

// storeNote stores text as a stderr line of r, written through and, while
// that works, to log_dir.
func (b *LogBuffer) storeNote(r *runLog, kind LogKind, text string) {
	c := LogChunk{Kind: kind, Stream: Stderr, At: time.Now(), Data: []byte(text + "\n")}
	b.store(r, c, c.Data)
}

// streamByte is the ring's code for stream: 0 stdout, 1 stderr.
func streamByte(stream string) uint8 {
	if stream == Stderr {
		return 1
	}
	return 0
}
