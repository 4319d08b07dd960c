package osproc

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// A child leads a group of its own, gets bpm's environment without the
// socket-activation variables plus its own, and its exit code is decoded.
func TestStartGroupLeadsItsOwnGroupWithTheRunsEnvironment(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "1")
	script := `echo "pgid=$(cut -d' ' -f5 /proc/$$/stat) pid=$$ listen=${LISTEN_PID-unset}${LISTEN_FDS-unset} x=$X"; echo oops >&2; exit 3`
	c, err := StartGroup([]string{"sh", "-c", script}, t.TempDir(), []string{"X=1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(c.Stdout)
	errOut, _ := io.ReadAll(c.Stderr)
	c.Stdout.Close()
	c.Stderr.Close()
	info := ExitFrom(c.Cmd.ProcessState, c.Cmd.Wait())
	pid := strconv.Itoa(c.Cmd.Process.Pid)
	if want := "pgid=" + pid + " pid=" + pid + " listen=unsetunset x=1\n"; string(out) != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if string(errOut) != "oops\n" {
		t.Errorf("stderr %q, want %q", errOut, "oops\n")
	}
	if info.Code != 3 || info.Signal != "" || info.String() != "exit code 3" {
		t.Errorf("exit %+v (%s), want exit code 3", info, info)
	}
}

func TestStartGroupRefusesAnEmptyCommand(t *testing.T) {
	if _, err := StartGroup(nil, "", nil, nil); err == nil || err.Error() != "empty command" {
		t.Fatalf("err %v, want empty command", err)
	}
}

// SignalGroup reaches what the leader started in the background, and a
// group that is gone is no error.
func TestSignalGroupKillsTheWholeGroup(t *testing.T) {
	c, err := StartGroup([]string{"sh", "-c", "sleep 1000 & echo $!; wait"}, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stderr.Close()
	defer c.Stdout.Close()
	line, err := bufio.NewReader(c.Stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("background pid %q: %v", line, err)
	}
	pid := c.Cmd.Process.Pid
	if err := SignalGroup(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	info := ExitFrom(c.Cmd.ProcessState, c.Cmd.Wait())
	if info.Signal != "SIGKILL" || info.Code != -1 || info.String() != "killed by SIGKILL" {
		t.Errorf("exit %+v (%s), want killed by SIGKILL", info, info)
	}
	testkit.WaitFor(t, 10*time.Second, "the background child to die with its group", func() bool { return !testkit.Alive(child) })
	if err := SignalGroup(pid, syscall.SIGKILL); err != nil {
		t.Errorf("signalling a group that is gone: %v, want nil", err)
	}
	if err := SignalGroup(0, syscall.SIGKILL); err != nil {
		t.Errorf("signalling pid 0: %v, want nil (and nothing signalled)", err)
	}
}
