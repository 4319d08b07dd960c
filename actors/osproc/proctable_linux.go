package osproc

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes bpm a child subreaper (PR_SET_CHILD_SUBREAPER): a
// process whose parent dies while it descends from bpm is re-parented to
// bpm, not to init, so bpm can still find it in /proc and stop it. bpm must
// then reap those adopted children itself (reapZombie).
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// selfIDs returns bpm's pid, process group and session.
func selfIDs() (pid, pgid, sid int) {
	pid = os.Getpid()
	pgid, _ = syscall.Getpgid(0)
	sid, _ = unix.Getsid(0)
	return pid, pgid, sid
}

// readProcs reads every process from /proc/PID/stat. A process that ends
// while it is read is left out. It reads with one buffer and no os.File, as
// it runs every few seconds over every process of the machine.
func readProcs() map[int]procInfo {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	procs := make(map[int]procInfo, len(names))
	buf := make([]byte, 1024)
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		fd, err := unix.Open("/proc/"+name+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		n, err := unix.Read(fd, buf)
		unix.Close(fd)
		if err != nil || n <= 0 {
			continue
		}
		if p, ok := parseStat(buf[:n]); ok {
			procs[p.pid] = p
		}
	}
	return procs
}

// readToken returns the value of TokenEnv in pid's environment as it was
// exec'd (/proc/PID/environ), or "" when it has none or cannot be read.
func readToken(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	return tokenIn(b)
}

// reapZombie collects the exit status of pid, a child of bpm that has
// exited, by its pid only: wait(-1) would steal the statuses that os/exec
// waits for.
func reapZombie(pid int) {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG, nil)
	for errors.Is(err, syscall.EINTR) {
		err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG, nil)
	}
}
