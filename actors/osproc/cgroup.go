package osproc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Cgroups is bpm's cgroup v2 directory, in which it makes one child cgroup
// per run that has memory_mb or cpu_percent.
type Cgroups struct {
	Dir    string // bpm's own cgroup; runs get Dir/run-NAME-ID
	Memory bool   // the memory controller is enabled for the runs' cgroups
	CPU    bool   // the cpu controller is enabled for the runs' cgroups
}

// leafName is the child cgroup bpm moves itself into: a cgroup v2 with
// processes of its own cannot enable controllers for its children (the "no
// internal processes" rule), except at the root.
const leafName = "bpm"

// procFiles are the files the probe reads; tests point them elsewhere.
type procFiles struct {
	mountinfo string // /proc/self/mountinfo
	cgroup    string // /proc/self/cgroup
}

var selfFiles = procFiles{mountinfo: "/proc/self/mountinfo", cgroup: "/proc/self/cgroup"}

// found is where the probe found bpm's cgroup v2 directory.
type found struct {
	dir         string   // bpm's own cgroup directory
	root        bool     // dir is the root of the hierarchy, where processes may stay
	controllers []string // what dir may enable for its children (cgroup.controllers)
}

// probe finds bpm's cgroup v2 directory and the controllers it may hand to
// children, and checks that bpm may write there. It changes nothing; the
// error says why bpm cannot make cgroups here.
func probe(files procFiles) (found, error) {
	mi, err := os.ReadFile(files.mountinfo)
	if err != nil {
		return found{}, fmt.Errorf("cannot read %s: %w", files.mountinfo, err)
	}
	mount, mountRoot, ok := cgroup2Mount(mi)
	if !ok {
		return found{}, errors.New("no cgroup v2 hierarchy is mounted (this host uses cgroup v1 only)")
	}
	pc, err := os.ReadFile(files.cgroup)
	if err != nil {
		return found{}, fmt.Errorf("cannot read %s: %w", files.cgroup, err)
	}
	own, ok := ownCgroup(pc)
	if !ok {
		return found{}, fmt.Errorf("%s names no cgroup v2 (no 0:: line)", files.cgroup)
	}
	rel, ok := underRoot(own, mountRoot)
	if !ok {
		return found{}, fmt.Errorf("bpm's cgroup %s is outside the cgroup v2 mount at %s (root %s)", own, mount, mountRoot)
	}
	f := found{dir: filepath.Join(mount, rel)}
	// The true root has no cgroup.type; the root of a cgroup namespace (a
	// container's "/") has one, and the no-internal-processes rule with it.
	if _, err := os.Stat(filepath.Join(f.dir, "cgroup.type")); rel == "/" && errors.Is(err, os.ErrNotExist) {
		f.root = true
	}
	ctl, err := os.ReadFile(filepath.Join(f.dir, "cgroup.controllers"))
	if err != nil {
		return found{}, fmt.Errorf("cannot read the controllers of bpm's cgroup: %w", err)
	}
	f.controllers = strings.Fields(string(ctl))
	if err := unix.Access(f.dir, unix.W_OK); err != nil {
		return f, fmt.Errorf("bpm may not make cgroups in its cgroup %s (%v); run it as a systemd service with Delegate=yes, or as root", f.dir, err)
	}
	return f, nil
}

// why says why ctl cannot be given to runs in f, or "" when it can.
func (f found) why(ctl string) string {
	if slices.Contains(f.controllers, ctl) {
		return ""
	}
	have := strings.Join(f.controllers, " ")
	if have == "" {
		have = "none"
	}
	return fmt.Sprintf("the cgroup v2 %s controller is not available in bpm's cgroup %s (its cgroup.controllers: %s); on a host with cgroup v1 or hybrid mounts it is bound to cgroup v1",
		ctl, f.dir, have)
}

// cgroup2Mount returns the mount point and root of the cgroup v2 hierarchy
// in a /proc/self/mountinfo, preferring /sys/fs/cgroup when there are several.
func cgroup2Mount(mountinfo []byte) (point, root string, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		pre, post, found := strings.Cut(sc.Text(), " - ")
		fields, after := strings.Fields(pre), strings.Fields(post)
		if !found || len(fields) < 5 || len(after) < 1 || after[0] != "cgroup2" {
			continue
		}
		if !ok || unescape(fields[4]) == "/sys/fs/cgroup" {
			point, root, ok = unescape(fields[4]), unescape(fields[3]), true
		}
	}
	return point, root, ok
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroup returns the cgroup v2 path ("0::PATH") of a /proc/PID/cgroup.
func ownCgroup(procCgroup []byte) (string, bool) {
	for line := range strings.SplitSeq(string(procCgroup), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok && strings.HasPrefix(p, "/") {
			return p, true
		}
	}
	return "", false
}

// underRoot returns path relative to a mount whose root is root, as an
// absolute path ("/" for the mount point itself).
func underRoot(path, root string) (string, bool) {
	if root == "/" {
		return path, true
	}
	rel, ok := strings.CutPrefix(path, root)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return "", false
	}
	if rel == "" {
		rel = "/"
	}
	return rel, true
}

// JoinCgroup moves pid (with all its threads) into the cgroup at dir.
func JoinCgroup(dir string, pid int) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("join cgroup %s: %w", dir, err)
	}
	return nil
}

// removeWhenEmpty removes the cgroup at dir, killing what is left in it
// first; a cgroup empties a moment after its last process dies, so it
// retries for up to a few seconds.
func removeWhenEmpty(dir string) error {
	// cgroup.kill exists from Linux 5.14; before that the run's process
	// group was killed already, which is all that bpm started.
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, syscall.ENOENT):
			return nil
		case !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline):
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		<-tick.C
	}
}
