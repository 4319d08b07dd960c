package osproc

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// guardQueue registrations wait for the keeper while it starts a guard,
	// so that Add and Remove do not hold an actor up.
	guardQueue = 1024
	// guardWriteTimeout: a guard that takes no line for this long is stuck
	// (stopped, say); it is killed and replaced.
	guardWriteTimeout = 5 * time.Second
	// guardCloseWait bounds how long Close waits for the guard's clean-up;
	// after it bpm kills the registered groups itself.
	guardCloseWait = 5 * time.Second
	// A guard that ends within guardQuickExit of its start counts as a
	// failure; replacing failures in a row waits from guardMinDelay,
	// doubling up to guardMaxDelay, so a guard that cannot run does not
	// make bpm fork in a loop.
	guardQuickExit = time.Second
	guardMinDelay  = 100 * time.Millisecond
	guardMaxDelay  = 5 * time.Second
	// pipeMinCapacity is what any Linux pipe holds before it is read.
	pipeMinCapacity = 4096
)

// Guard reports the process groups of runs and builds to a guard process,
// which kills those still registered when bpm goes away, however it goes
// (SIGKILL included): Pdeathsig only reaches a group's leader, not what the
// leader forked. Its keeper also follows each leader's descendants that
// leave its group (tree.go, guardtree.go): it stops them with the leader and
// registers their groups too. A nil *Guard does nothing.
//
// One goroutine, the keeper, owns the registered groups and the guard
// process; Add, Remove and Close send it messages. When the guard process
// ends while bpm runs (killed by a user or the OOM killer), the keeper starts
// a new one and registers every group with it again, so that killing the
// guard and then bpm leaves nothing behind.
//
// The guard learns of bpm's death from its stdin: bpm holds the only write
// end of that pipe (O_CLOEXEC, so neither the guard nor a run inherits it),
// and the kernel closes it however bpm dies. The guard has no Pdeathsig: as
// SIGKILL it would kill the guard before it cleans up, and a signal it
// caught would tell it nothing EOF does not, while the kernel sends it when
// the thread that forked the guard ends, which in Go need not be bpm's end.
// The guard is no child subreaper either: that adopts only the guard's own
// orphaned descendants, and the runs descend from bpm, which is one. It leads its own process
// group, so a signal to bpm's group (`kill -9 %1` in a shell) leaves it
// there to clean up.
type Guard struct {
	ops  chan guardOp  // to the keeper
	done chan struct{} // closed once the keeper has finished (after Close)
}

// guardOp is a message to the keeper: '+' or '-' with a group, or close;
// or, about the descendants of a registered leader, opRelease and opSignal.
type guardOp struct {
	op    byte // '+', '-', opRelease, opSignal, or 0 for Close
	pgid  int
	token string         // '+': the leader's TokenEnv
	sig   syscall.Signal // opSignal
	reply chan []int     // opRelease
}

// StartGuard starts the guard process: /bin/sh running guardScript, or
// argv (bpm with GuardArg) where /bin/sh cannot be started.
func StartGuard(argv []string) (*Guard, error) {
	return startGuard([]string{guardShell}, argv)
}

// startGuard is StartGuard with the shell command (with its arguments, as
// in "busybox sh") given.
func startGuard(shell, argv []string) (*Guard, error) {
	beSubreaper()
	k := &guardKeeper{shell: shell, argv: argv, groups: map[int]bool{}, escaped: map[int]bool{}, tree: newTree()}
	p, err := k.spawn()
	if err != nil {
		return nil, err
	}
	k.cur = p
	g := &Guard{ops: make(chan guardOp, guardQueue), done: make(chan struct{})}
	go k.loop(g.ops, g.done)
	return g, nil
}

// Add registers the process group pgid, whose leader (bpm's child) has
// token (TokenEnv) in its environment: the group, and every descendant of
// the leader, also one that leaves the group (tree.go).
func (g *Guard) Add(pgid int, token string) { g.send(guardOp{op: '+', pgid: pgid, token: token}) }

// Remove unregisters pgid once bpm has seen its leader exit and killed the
// rest (Release); a process still carrying its token is killed on sight.
func (g *Guard) Remove(pgid int) { g.send(guardOp{op: '-', pgid: pgid}) }

