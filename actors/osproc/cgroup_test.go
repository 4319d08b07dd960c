package osproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bpm/config"
)

// hybridMountinfo is this kind of host: cgroup v1 controllers, and a
// cgroup v2 hierarchy without them at /sys/fs/cgroup/unified.
const hybridMountinfo = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

func TestCgroup2Mount(t *testing.T) {
	tests := []struct {
		name, mountinfo, point, root string
		ok                           bool
	}{
		{"hybrid", hybridMountinfo, "/sys/fs/cgroup/unified", "/", true},
		{"unified", "29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup", "/", true},
		{"prefers /sys/fs/cgroup", "1 0 0:1 / /mnt/other rw - cgroup2 none rw\n2 0 0:2 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup", "/", true},
		{"container root", "700 690 0:26 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup rw\n", "/sys/fs/cgroup", "/docker/abc", true},
		{"escaped", `5 1 0:3 / /mnt/my\040cgroups rw - cgroup2 cgroup2 rw` + "\n", "/mnt/my cgroups", "/", true},
		{"v1 only", "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			point, root, ok := cgroup2Mount([]byte(tt.mountinfo))
			if point != tt.point || root != tt.root || ok != tt.ok {
				t.Fatalf("cgroup2Mount = %q %q %v, want %q %q %v", point, root, ok, tt.point, tt.root, tt.ok)
			}
		})
	}
}

func TestOwnCgroupAndUnderRoot(t *testing.T) {
	own, ok := ownCgroup([]byte("9:name=systemd:/\n4:memory:/x\n0::/system.slice/bpm.service\n"))
	if !ok || own != "/system.slice/bpm.service" {
		t.Fatalf("ownCgroup = %q %v", own, ok)
	}
	if _, ok := ownCgroup([]byte("4:memory:/x\n")); ok {
		t.Fatalf("ownCgroup found a v2 path in a v1-only file")
	}
	for _, tt := range []struct {
		path, root, rel string
		ok              bool
	}{
		{"/a/b", "/", "/a/b", true},
		{"/docker/abc/svc", "/docker/abc", "/svc", true},
		{"/docker/abc", "/docker/abc", "/", true},
		{"/docker/abcd", "/docker/abc", "", false},
		{"/other", "/docker/abc", "", false},
	} {
		if rel, ok := underRoot(tt.path, tt.root); rel != tt.rel || ok != tt.ok {
			t.Errorf("underRoot(%q, %q) = %q %v, want %q %v", tt.path, tt.root, rel, ok, tt.rel, tt.ok)
		}
	}
}

