package osproc

import (
	"log/slog"
	"syscall"
	"time"
)

// The keeper looks for descendants that left their group treeInterval
// after any registration or release, and while the looks find changes;
// each look that finds none doubles the wait, up to treeMaxInterval. The
// guard can kill an escaped group if bpm dies only once a look has seen it;
// a look reads every /proc/PID/stat of the machine (milliseconds for a few
// hundred processes), which an idle bpm should not do every second.
const (
	treeInterval    = time.Second
	treeMaxInterval = 10 * time.Second
)

// Keeper operations beside '+' and '-'.
const (
	opRelease = 'r'
	opSignal  = 's'
)

// Release kills every descendant left by the leader pgid, which has
// exited, in its group or out of it, and returns the pids that were alive
// (not zombies). What it forks meanwhile, or what a look finds later with
// its token, is killed on sight until Remove, and after. A nil *Guard
// returns nil.
func (g *Guard) Release(pgid int) []int {
	if g == nil || pgid <= 1 {
		return nil
	}
	reply := make(chan []int, 1)
	select {
	case g.ops <- guardOp{op: opRelease, pgid: pgid, reply: reply}:
	case <-g.done:
		return nil
	}
	select {
	case left := <-reply:
		return left
	case <-g.done:
		return nil
	}
}

// Signal sends sig to the descendants of the leader pgid that left its
// group: the group itself is the caller's to signal (SignalGroup), so no
// process gets sig twice.
func (g *Guard) Signal(pgid int, sig syscall.Signal) {
	g.send(guardOp{op: opSignal, pgid: pgid, sig: sig})
}

// beSubreaper makes bpm the child subreaper of its runs' descendants, or
// says why it cannot.
func beSubreaper() {
	if err := becomeSubreaper(); err != nil {
		slog.Warn("bpm cannot adopt the orphans of its runs; a daemon a run starts (setsid, double fork) is not stopped with the run", "err", err)
	}
}

func (k *guardKeeper) release(root int) []int {
	l := k.tree.look(readProcs())
	left := l.of(root)
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if _, ok := k.tree.roots[root]; ok {
		k.tree.released[root] = true
	}
	k.sweep(l)
	return left
}

func (k *guardKeeper) signal(root int, sig syscall.Signal) {
	l := k.tree.look(readProcs())
	for _, pid := range l.of(root) {
		if l.procs[pid].pgid != root {
			_ = syscall.Kill(pid, sig)
		}
	}
}

func (k *guardKeeper) tick() {
	changed := false
	if k.tree.busy() || len(k.escaped) > 0 {
		changed = k.sweep(k.tree.look(readProcs()))
	}
	if changed {
		k.every = treeInterval
	} else {
		k.every = min(max(2*k.every, treeInterval), treeMaxInterval)
	}
	k.lookAt = time.Now().Add(k.every)
	k.looks.Reset(k.every)
}

// lookSoon brings the next look to within treeInterval: processes were
// just started or ended, and daemons fork as they start.
func (k *guardKeeper) lookSoon() {
	k.every = treeInterval
	if k.looks != nil && time.Until(k.lookAt) > treeInterval {
		k.lookAt = time.Now().Add(treeInterval)
		k.looks.Reset(treeInterval)
	}
}

// sweep acts on a look: what remains of ended or released roots is killed,
// the groups descendants escaped to are registered with the guard process
// (and unregistered once gone), and adopted zombies are reaped.
func (k *guardKeeper) sweep(l *look) (changed bool) {
	for pid, p := range l.procs {
		if !p.zombie && k.tree.doomed(l.owner(pid)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			changed = true
		}
	}
	groups := l.escapedGroups()
	for g, e := range groups {
		if !k.escaped[g] {
			slog.Info("a process left its run's process group; bpm stops it with the run, and the guard kills its group if bpm dies",
				"pid", e.pid, "pgid", g, "leader", e.root)
			k.mark(k.escaped, g, true)
			changed = true
		}
	}
	for g := range k.escaped {
		if _, ok := groups[g]; !ok {
			k.mark(k.escaped, g, false)
			changed = true
		}
	}
	reap := l.reapable(k.tree.zombies, k.tree.known)
	k.tree.remember(l)
	for _, pid := range reap {
		reapZombie(pid)
	}
	// Zombies bpm may reap at the next look: look again soon.
	return changed || len(reap) > 0 || len(k.tree.zombies) > 0
}

// sweepAll kills every descendant bpm knows of, whatever its root, when bpm
// closes the guard: what bpm adopted and cannot name goes too.
func (k *guardKeeper) sweepAll() {
	l := k.tree.look(readProcs())
	for pid, p := range l.procs {
		if !p.zombie && l.owner(pid) != notOurs {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
