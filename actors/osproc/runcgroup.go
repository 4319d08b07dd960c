package osproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"bpm/config"
)

// cpuPeriod is the cpu.max period in microseconds; cpu_percent N gives a
// quota of N% of it.
const cpuPeriod = 100000

// RunCgroup is the cgroup of one run, made before it starts and removed
// after it ends.
type RunCgroup struct {
	Dir      string // the cgroup directory the launcher joins
	MemoryMB int64  // memory.max in MiB; 0: not limited here
}

// Needs reports whether a run with limits l gets a cgroup of its own: it
// has a limit that an enabled controller applies.
func (c *Cgroups) Needs(l *config.Limits) bool {
	return c != nil && l != nil && ((c.Memory && l.MemoryMB > 0) || (c.CPU && l.CPUPercent > 0))
}

// NewRun makes the cgroup of run id of process name and writes its limits
// (memory.max, cpu.max). A leftover of the same name, from a bpm that
// died, is removed first.
func (c *Cgroups) NewRun(name string, id int, l *config.Limits) (*RunCgroup, error) {
	r := &RunCgroup{Dir: filepath.Join(c.Dir, fmt.Sprintf("run-%s-%d", name, id))}
	if err := os.Mkdir(r.Dir, 0o755); errors.Is(err, os.ErrExist) {
		if err := removeWhenEmpty(r.Dir); err != nil {
			return nil, err
		}
		err = os.Mkdir(r.Dir, 0o755)
		if err != nil {
			return nil, fmt.Errorf("make cgroup %s: %w", r.Dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("make cgroup %s: %w", r.Dir, err)
	}
	for _, w := range runFiles(c, l) {
		if err := os.WriteFile(filepath.Join(r.Dir, w.file), []byte(w.value), 0); err != nil {
			_ = removeWhenEmpty(r.Dir)
			return nil, fmt.Errorf("cgroup %s: write %s %q: %w", r.Dir, w.file, w.value, err)
		}
		if w.file == "memory.max" {
			r.MemoryMB = l.MemoryMB
		}
	}
	return r, nil
}

// cgroupWrite is one value written into a run's cgroup.
type cgroupWrite struct{ file, value string }

// runFiles lists what NewRun writes for limits l where c has the controllers.
func runFiles(c *Cgroups, l *config.Limits) []cgroupWrite {
	var ws []cgroupWrite
	if c.Memory && l.MemoryMB > 0 {
		ws = append(ws, cgroupWrite{"memory.max", strconv.FormatInt(l.MemoryMB<<20, 10)})
	}
	if c.CPU && l.CPUPercent > 0 {
		ws = append(ws, cgroupWrite{"cpu.max", fmt.Sprintf("%d %d", l.CPUPercent*cpuPeriod/100, cpuPeriod)})
	}
	return ws
}

// OOMKills returns how many processes of the run the kernel killed for
// reaching memory.max (memory.events oom_kill); 0 when unknown.
func (r *RunCgroup) OOMKills() int {
	if r == nil || r.MemoryMB == 0 {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "memory.events"))
	if err != nil {
		return 0
	}
	return eventCount(string(b), "oom_kill")
}

// eventCount returns the value of key in a cgroup "KEY VALUE" file.
func eventCount(events, key string) int {
	for line := range strings.SplitSeq(events, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// Remove kills what is left in the run's cgroup and removes it; the kernel
// empties a cgroup a moment after its last process dies, so it may wait a
// few seconds. Call it off the actor (go r.Remove()).
func (r *RunCgroup) Remove() error {
	if r == nil {
		return nil
	}
	return removeWhenEmpty(r.Dir)
}
