package osproc

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"bpm/config"
)

// wanted lists the cgroup controllers cfg's limits use: "memory" for
// memory_mb (optional: RLIMIT_AS applies without it) and "cpu" for
// cpu_percent (required).
func wanted(cfg *config.Config) (memory, cpu bool) {
	for _, p := range cfg.Processes {
		if l := p.Limits; l != nil {
			memory = memory || l.MemoryMB > 0
			cpu = cpu || l.CPUPercent > 0
		}
	}
	return memory, cpu
}

// HostProblems reports the limits in cfg that this host cannot apply, as
// config errors at their keys: cpu_percent where bpm cannot use the cgroup
// v2 cpu controller. It changes nothing (for `bpm check`); Prepare, when
// bpm starts, finds the same and more.
func HostProblems(cfg *config.Config) []*config.Error {
	if _, cpu := wanted(cfg); !cpu {
		return nil
	}
	f, err := probe(selfFiles)
	why := ""
	if err != nil {
		why = err.Error()
	} else {
		why = f.why("cpu")
	}
	return cpuProblems(cfg, why)
}

// cpuProblems returns one error per cpu_percent in cfg saying why (if not
// "") it cannot be applied.
func cpuProblems(cfg *config.Config, why string) []*config.Error {
	if why == "" {
		return nil
	}
	var problems []*config.Error
	for _, p := range cfg.Processes {
		if p.Limits != nil && p.Limits.CPUPercent > 0 {
			problems = append(problems, cfg.ErrorAt([]string{"process", p.Name, "limits", "cpu_percent"},
				"bpm cannot apply it on this host: %s; valid: remove cpu_percent, or run bpm where it has a cgroup v2 of its own with the cpu controller (a systemd service with Delegate=yes)", why))
		}
	}
	return problems
}

// Prepare readies bpm's cgroup for cfg's limits before any run starts: where
// it can, it moves bpm into a leaf cgroup of its own and enables the memory
// and cpu controllers for the runs' cgroups. It returns nil Cgroups when no
// limit needs one or none can be had (memory_mb then applies as RLIMIT_AS
// only, which it logs), and errors for cpu_percent that cannot be applied:
// bpm must not start then (exit 2).
func Prepare(cfg *config.Config) (*Cgroups, []*config.Error) {
	memory, cpu := wanted(cfg)
	if !memory && !cpu {
		return nil, nil
	}
	c, whyNot := prepare(selfFiles, memory, cpu, os.Getpid())
	if cpu && !c.has("cpu") {
		return nil, cpuProblems(cfg, whyNot["cpu"])
	}
	if memory && !c.has("memory") {
		slog.Warn("memory_mb applies as RLIMIT_AS only (address space, not memory in use): bpm cannot give runs a cgroup with the memory controller here: " + whyNot["memory"])
	}
	if c != nil {
		clearStale(c.Dir)
	}
	return c, nil
}

// has reports whether ctl ("memory" or "cpu") is enabled for runs in c.
func (c *Cgroups) has(ctl string) bool {
	return c != nil && ((ctl == "memory" && c.Memory) || (ctl == "cpu" && c.CPU))
}

// prepare probes bpm's cgroup and enables the controllers wanted there. It
// returns the cgroups it could set up (nil when none) and, for each wanted
// controller it could not enable, why.
func prepare(files procFiles, memory, cpu bool, pid int) (*Cgroups, map[string]string) {
	var want []string
	if memory {
		want = append(want, "memory")
	}
	if cpu {
		want = append(want, "cpu")
	}
	whyNot := map[string]string{}
	f, err := probe(files)
	if err != nil {
		for _, ctl := range want {
			whyNot[ctl] = err.Error()
		}
		return nil, whyNot
	}
	var can []string
	for _, ctl := range want {
		if why := f.why(ctl); why != "" {
			whyNot[ctl] = why
		} else {
			can = append(can, ctl)
		}
	}
	if len(can) == 0 {
		return nil, whyNot
	}
	if err := enable(f, can, pid); err != nil {
		for _, ctl := range can {
			whyNot[ctl] = err.Error()
		}
		return nil, whyNot
	}
	return &Cgroups{Dir: f.dir, Memory: slices.Contains(can, "memory"), CPU: slices.Contains(can, "cpu")}, whyNot
}

// enable lets f.dir hand the controllers want to child cgroups: unless it
// is the root, bpm (pid) first moves into the leaf f.dir/bpm, since a
// cgroup v2 with processes of its own cannot enable controllers for its
// children.
func enable(f found, want []string, pid int) error {
	if !f.root {
		leaf := filepath.Join(f.dir, leafName)
		if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("make cgroup %s: %w", leaf, err)
		}
		if err := JoinCgroup(leaf, pid); err != nil {
			return err
		}
	}
	ops := make([]string, len(want))
	for i, w := range want {
		ops[i] = "+" + w
	}
	control := filepath.Join(f.dir, "cgroup.subtree_control")
	err := os.WriteFile(control, []byte(strings.Join(ops, " ")), 0)
	switch {
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("other processes share bpm's cgroup %s (%s), and a cgroup v2 with processes cannot enable controllers for child cgroups; run bpm in a cgroup of its own (a systemd service with Delegate=yes)",
			f.dir, procsOf(f.dir))
	case err != nil:
		return fmt.Errorf("enable %s in %s: %w", strings.Join(want, " and "), control, err)
	}
	return nil
}

// procsOf lists the pids in the cgroup at dir, for an error message.
func procsOf(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return "pids unknown"
	}
	pids := strings.Fields(string(b))
	if len(pids) > 5 {
		pids = append(pids[:5], "…")
	}
	return "pids " + strings.Join(pids, " ")
}

// clearStale removes run cgroups a previous bpm in the same cgroup left
// behind (it was killed before it could); ones still in use stay.
func clearStale(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "run-") {
			_ = syscall.Rmdir(filepath.Join(dir, e.Name()))
		}
	}
}