// Close tells the guard bpm is done and returns once it has killed whatever
// is still registered and exited (bpm kills those groups itself when no
// guard does it within guardCloseWait). Later calls do nothing.
func (g *Guard) Close() {
	if g == nil {
		return
	}
	select {
	case g.ops <- guardOp{}:
	case <-g.done:
	}
	<-g.done
}

func (g *Guard) send(op guardOp) {
	// pgid 1 is init's, and kill(-1) would signal every process.
	if g == nil || op.pgid <= 1 {
		return
	}
	select {
	case g.ops <- op:
	case <-g.done: // closed: what is left was already killed
	}
}

// guardKeeper owns the registered groups and the running guard process.
type guardKeeper struct {
	shell    []string     // runs guardScript
	argv     []string     // the guard where shell cannot be started
	groups   map[int]bool // registered by Add
	escaped  map[int]bool // groups that descendants moved to (tree.go)
	tree     *tree
	looks    *time.Timer // the next look at the process table
	lookAt   time.Time   // when it fires
	every    time.Duration
	cur      *guardProc       // nil while a replacement waits to start
	retry    <-chan time.Time // fires when a replacement may be started
	failures int              // guards in a row that did not start or ended at once
}

// guardProc is one guard process.
type guardProc struct {
	cmd     *exec.Cmd
	w       *os.File // the write end of its stdin, held by bpm alone
	started time.Time
	exited  chan error // cmd.Wait's result, once
	broken  bool       // a write failed: it was killed and gets no more lines
}

func (k *guardKeeper) loop(ops <-chan guardOp, done chan<- struct{}) {
	defer close(done)
	k.looks = time.NewTimer(treeInterval)
	k.lookAt = time.Now().Add(treeInterval)
	defer k.looks.Stop()
	for {
		var exited <-chan error
		if k.cur != nil {
			exited = k.cur.exited
		}
		select {
		case op := <-ops:
			if op.op == 0 {
				k.sweepAll()
				k.close()
				return
			}
			k.apply(op)
		case <-k.looks.C:
			k.tick()
		case err := <-exited:
			k.replace(err)
		case <-k.retry:
			k.retry = nil
			k.restart()
		}
	}
}

func (k *guardKeeper) apply(op guardOp) {
	k.lookSoon()
	switch op.op {
	case '+':
		k.tree.add(op.pgid, op.token)
		k.mark(k.groups, op.pgid, true)
	case '-':
		k.tree.remove(op.pgid)
		k.mark(k.groups, op.pgid, false)
	case opRelease:
		op.reply <- k.release(op.pgid)
	case opSignal:
		k.signal(op.pgid, op.sig)
	}
}

// mark adds pgid to or removes it from set (groups or escaped), and tells
// the guard process when that changes whether it is registered at all.
func (k *guardKeeper) mark(set map[int]bool, pgid int, on bool) {
	was := k.groups[pgid] || k.escaped[pgid]
	if on {
		set[pgid] = true
	} else {
		delete(set, pgid)
	}
	now := k.groups[pgid] || k.escaped[pgid]
	if was == now || k.cur == nil {
		return
	}
	op := "-"
	if now {
		op = "+"
	}
	k.write(k.cur, []byte(op+strconv.Itoa(pgid)+"\n"))
}

// replace follows the end of the guard process while bpm runs: a new one
// starts at once, or after a delay if guards keep failing.
func (k *guardKeeper) replace(werr error) {
	old := k.cur
	k.cur = nil
	old.w.Close()
	if time.Since(old.started) < guardQuickExit {
		k.failures++
	} else {
		k.failures = 0
	}
	slog.Warn("the guard process ended while bpm runs; starting a new one and registering every process group with it",
		"pid", old.cmd.Process.Pid, "exit", exitText(werr), "groups", len(k.groups))
	if k.failures == 0 {
		k.restart()
		return
	}
	k.retry = time.After(k.delay())
}

// restart starts a new guard with every registered group.
func (k *guardKeeper) restart() {
	p, err := k.spawn()
	if err != nil {
		k.failures++
		d := k.delay()
		slog.Error("cannot start a new guard process; until one runs, killing bpm would leave its processes' children behind",
			"err", err, "retry_in", d.String())
		k.retry = time.After(d)
		return
	}
	k.cur = p
	slog.Warn("started a new guard process", "pid", p.cmd.Process.Pid, "groups", len(k.groups))
}

