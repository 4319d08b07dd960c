package osproc

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
)

// TokenEnv is the variable bpm sets in the environment of every run, build
// and exec probe: a token ("BPMPID.N") that its descendants inherit, by
// which bpm still knows whose a process is once the process has left its
// run's process group and lost its parent (a double-forking daemon).
const TokenEnv = "BPM_RUN_ID"

var tokenSeq atomic.Uint64

// NewToken returns a token no other spawn of this bpm has.
func NewToken() string {
	return strconv.Itoa(os.Getpid()) + "." + strconv.FormatUint(tokenSeq.Add(1), 10)
}

// procInfo is one process as /proc/PID/stat shows it.
type procInfo struct {
	pid, ppid, pgid, sid int
	start                uint64 // clock ticks after boot: with pid, names one process
	zombie               bool
}

// parseStat reads /proc/PID/stat. The command name, in parentheses, may
// hold spaces and parentheses itself: the fields start after the last ')'.
func parseStat(b []byte) (procInfo, bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return procInfo{}, false
	}
	var p procInfo
	pid, ok := atoi(bytes.TrimSpace(b[:open]))
	if !ok {
		return procInfo{}, false
	}
	p.pid = pid
	// Fields after the name: 0 state, 1 ppid, 2 pgrp, 3 session, … 19 starttime.
	rest, i := b[end+1:], 0
	for len(rest) > 0 && i <= 19 {
		rest = bytes.TrimLeft(rest, " ")
		f := rest
		if sp := bytes.IndexByte(rest, ' '); sp >= 0 {
			f, rest = rest[:sp], rest[sp:]
		} else {
			rest = nil
		}
		f = bytes.TrimRight(f, "\n")
		var n int
		switch i {
		case 0:
			p.zombie = len(f) == 1 && (f[0] == 'Z' || f[0] == 'X')
		case 1, 2, 3:
			if n, ok = atoi(f); !ok {
				return procInfo{}, false
			}
			switch i {
			case 1:
				p.ppid = n
			case 2:
				p.pgid = n
			case 3:
				p.sid = n
			}
		case 19:
			start, err := strconv.ParseUint(string(f), 10, 64)
			if err != nil {
				return procInfo{}, false
			}
			p.start = start
		}
		i++
	}
	return p, i > 19
}

// atoi reads a decimal int, with a leading '-' (a tty of -1).
func atoi(b []byte) (int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// tokenIn finds TokenEnv in a NUL-separated environment block.
func tokenIn(environ []byte) string {
	key := []byte(TokenEnv + "=")
	for kv := range bytes.SplitSeq(environ, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, key); ok {
			return string(v)
		}
	}
	return ""
}

// Owners of a process, besides the pid of the registered leader (a root)
// it descends from.
const (
	notOurs  = 0  // descends from nothing bpm registered
	finished = -1 // descends from a run, build or probe that has ended
	unknown  = -2 // adopted by bpm, from a root bpm cannot name
)

// maxFinished bounds the tokens of ended roots that are remembered, so that
// a straggler carrying one is killed on sight.
const maxFinished = 4096

// tree follows the descendants of the leaders bpm registered (roots), also
// those that left the root's process group: while their ancestors live, by
// their parent chain; once an ancestor died, bpm (a child subreaper) has
// adopted them, and they are named by what an earlier look saw or by the
// token in their environment. Only the guard's keeper goroutine uses it.
type tree struct {
	self, selfPgid, selfSid int
	roots                   map[int]string // leader pid → its token
	released                map[int]bool   // roots whose leader exited: what is left of them dies
	byToken                 map[string]int
	ended                   map[string]bool // tokens of removed roots
	endedOrder              []string
	known                   map[int]seen // descendants the last look attributed
	zombies                 map[int]uint64
}

// seen is a process a look attributed: start tells it from a later
// process with its pid.
type seen struct {
	start uint64
	owner int
}

func newTree() *tree {
	self, pgid, sid := selfIDs()
	return &tree{self: self, selfPgid: pgid, selfSid: sid,
		roots: map[int]string{}, released: map[int]bool{}, byToken: map[string]int{},
		ended: map[string]bool{}, known: map[int]seen{}, zombies: map[int]uint64{}}
}

func (t *tree) add(pid int, token string) {
	// A root whose pid is taken again before its Remove arrived is over:
	// its Release must not doom the new leader's descendants.
	if old, ok := t.roots[pid]; ok && old != token {
		t.remove(pid)
	}
	t.roots[pid] = token
	if token != "" {
		t.byToken[token] = pid
	}
}

// remove forgets root pid; whatever still carries its token is a leftover.
func (t *tree) remove(pid int) {
	tok, ok := t.roots[pid]
	if !ok {
		return
	}
	delete(t.roots, pid)
	delete(t.released, pid)
	if tok == "" {
		return
	}
	delete(t.byToken, tok)
	t.ended[tok] = true
	t.endedOrder = append(t.endedOrder, tok)
	if len(t.endedOrder) > maxFinished {
		delete(t.ended, t.endedOrder[0])
		t.endedOrder = t.endedOrder[1:]
	}
}

