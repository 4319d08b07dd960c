package osproc

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// startEscaper starts the escaper fixture in mode as bpm starts a run, with
// g, and returns the child and the pid its escaped process reports.
func startEscaper(t *testing.T, g *Guard, mode string, env ...string) (*Child, int) {
	t.Helper()
	exe := testkit.BuildFixture(t, "escaper")
	c, err := StartGroup([]string{exe, mode}, t.TempDir(), env, nil)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Cmd.Process.Pid
	g.Add(pid, c.Token)
	t.Cleanup(func() {
		_ = SignalGroup(pid, syscall.SIGKILL)
		c.Stderr.Close()
	})
	re := regexp.MustCompile(`^(daemon|setpgid) pid=(\d+)$`)
	sc := bufio.NewScanner(c.Stdout)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			escaped, _ := strconv.Atoi(m[2])
			go func() {
				for sc.Scan() {
				}
				c.Stdout.Close()
			}()
			if g, _ := syscall.Getpgid(escaped); g == pid {
				t.Fatalf("pid %d is still in its run's group", escaped)
			}
			return c, escaped
		}
	}
	t.Fatalf("the escaper printed no pid (%v)", sc.Err())
	return nil, 0
}

// gone reports whether pid has left the process table (reaped, not a zombie).
func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return os.IsNotExist(err)
}

// A double-forked daemon (setsid, its parent gone, adopted by the subreaper)
// is named by its token: Release kills it when its leader exits, and the
// zombie it leaves is reaped by its pid.
func TestReleaseKillsADaemonThatLeftItsRun(t *testing.T) {
	g, _ := startTestGuard(t, []string{guardShell})
	c, daemon := startEscaper(t, g, "daemon", "ESCAPER_EXIT=1")
	if err := c.Cmd.Wait(); err != nil {
		t.Fatalf("the leader: %v", err)
	}
	left := g.Release(c.Cmd.Process.Pid)
	if !slices.Contains(left, daemon) {
		t.Fatalf("Release returned %v, want the daemon %d among them", left, daemon)
	}
	waitDead(t, daemon, "the daemon to be killed")
	testkit.WaitFor(t, 10*time.Second, "the daemon's zombie to be reaped", func() bool { return gone(daemon) })
	g.Remove(c.Cmd.Process.Pid)
}

// A setpgid child does not get the group's signal; Signal sends it, once.
func TestSignalReachesAChildInAGroupOfItsOwn(t *testing.T) {
	g, _ := startTestGuard(t, []string{guardShell})
	c, child := startEscaper(t, g, "setpgid")
	// The escaper's hold ignores SIGTERM: SIGKILL shows it was reached.
	g.Signal(c.Cmd.Process.Pid, syscall.SIGKILL)
	waitDead(t, child, "the setpgid child to get the signal")
	if !testkit.Alive(c.Cmd.Process.Pid) {
		t.Error("the leader got a signal meant for the processes outside its group")
	}
}
