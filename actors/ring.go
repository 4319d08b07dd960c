package actors

import (
	"math"
	"time"
	"unsafe"
)

// entry is one stored line: where its text lies and what came with it. It
// holds no pointer, so the garbage collector never scans a ring's index,
// however many lines it has.
type entry struct {
	at     int64  // unix nanoseconds
	off    uint32 // offset of the text in its slab
	size   uint32 // length of the text
	slab   uint32 // sequence number of the slab
	stream uint8  // 0 stdout, 1 stderr
}

// entrySize is what one line costs besides its text.
const entrySize = int(unsafe.Sizeof(entry{}))

// Slab sizes: a ring's first slab is small, so a three-line run costs a few
// KiB; each next one doubles, up to maxSlab (or a quarter of the byte bound).
const (
	minSlab = 4 << 10
	maxSlab = 1 << 20
)

// minRingGrowth keeps the first allocations of a ring's index from being tiny.
const minRingGrowth = 16

// ring keeps the last lines of one run or build, bounded both in lines
// (log_lines) and in bytes (log_bytes: the slabs plus entrySize per line).
// Texts are copied into append-only slabs; an index of fixed-size entries in
// a circular buffer says where each line is. Dropping the oldest lines frees
// whole slabs. Neither the index nor the slabs hold pointers.
type ring struct {
	capacity  int // lines kept at most
	maxBytes  int // slab bytes plus entrySize per line kept at most
	idx       []entry
	start     int // index in idx of the oldest line
	n         int // lines kept
	slabs     [][]byte
	firstSlab uint32 // sequence number of slabs[0]
	slabBytes int    // the slabs' capacity
	spare     []byte // a dropped slab kept for the next one, so a full ring allocates nothing
	total     int    // lines ever added, dropped ones included
}

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

// bytes is what the ring's lines cost against its byte bound.
func (r *ring) bytes() int { return r.slabBytes + r.n*entrySize }

// push stores text+suffix as the next line, at at (unix nanoseconds). The
// newest line is always kept, even alone beyond the byte bound.
func (r *ring) push(stream uint8, at int64, text, suffix []byte) {
	r.total++
	if r.n == r.capacity {
		r.dropOldest()
	}
	size := len(text) + len(suffix)
	last := len(r.slabs) - 1
	if last < 0 || cap(r.slabs[last])-len(r.slabs[last]) < size {
		r.newSlab(size)
		last = len(r.slabs) - 1
	}
	for len(r.slabs) > 1 && r.bytes()+entrySize > r.maxBytes {
		r.dropOldestSlab()
		last = len(r.slabs) - 1
	}
	slab := r.slabs[last]
	off := len(slab)
	slab = append(append(slab, text...), suffix...)
	r.slabs[last] = slab
	if r.n == len(r.idx) {
		r.grow()
	}
	pos := r.start + r.n
	if pos >= len(r.idx) {
		pos -= len(r.idx)
	}
	r.idx[pos] = entry{at: at, off: uint32(off), size: uint32(size), slab: r.firstSlab + uint32(last), stream: stream}
	r.n++
}

// add stores l (its text, stream and time); tests and single lines use it.
func (r *ring) add(l Line) {
	var stream uint8
	if l.Stream == Stderr {
		stream = 1
	}
	r.push(stream, l.Time.UnixNano(), []byte(l.Text), nil)
}

// newSlab starts a slab with room for at least size bytes.
func (r *ring) newSlab(size int) {
	n := minSlab
	if last := len(r.slabs) - 1; last >= 0 {
		n = 2 * cap(r.slabs[last])
	}
	n = min(n, maxSlab, max(r.maxBytes/4, minSlab))
	n = max(n, size)
	slab := r.spare
	if cap(slab) == n {
		r.spare = nil
	} else {
		slab = make([]byte, 0, n)
	}
	r.slabs = append(r.slabs, slab[:0])
	r.slabBytes += n
}

// freeOldestSlab drops slabs[0], keeping it as the spare.
func (r *ring) freeOldestSlab() {
	r.slabBytes -= cap(r.slabs[0])
	r.spare = r.slabs[0]
	r.slabs[0] = nil
	r.slabs = r.slabs[1:]
	r.firstSlab++
}

// dropOldestSlab drops the oldest slab and every line in it.
func (r *ring) dropOldestSlab() {
	for r.n > 0 && r.idx[r.start].slab == r.firstSlab {
		r.advance()
	}
	r.freeOldestSlab()
}

// advance forgets the oldest line's entry.
func (r *ring) advance() {
	r.start++
	if r.start == len(r.idx) {
		r.start = 0
	}
	r.n--
}

// dropOldest drops the oldest line, and the slabs no kept line is in any more
// (never the newest slab, which new lines go on filling).
func (r *ring) dropOldest() {
	r.advance()
	for len(r.slabs) > 1 && (r.n == 0 || r.idx[r.start].slab > r.firstSlab) {
		r.freeOldestSlab()
	}
}

// grow doubles the index, up to capacity; it is called only when it is full.
func (r *ring) grow() {
	grown := make([]entry, min(max(2*len(r.idx), minRingGrowth), r.capacity))
	for i := range r.n {
		grown[i] = r.idx[(r.start+i)%len(r.idx)]
	}
	r.idx, r.start = grown, 0
}

// at returns the entry of the i-th kept line, 0 being the oldest.
func (r *ring) at(i int) entry {
	if i += r.start; i >= len(r.idx) {
		i -= len(r.idx)
	}
	return r.idx[i]
}

// text returns e's text; it aliases the slab, so copy it before the ring
// changes.
func (r *ring) text(e entry) []byte {
	return r.slabs[e.slab-r.firstSlab][e.off : e.off+e.size]
}

// firstN is the number of the oldest kept line (numbers count from 1 at the
// start of the run, dropped lines included).
func (r *ring) firstN() int { return r.total - r.n + 1 }

// line returns the i-th kept line as a Line with its own copy of the text
// (invalid UTF-8 replaced).
func (r *ring) line(i int) Line {
	e := r.at(i)
	stream := Stdout
	if e.stream == 1 {
		stream = Stderr
	}
	return Line{N: r.firstN() + i, Time: time.Unix(0, e.at), Stream: stream, Text: lineText(r.text(e))}
}

// last returns the texts of the newest n lines, oldest first.
func (r *ring) last(n int) []string {
	n = min(n, r.n)
	out := make([]string, 0, n)
	for i := r.n - n; i < r.n; i++ {
		out = append(out, lineText(r.text(r.at(i))))
	}
	return out
}