func (k *guardKeeper) delay() time.Duration {
	d := guardMinDelay
	for i := 1; i < k.failures && d < guardMaxDelay; i++ {
		d *= 2
	}
	return min(d, guardMaxDelay)
}

// spawn starts a guard process with every registered group. The groups are
// written into its pipe before it is forked, so that a guard that exists at
// all reads them, then EOF, even if bpm dies at once: there is no moment
// with a running guard that does not know them.
func (k *guardKeeper) spawn() (*guardProc, error) {
	r, w, err := os.Pipe() // O_CLOEXEC: the guard and the runs do not inherit w
	if err != nil {
		return nil, fmt.Errorf("guard pipe: %w", err)
	}
	reg := k.registrations()
	pre := reg[:lineCut(reg, pipeMinCapacity)]
	_ = w.SetWriteDeadline(time.Now().Add(guardWriteTimeout))
	if _, err := w.Write(pre); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("guard pipe: %w", err)
	}
	cmd, err := k.start(r)
	r.Close()
	if err != nil {
		w.Close()
		return nil, err
	}
	p := &guardProc{cmd: cmd, w: w, started: time.Now(), exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	if rest := reg[len(pre):]; len(rest) > 0 {
		k.write(p, rest)
	}
	return p, nil
}

// start forks the guard, leading its own process group, with stdin r: the
// shell, or bpm itself where the shell cannot be started.
func (k *guardKeeper) start(r *os.File) (*exec.Cmd, error) {
	script := append(slices.Clone(k.shell), "-c", guardScript, "bpm", GuardArg)
	cmd := guardCommand(r, script)
	err := cmd.Start()
	if err == nil {
		return cmd, nil
	}
	slog.Info("cannot start a shell for the guard process; bpm runs itself as the guard", "err", err)
	cmd = guardCommand(r, k.argv)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start guard: %w", err)
	}
	return cmd, nil
}

func guardCommand(stdin *os.File, argv []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = stdin
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// registrations is one "+PGID" line per registered group.
func (k *guardKeeper) registrations() []byte {
	var b []byte
	for _, pgid := range k.sorted() {
		b = append(append(append(b, '+'), strconv.Itoa(pgid)...), '\n')
	}
	return b
}

func (k *guardKeeper) sorted() []int {
	var pgids []int
	for pgid := range k.groups {
		pgids = append(pgids, pgid)
	}
	for pgid := range k.escaped {
		if !k.groups[pgid] {
			pgids = append(pgids, pgid)
		}
	}
	slices.Sort(pgids)
	return pgids
}

// lineCut is the length of b's longest prefix of whole lines within n bytes.
func lineCut(b []byte, n int) int {
	if len(b) <= n {
		return len(b)
	}
	return strings.LastIndexByte(string(b[:n]), '\n') + 1
}

// write sends lines to p; a guard that cannot take them is killed, and its
// end brings a replacement.
func (k *guardKeeper) write(p *guardProc, lines []byte) {
	if p.broken {
		return
	}
	_ = p.w.SetWriteDeadline(time.Now().Add(guardWriteTimeout))
	if _, err := p.w.Write(lines); err != nil {
		p.broken = true
		_ = p.cmd.Process.Kill()
	}
}

// close ends the guard: closing its stdin makes it kill what is registered
// and exit 0. If no guard runs, or it ends otherwise or not in time, bpm
// kills the groups itself.
func (k *guardKeeper) close() {
	if k.cur == nil {
		k.killGroups()
		return
	}
	k.cur.w.Close()
	t := time.NewTimer(guardCloseWait)
	defer t.Stop()
	select {
	case err := <-k.cur.exited:
		if err != nil || k.cur.broken {
			k.killGroups()
		}
	case <-t.C:
		slog.Warn("the guard process did not finish in time; bpm kills the registered process groups itself",
			"pid", k.cur.cmd.Process.Pid)
		k.killGroups()
	}
}

func (k *guardKeeper) killGroups() {
	for _, pgid := range k.sorted() {
		_ = SignalGroup(pgid, syscall.SIGKILL)
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit code 0"
	}
	return err.Error()
}
