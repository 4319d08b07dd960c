package actors

import (
	"math"
	"slices"
)

// lineCost is what a stored line counts against log_bytes besides its text:
// about what its Line costs in memory.
const lineCost = 64

// ring keeps the last lines of one run or build, bounded both in lines
// (log_lines) and in bytes (log_bytes): the oldest lines are dropped first.
// Its slice grows by doubling up to the line bound, so a three-line run costs
// three slots, not log_lines.
type ring struct {
	capacity int // lines kept at most
	maxBytes int // text plus lineCost per line kept at most
	buf      []Line
	start    int // index in buf of the oldest line
	n        int // lines kept
	bytes    int // text plus lineCost of the lines kept
	total    int // lines ever added, dropped ones included
}

// minRingGrowth keeps the first allocations of a ring from being tiny.
const minRingGrowth = 16

// newRing returns a ring of capacity lines (at least 1) and no byte bound.
func newRing(capacity int) ring {
	return ring{capacity: max(capacity, 1), maxBytes: math.MaxInt}
}

// newBoundedRing returns a ring of capacity lines and maxBytes bytes.
func newBoundedRing(capacity, maxBytes int) ring {
	r := newRing(capacity)
	if maxBytes > 0 {
		r.maxBytes = maxBytes
	}
	return r
}

// add stores l as the next line, numbering it total+1 so numbers keep
// counting from 1 even after older lines are dropped. The newest line is
// always kept, even alone beyond the byte bound.
func (r *ring) add(l Line) {
	r.total++
	l.N = r.total
	l.Match = false
	cost := len(l.Text) + lineCost
	for r.n > 0 && (r.n == r.capacity || r.bytes+cost > r.maxBytes) {
		r.dropOldest()
	}
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.start+r.n)%len(r.buf)] = l
	r.n++
	r.bytes += cost
}

func (r *ring) dropOldest() {
	r.bytes -= len(r.buf[r.start].Text) + lineCost
	r.buf[r.start] = Line{} // let the text go
	r.start = (r.start + 1) % len(r.buf)
	r.n--
}

// grow doubles buf, up to capacity; it is called only when buf is full.
func (r *ring) grow() {
	grown := make([]Line, min(max(2*len(r.buf), minRingGrowth), r.capacity))
	copy(grown, r.ordered())
	r.buf, r.start = grown, 0
}

// ordered returns the kept lines oldest first. It rotates the buffer in place
// rather than copying it, so the result aliases the ring and is valid only
// until the next add.
func (r *ring) ordered() []Line {
	if r.start != 0 {
		slices.Reverse(r.buf[:r.start])
		slices.Reverse(r.buf[r.start:])
		slices.Reverse(r.buf)
		r.start = 0
	}
	return r.buf[:r.n]
}

// markNewest appends suffix to the newest line's text.
func (r *ring) markNewest(suffix string) {
	if r.n == 0 {
		return
	}
	l := &r.buf[(r.start+r.n-1)%len(r.buf)]
	l.Text += suffix
	r.bytes += len(suffix)
}

// last returns the texts of the newest n lines, oldest first.
func (r *ring) last(n int) []string {
	n = min(n, r.n)
	out := make([]string, 0, n)
	for i := r.n - n; i < r.n; i++ {
		out = append(out, r.buf[(r.start+i)%len(r.buf)].Text)
	}
	return out
}
