package actors

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/sys/unix"
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
	// has exited, its group was killed and its pipes drained (at most
	// drainGrace); it must only send messages.
	OnExit func(exitInfo)
}

// exitInfo describes how a child ended.
type exitInfo struct {
	Code   int    // exit code, -1 when killed by a signal
	Signal string // signal name when killed by one
	Err    error  // wait error other than a non-zero exit
	At     time.Time
}

// String reads like "exit code 3" or "killed by SIGKILL".
func (e exitInfo) String() string {
	switch {
	case e.Err != nil:
		return "wait failed: " + e.Err.Error()
	case e.Signal != "":
		return "killed by " + e.Signal
	default:
		return fmt.Sprintf("exit code %d", e.Code)
	}
}

// spawn starts argv in a new process group whose leader dies with bpm
// (Pdeathsig), streams its output in chunks to the logbuffer and reports its
// end to OnExit. The child is over when its leader exits: then whatever else
// is left in its group is killed, so a backgrounded child (a build's daemon)
// can neither outlive it nor hold its end back by keeping the pipes open.
// It returns the pid, which is also the process group id.
func spawn(spec spawnSpec) (int, error) {
	if len(spec.Argv) == 0 {
		return 0, errors.New("empty command")
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return 0, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = append(withoutSocketEnv(os.Environ()), spec.Env...)
	cmd.Stdin = nil
	cmd.Stdout = outW
	cmd.Stderr = errW
	cmd.ExtraFiles = spec.ExtraFiles
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return 0, err
	}
	pid := cmd.Process.Pid
	if spec.OnStarted != nil {
		spec.OnStarted(pid)
	}
	quit := make(chan struct{})
	send := chunkSender(spec.Root, spec.Logs, spec.Kind, spec.LogID)
	matched := new(atomic.Bool)
	readers := []*pipeReader{
		{f: outR, stream: Stdout, keep: spec.KeepStdout},
		{f: errR, stream: Stderr},
	}
	drained := make(chan struct{}, len(readers))
	for _, r := range readers {
		r.send, r.quit, r.free = send, quit, make(chan []byte, readerBuffers)
		r.ready, r.matched, r.onReady = spec.Ready, matched, spec.OnReady
		go r.run(drained)
	}
	go func() {
		werr := cmd.Wait()
		info := exitFrom(cmd.ProcessState, werr)
		_ = signalGroup(pid, syscall.SIGKILL)
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

func exitFrom(ps *os.ProcessState, werr error) exitInfo {
	info := exitInfo{At: time.Now(), Code: -1}
	if ps == nil {
		info.Err = werr
		return info
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		info.Signal = unix.SignalName(ws.Signal())
		return info
	}
	info.Code = ps.ExitCode()
	return info
}

// signalGroup sends sig to every process in the group led by pid. A group
// that is already gone is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
