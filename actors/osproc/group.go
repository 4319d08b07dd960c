package osproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Child is a process StartGroup started. Its caller waits for it with
// Cmd.Wait, and reads and closes Stdout and Stderr, the read ends of its
// output pipes.
type Child struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *os.File
	Token          string // its TokenEnv, for Guard.Add
}

// StartGroup starts argv in dir, in a new process group whose leader dies
// with bpm (Pdeathsig), with bpm's environment (less the socket-activation
// variables) plus env and a new token (TokenEnv), no stdin, extra as fd 3,
// 4 …, and stdout and stderr on pipes of their own. The leader's pid is also
// the group's id.
func StartGroup(argv []string, dir string, env []string, extra []*os.File) (*Child, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty command")
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	token := NewToken()
	cmd.Env = append(append(WithoutSocketEnv(os.Environ()), env...), TokenEnv+"="+token)
	cmd.Stdin = nil
	cmd.Stdout = outW
	cmd.Stderr = errW
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	return &Child{Cmd: cmd, Stdout: outR, Stderr: errR, Token: token}, nil
}

// ExitInfo describes how a child ended.
type ExitInfo struct {
	Code   int    // exit code, -1 when killed by a signal
	Signal string // signal name when killed by one
	Err    error  // wait error other than a non-zero exit
	At     time.Time
	// Left lists the descendants that were still alive when the leader
	// exited (Guard.Release), which bpm then killed.
	Left []int
}

// String reads like "exit code 3" or "killed by SIGKILL".
func (e ExitInfo) String() string {
	switch {
	case e.Err != nil:
		return "wait failed: " + e.Err.Error()
	case e.Signal != "":
		return "killed by " + e.Signal
	default:
		return fmt.Sprintf("exit code %d", e.Code)
	}
}

// ExitFrom reads how a child ended from its state after Wait, and werr,
// what Wait returned, when there is no state.
func ExitFrom(ps *os.ProcessState, werr error) ExitInfo {
	info := ExitInfo{At: time.Now(), Code: -1}
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

// SignalGroup sends sig to every process in the group led by pid. A group
// that is already gone is not an error. pid 1 is refused as 0 is: kill(-1)
// would signal every process bpm may signal.
func SignalGroup(pid int, sig syscall.Signal) error {
	if pid <= 1 {
		return nil
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
