package osproc

import (
	"maps"
	"slices"
	"testing"
)

// Fake pids are above any pid_max (4194304), so that the token lookups of a
// look (/proc/PID/environ) find nothing real.
const (
	fakeSelf = 5_000_000 + iota
	fakeSelfPgid
	fakeSelfSid
	fakeRoot
	fakeChild   // root's child, in its group
	fakeSetpgid // root's child that called setpgid(0,0)
	fakeDaemon  // adopted: a double fork's last process, in a session of its own
	fakeLost    // adopted setpgid child, named by an earlier look
	fakeAnon    // adopted setpgid child, never seen before
	fakeGuard   // bpm's own child, not registered
	fakeStray   // a stranger that joined fakeSetpgid's group
	fakeOther   // a stranger
	fakeInit    = 1
)

func fakeTree() *tree {
	t := &tree{self: fakeSelf, selfPgid: fakeSelfPgid, selfSid: fakeSelfSid,
		roots: map[int]string{}, released: map[int]bool{}, byToken: map[string]int{},
		ended: map[string]bool{}, known: map[int]seen{}, zombies: map[int]uint64{}}
	t.add(fakeRoot, "tok")
	return t
}

func fakeProcs() map[int]procInfo {
	ps := []procInfo{
		{pid: fakeSelf, ppid: fakeInit, pgid: fakeSelfPgid, sid: fakeSelfSid, start: 1},
		{pid: fakeRoot, ppid: fakeSelf, pgid: fakeRoot, sid: fakeSelfSid, start: 2},
		{pid: fakeChild, ppid: fakeRoot, pgid: fakeRoot, sid: fakeSelfSid, start: 3},
		{pid: fakeSetpgid, ppid: fakeChild, pgid: fakeSetpgid, sid: fakeSelfSid, start: 4},
		{pid: fakeDaemon, ppid: fakeSelf, pgid: fakeDaemon - 100, sid: fakeDaemon - 100, start: 5},
		{pid: fakeLost, ppid: fakeSelf, pgid: fakeLost, sid: fakeSelfSid, start: 6},
		{pid: fakeAnon, ppid: fakeSelf, pgid: fakeAnon, sid: fakeSelfSid, start: 7},
		{pid: fakeGuard, ppid: fakeSelf, pgid: fakeGuard, sid: fakeSelfSid, start: 8},
		{pid: fakeStray, ppid: fakeInit, pgid: fakeSetpgid, sid: fakeSelfSid, start: 9},
		{pid: fakeOther, ppid: fakeInit, pgid: fakeOther, sid: 77, start: 10},
	}
	m := map[int]procInfo{}
	for _, p := range ps {
		m[p.pid] = p
	}
	return m
}

func TestTreeNamesTheRootOfEveryDescendant(t *testing.T) {
	tr := fakeTree()
	tr.known[fakeLost] = seen{start: 6, owner: fakeRoot}
	tr.known[fakeAnon] = seen{start: 999, owner: fakeRoot} // an earlier process with its pid
	l := tr.look(fakeProcs())
	want := map[int]int{
		fakeSelf: notOurs, fakeRoot: notOurs, fakeChild: fakeRoot, fakeSetpgid: fakeRoot,
		fakeDaemon: unknown, fakeLost: fakeRoot, fakeAnon: notOurs, fakeGuard: notOurs,
		fakeStray: notOurs, fakeOther: notOurs,
	}
	for pid, o := range want {
		if got := l.owner(pid); got != o {
			t.Errorf("owner of %d = %d, want %d", pid-fakeSelf, got, o)
		}
	}
	if got := l.of(fakeRoot); !slices.Equal(got, []int{fakeChild, fakeSetpgid, fakeLost}) {
		t.Errorf("of(root) = %v", got)
	}
	// fakeSetpgid's group has a stranger in it: the guard must not kill it
	// whole. fakeLost's group is all bpm's.
	if got := slices.Sorted(maps.Keys(l.escapedGroups())); !slices.Equal(got, []int{fakeLost}) {
		t.Errorf("escaped groups = %v, want only %d", got, fakeLost)
	}
	// Once the root is removed, what it left is finished: killed on sight.
	tr.remember(l)
	tr.remove(fakeRoot)
	l = tr.look(fakeProcs())
	if o := l.owner(fakeLost); o != finished || !tr.doomed(o) {
		t.Errorf("owner of the lost child after its root ended = %d, want finished", o)
	}
}

