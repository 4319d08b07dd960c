package actors

import (
	"os"
	"regexp"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
)

// drainGrace bounds how long, once a child's leader has exited and its
// group is killed, the exit report waits for the pipes to be drained: the
// last lines are logged before the exit, while a descendant that escaped the
// group (setsid) and keeps a pipe open cannot hold the report back. After it
// the pipes are closed.
const drainGrace = time.Second

// spawnSpec is everything needed to start one run or build.
type spawnSpec struct {
	Argv []string
	Dir  string
	Env  []string // appended to bpm's own environment
	// ExtraFiles become fd 3, 4 … in the child.
	ExtraFiles []*os.File
	// Root and Logs receive the output as LogChunks of Kind and LogID.
	Root  *actor.RootContext
	Logs  *actor.PID
	Kind  LogKind
	LogID int
	// OnStarted is called with the pid once the child runs and before any
	// output is read, so that its LogStart reaches the logbuffer first.
	OnStarted func(pid int)
	// KeepStdout, when set, decides which stdout lines are logged; it is
	// called from the stdout reader goroutine and must only send messages.
	KeepStdout func(line []byte) bool
	// Ready and OnReady: the first output line matching Ready calls OnReady
	// (from a reader goroutine; it must only send messages).
	Ready   *regexp.Regexp
	OnReady func()
	// OnExit is called once from a waiter goroutine when the child's leader
	// has exited, its descendants were killed and its pipes drained (at
	// most drainGrace); it must only send messages.
	OnExit func(osproc.ExitInfo)
	// Guard learns of the child as soon as it runs (Guard.Add, with its
	// token) and kills what it leaves when its leader exits
	// (Guard.Release); its caller removes it (Guard.Remove) once it has
	// handled the exit. nil: none.
	Guard *osproc.Guard
}

// spawn starts argv in a new process group whose leader dies with bpm
// (osproc.StartGroup), streams its output in chunks to the logbuffer and reports its
// end to OnExit. The child is over when its leader exits: then whatever else
// is left of it is killed, in its group or not (a daemon that called setsid
// is found by Guard.Release), so a backgrounded child (a build's daemon) can
// neither outlive it nor hold its end back by keeping the pipes open.
// It returns the pid, which is also the process group id.
func spawn(spec spawnSpec) (int, error) {
	child, err := osproc.StartGroup(spec.Argv, spec.Dir, spec.Env, spec.ExtraFiles)
	if err != nil {
		return 0, err
	}
	cmd := child.Cmd
	pid := cmd.Process.Pid
	spec.Guard.Add(pid, child.Token)
	if spec.OnStarted != nil {
		spec.OnStarted(pid)
	}
	quit := make(chan struct{})
	send := chunkSender(spec.Root, spec.Logs, spec.Kind, spec.LogID)
	matched := new(atomic.Bool)
	readers := []*pipeReader{
		{f: child.Stdout, stream: Stdout, keep: spec.KeepStdout},
		{f: child.Stderr, stream: Stderr},
	}
	drained := make(chan struct{}, len(readers))
	for _, r := range readers {
		r.send, r.quit, r.free = send, quit, make(chan []byte, readerBuffers)
		r.ready, r.matched, r.onReady = spec.Ready, matched, spec.OnReady
		go r.run(drained)
	}
	go func() {
		werr := cmd.Wait()
		info := osproc.ExitFrom(cmd.ProcessState, werr)
		info.Left = spec.Guard.Release(pid)
		_ = osproc.SignalGroup(pid, syscall.SIGKILL)
		if !waitDrained(drained, len(readers), drainGrace) {
			close(quit)
			for _, r := range readers {
				r.f.Close()
			}
		}
		spec.OnExit(info)
	}()
	return pid, nil
}

// waitDrained waits for n readers to finish, at most grace, and reports
// whether they all did.
func waitDrained(drained <-chan struct{}, n int, grace time.Duration) bool {
	t := time.NewTimer(grace)
	defer t.Stop()
	for range n {
		select {
		case <-drained:
		case <-t.C:
			return false
		}
	}
	return true
}