// fakeHierarchy makes a directory tree that stands for a cgroup v2 mount
// in which bpm's cgroup is own with the given controllers (the true root of
// the hierarchy when root, without cgroup.type), and returns the
// files the probe reads and bpm's cgroup directory.
func fakeHierarchy(t *testing.T, own, controllers string, root bool) (procFiles, string) {
	t.Helper()
	mount := t.TempDir()
	dir := filepath.Join(mount, own)
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "cgroup.controllers"), controllers+"\n")
	write(filepath.Join(dir, "cgroup.subtree_control"), "")
	write(filepath.Join(dir, "cgroup.procs"), "4242\n")
	if !root {
		write(filepath.Join(dir, "cgroup.type"), "domain\n")
	}
	meta := t.TempDir()
	files := procFiles{mountinfo: filepath.Join(meta, "mountinfo"), cgroup: filepath.Join(meta, "cgroup")}
	write(files.mountinfo, "40 30 0:37 / "+mount+" rw - cgroup2 cgroup2 rw\n")
	write(files.cgroup, "0::"+own+"\n")
	return files, dir
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPrepareMovesBPMToALeafAndEnablesControllers(t *testing.T) {
	files, dir := fakeHierarchy(t, "/system.slice/bpm.service", "cpuset cpu io memory pids", false)
	c, whyNot := prepare(files, true, true, 4242)
	if c == nil || len(whyNot) > 0 {
		t.Fatalf("prepare = %+v, %v; want both controllers", c, whyNot)
	}
	if *c != (Cgroups{Dir: dir, Memory: true, CPU: true}) {
		t.Errorf("Cgroups = %+v", *c)
	}
	if got := read(t, filepath.Join(dir, leafName, "cgroup.procs")); got != "4242" {
		t.Errorf("bpm's leaf cgroup.procs = %q, want bpm's pid", got)
	}
	if got := read(t, filepath.Join(dir, "cgroup.subtree_control")); got != "+memory +cpu" {
		t.Errorf("subtree_control = %q", got)
	}

	r, err := c.NewRun("web", 3, &config.Limits{MemoryMB: 256, CPUPercent: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r.Dir != filepath.Join(dir, "run-web-3") || r.MemoryMB != 256 {
		t.Errorf("RunCgroup = %+v", r)
	}
	for file, want := range map[string]string{"memory.max": "268435456", "cpu.max": "50000 100000"} {
		if got := read(t, filepath.Join(r.Dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if n := r.OOMKills(); n != 0 {
		t.Errorf("OOMKills without memory.events = %d", n)
	}
	os.WriteFile(filepath.Join(r.Dir, "memory.events"), []byte("low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n"), 0o644)
	if n := r.OOMKills(); n != 2 {
		t.Errorf("OOMKills = %d, want 2 (memory.events oom_kill)", n)
	}
}

func TestPrepareNeedsNoLeafOnlyAtTheTrueRoot(t *testing.T) {
	for _, root := range []bool{true, false} {
		// "/" either way: the true root, or a container's cgroup namespace.
		files, dir := fakeHierarchy(t, "/", "cpu memory", root)
		c, whyNot := prepare(files, false, true, 4242)
		if c == nil || !c.CPU || c.Memory || len(whyNot) > 0 {
			t.Fatalf("root %v: prepare = %+v, %v; want cpu only", root, c, whyNot)
		}
		_, err := os.Stat(filepath.Join(dir, leafName, "cgroup.procs"))
		if root != os.IsNotExist(err) {
			t.Errorf("root %v: bpm's leaf cgroup: %v; want one only below the true root", root, err)
		}
	}
}

func TestPrepareSaysWhyAControllerIsMissing(t *testing.T) {
	files, dir := fakeHierarchy(t, "/", "hugetlb", true)
	c, whyNot := prepare(files, true, true, 4242)
	if c != nil {
		t.Fatalf("prepare = %+v, want none", c)
	}
	for _, ctl := range []string{"memory", "cpu"} {
		want := "the cgroup v2 " + ctl + " controller is not available in bpm's cgroup " + dir + " (its cgroup.controllers: hugetlb)"
		if !strings.Contains(whyNot[ctl], want) {
			t.Errorf("why not %s = %q, want %q", ctl, whyNot[ctl], want)
		}
	}
	files.mountinfo = filepath.Join(t.TempDir(), "none")
	os.WriteFile(files.mountinfo, []byte(hybridMountinfo[:strings.Index(hybridMountinfo, "40 ")]), 0o644)
	if _, whyNot := prepare(files, false, true, 4242); !strings.Contains(whyNot["cpu"], "no cgroup v2 hierarchy is mounted") {
		t.Errorf("why not cpu without cgroup2 = %q", whyNot["cpu"])
	}
}

func TestCPUProblemsNameFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, config.FileName), []byte(`[process.web]
type = "command"
command = ["true"]

[process.web.limits]
open_files = 64
cpu_percent = 50

[process.db]
type = "command"
command = ["true"]
`), 0o644)
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	problems := cpuProblems(cfg, "no cgroup here")
	if len(problems) != 1 {
		t.Fatalf("cpuProblems = %v, want one", problems)
	}
	want := filepath.Join(dir, config.FileName) + ":7: process.web.limits.cpu_percent: bpm cannot apply it on this host: no cgroup here; valid: remove cpu_percent"
	if got := problems[0].Error(); !strings.HasPrefix(got, want) {
		t.Errorf("problem = %q, want it to begin %q", got, want)
	}
	if cpuProblems(cfg, "") != nil {
		t.Errorf("a usable cpu controller is no problem")
	}
}