// Zombie children of bpm are reaped only when bpm surely did not start them
// itself (os/exec waits for those): attributed by an earlier look, or moved
// out of bpm's session or groups and seen as zombies twice.
func TestTreeReapsOnlyAdoptedZombies(t *testing.T) {
	tr := fakeTree()
	procs := fakeProcs()
	for _, pid := range []int{fakeDaemon, fakeLost, fakeAnon, fakeGuard} {
		p := procs[pid]
		p.zombie = true
		procs[pid] = p
	}
	tr.known[fakeLost] = seen{start: 6, owner: fakeRoot}
	l := tr.look(procs)
	if got := l.reapable(tr.zombies, tr.known); !slices.Equal(got, []int{fakeLost}) {
		t.Errorf("first look reaps %v, want only the known one", got)
	}
	tr.remember(l)
	l = tr.look(procs)
	got := l.reapable(tr.zombies, tr.known)
	slices.Sort(got)
	if !slices.Equal(got, []int{fakeDaemon, fakeLost}) {
		t.Errorf("second look reaps %v, want the daemon and the known one, never the guard or the unnamed one", got)
	}
}

func TestParseStatReadsPastOddCommandNames(t *testing.T) {
	line := "4242 (a) b (c)) S 1 4242 4240 0 -1 4194304 1 0 0 0 0 0 0 0 20 0 1 0 123456 1000 1\n"
	p, ok := parseStat([]byte(line))
	if !ok || p.pid != 4242 || p.ppid != 1 || p.pgid != 4242 || p.sid != 4240 || p.start != 123456 || p.zombie {
		t.Errorf("parseStat = %+v, %v", p, ok)
	}
	if _, ok := parseStat([]byte("12 (x) Z 1")); ok {
		t.Error("a cut line parsed")
	}
	if tok := tokenIn([]byte("A=1\x00" + TokenEnv + "=99.3\x00B=2")); tok != "99.3" {
		t.Errorf("tokenIn = %q", tok)
	}
}

// BenchmarkLook is one look over this machine's process table, as the
// keeper makes it every treeInterval while anything runs.
func BenchmarkLook(b *testing.B) {
	tr := newTree()
	tr.add(1<<23, "")
	for b.Loop() {
		l := tr.look(readProcs())
		_ = l.escapedGroups()
		tr.remember(l)
	}
}

// bpm as a container's pid 1: what it adopted has ppid 1, which is bpm's
// own pid, and is followed as under any other subreaper.
func TestTreeFollowsAdoptedProcessesWhenBPMIsPidOne(t *testing.T) {
	tr := &tree{self: 1, selfPgid: 1, selfSid: 1,
		roots: map[int]string{}, released: map[int]bool{}, byToken: map[string]int{},
		ended: map[string]bool{}, known: map[int]seen{}, zombies: map[int]uint64{}}
	tr.add(fakeRoot, "tok")
	procs := map[int]procInfo{
		1:           {pid: 1, ppid: 0, pgid: 1, sid: 1, start: 1},
		fakeRoot:    {pid: fakeRoot, ppid: 1, pgid: fakeRoot, sid: 1, start: 2},
		fakeSetpgid: {pid: fakeSetpgid, ppid: fakeRoot, pgid: fakeSetpgid, sid: 1, start: 4},
		fakeLost:    {pid: fakeLost, ppid: 1, pgid: fakeLost, sid: 1, start: 6},
		fakeDaemon:  {pid: fakeDaemon, ppid: 1, pgid: fakeDaemon, sid: fakeDaemon, start: 5},
	}
	tr.known[fakeLost] = seen{start: 6, owner: fakeRoot}
	l := tr.look(procs)
	want := map[int]int{1: notOurs, fakeRoot: notOurs, fakeSetpgid: fakeRoot, fakeLost: fakeRoot, fakeDaemon: unknown}
	for pid, o := range want {
		if got := l.owner(pid); got != o {
			t.Errorf("owner of %d = %d, want %d", pid, got, o)
		}
	}
	lost := procs[fakeLost]
	lost.zombie = true
	procs[fakeLost] = lost
	tr.remember(l)
	if got := tr.look(procs).reapable(tr.zombies, tr.known); !slices.Equal(got, []int{fakeLost}) {
		t.Errorf("reapable = %v, want the adopted zombie %d", got, fakeLost)
	}
}

// A leader's pid taken again by a new leader before the old one's Remove:
// the old Release must not doom the new leader's descendants.
func TestTreeNewRootOnAReusedPidIsNotReleased(t *testing.T) {
	tr := fakeTree()
	tr.released[fakeRoot] = true
	tr.add(fakeRoot, "tok2")
	l := tr.look(fakeProcs())
	if o := l.owner(fakeChild); o != fakeRoot || tr.doomed(o) {
		t.Errorf("owner of the new leader's child = %d (doomed %v), want %d, not doomed", o, tr.doomed(o), fakeRoot)
	}
	if !tr.ended["tok"] {
		t.Error("the old leader's token is not counted as ended")
	}
}
