package actors

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxLineBytes caps one stored line; the rest of a longer line is dropped
// and the stored part ends with truncatedMarker.
const maxLineBytes = 64 * 1024

const truncatedMarker = " …[line truncated at 64 KiB]"

// drainGrace bounds how long an exit report waits for the pipes to drain, so
// the last lines are logged before the exit while a grandchild that keeps the
// pipe open cannot hold the report back.
const drainGrace = 200 * time.Millisecond

// spawnSpec is everything needed to start one run or build.
type spawnSpec struct {
	Argv []string
	Dir  string
	Env  []string // appended to bpm's own environment
	// ExtraFiles become fd 3, 4 … in the child.
	ExtraFiles []*os.File
	// OnLine is called from a reader goroutine for every output line; it
	// must only send messages.
	OnLine func(stream, text string)
	// OnExit is called once from a waiter goroutine when the child has
	// exited; it must only send messages.
	OnExit func(exitInfo)
	// WaitForPipes makes the exit report wait until both pipes are closed
	// (builds, whose last stdout lines carry the artifact).
	WaitForPipes bool
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
// (Pdeathsig), streams its output line by line to OnLine and reports its end
// to OnExit. It returns the pid, which is also the process group id.
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
	drained := make(chan struct{}, 2)
	go readLines(outR, Stdout, spec.OnLine, drained)
	go readLines(errR, Stderr, spec.OnLine, drained)
	go func() {
		werr := cmd.Wait()
		info := exitFrom(cmd.ProcessState, werr)
		if spec.WaitForPipes {
			<-drained
			<-drained
		} else {
			waitDrained(drained, drainGrace)
		}
		spec.OnExit(info)
	}()
	return cmd.Process.Pid, nil
}

// waitDrained waits for both readers to finish, at most grace.
func waitDrained(drained <-chan struct{}, grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	for range 2 {
		select {
		case <-drained:
		case <-t.C:
			return
		}
	}
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

// readLines splits r into lines, capping each at maxLineBytes, and calls
// onLine for each. It closes r and signals done at EOF.
func readLines(r *os.File, stream string, onLine func(stream, text string), done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLineBytes)
	truncating := false
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !truncating {
				onLine(stream, string(chunk)+truncatedMarker)
				truncating = true
			}
			continue
		case len(chunk) > 0 && !truncating:
			onLine(stream, string(bytes.TrimRight(chunk, "\r\n")))
		}
		truncating = false
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				onLine(stream, "[bpm: read error: "+err.Error()+"]")
			}
			return
		}
	}
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