// busy reports whether there is anything to look for.
func (t *tree) busy() bool { return len(t.roots) > 0 || len(t.known) > 0 || len(t.zombies) > 0 }

// look is one reading of the process table.
type look struct {
	t      *tree
	procs  map[int]procInfo
	owners map[int]int
}

func (t *tree) look(procs map[int]procInfo) *look {
	return &look{t: t, procs: procs, owners: map[int]int{}}
}

// owner is the root pid the process descends from, or notOurs, finished or
// unknown. A root is not its own descendant.
func (l *look) owner(pid int) int {
	var path []int
	o, q := notOurs, pid
	for range 1024 {
		if m, ok := l.owners[q]; ok {
			o = m
			break
		}
		path = append(path, q)
		p, ok := l.procs[q]
		if !ok {
			break
		}
		if l.isRoot(p.ppid) {
			o = p.ppid
			break
		}
		// Before the stop at init: bpm may be pid 1 (a container's
		// entrypoint), and then what it adopted has ppid 1.
		if p.ppid == l.t.self {
			if !l.isRoot(q) {
				o = l.adopted(p)
			}
			break
		}
		if p.ppid <= 1 {
			break
		}
		q = p.ppid
	}
	for _, x := range path {
		l.owners[x] = o
	}
	return o
}

// isRoot: pid is a registered leader and still bpm's child (not a process
// that took its pid after it was reaped).
func (l *look) isRoot(pid int) bool {
	_, ok := l.t.roots[pid]
	return ok && l.procs[pid].ppid == l.t.self
}

// adopted names the owner of p, a child of bpm that bpm did not register:
// an orphan bpm adopted, or one of bpm's own children (the guard, a check,
// a leader whose Add is still on its way). bpm's own children share its
// session and lead their own group or stay in bpm's; one that does not was
// adopted. One that does (a setpgid child whose parent died) is named only
// by an earlier look or by its token.
func (l *look) adopted(p procInfo) int {
	t := l.t
	if k, ok := t.known[p.pid]; ok && k.start == p.start {
		return t.current(k.owner)
	}
	moved := p.sid != t.selfSid || (p.pgid != p.pid && p.pgid != t.selfPgid)
	if p.zombie {
		if moved {
			return unknown
		}
		return notOurs
	}
	tok := readToken(p.pid)
	if r, ok := t.byToken[tok]; ok && tok != "" {
		return r
	}
	if t.ended[tok] {
		return finished
	}
	if moved {
		return unknown
	}
	return notOurs
}

// current is owner o as it stands now: a root that was removed is finished.
func (t *tree) current(o int) int {
	if _, ok := t.roots[o]; o > 0 && !ok {
		return finished
	}
	return o
}

// doomed: a process of a released or ended root, killed on sight.
func (t *tree) doomed(o int) bool { return o == finished || (o > 0 && t.released[o]) }

// of lists the live processes that descend from root, sorted.
func (l *look) of(root int) []int {
	var pids []int
	for pid, p := range l.procs {
		if !p.zombie && l.owner(pid) == root {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// escapedGroups returns the process groups of live descendants that left
// their root's group and that hold only bpm's descendants: the guard may
// kill those whole (never bpm's own group, nor one a stranger shares).
func (l *look) escapedGroups() map[int]escape {
	groups := map[int]escape{}
	dirty := map[int]bool{}
	for pid, p := range l.procs {
		o := l.owner(pid)
		switch {
		case o == notOurs:
			dirty[p.pgid] = true
		case o > 0 && p.pgid != o && !p.zombie && !l.t.released[o]:
			if _, ok := groups[p.pgid]; !ok {
				groups[p.pgid] = escape{pid: pid, root: o}
			}
		}
	}
	for g := range groups {
		if _, root := l.t.roots[g]; root || dirty[g] || g <= 1 || g == l.t.selfPgid {
			delete(groups, g)
		}
	}
	return groups
}

// escape is a process group a descendant moved to: pid is one of its
// members, root the leader it descends from.
type escape struct{ pid, root int }

// remember keeps what l attributed for the next look, and which children
// of bpm were zombies that bpm did not start.
func (t *tree) remember(l *look) {
	known, zombies := map[int]seen{}, map[int]uint64{}
	for pid, p := range l.procs {
		o := l.owner(pid)
		if o > 0 || o == finished {
			known[pid] = seen{start: p.start, owner: o}
		}
		if p.zombie && p.ppid == t.self && o != notOurs {
			zombies[pid] = p.start
		}
	}
	t.known, t.zombies = known, zombies
}

// reapable lists bpm's zombie children that it adopted and that os/exec
// does not wait for: attributed by an earlier look, or seen as such a
// zombie by the previous look too (a process bpm just started is registered
// by then).
func (l *look) reapable(prevZombies map[int]uint64, prevKnown map[int]seen) []int {
	var pids []int
	for pid, p := range l.procs {
		if _, root := l.t.roots[pid]; root || !p.zombie || p.ppid != l.t.self {
			continue
		}
		k, seenBefore := prevKnown[pid]
		if (seenBefore && k.start == p.start) || (prevZombies[pid] == p.start && l.owner(pid) != notOurs) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (e escape) String() string { return fmt.Sprintf("pid %d of the group led by %d", e.pid, e.root) }
