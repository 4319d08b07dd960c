package osproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"bpm/config"
)

// liveCgroups prepares this test process's own cgroup as bpm would, or
// skips where cgroup v2 delegation with memory and cpu is unavailable.
func liveCgroups(t *testing.T) *Cgroups {
	t.Helper()
	f, err := probe(selfFiles)
	if err == nil {
		if why := strings.TrimSpace(f.why("memory") + " " + f.why("cpu")); why != "" {
			err = errors.New(why)
		}
	}
	if err != nil {
		t.Skipf("cgroup v2 delegation is unavailable here, so this test cannot run: %v", err)
	}
	c, whyNot := prepare(selfFiles, true, true, os.Getpid())
	if c == nil || !c.Memory || !c.CPU {
		t.Skipf("cannot enable memory and cpu for child cgroups here: %v", whyNot)
	}
	return c
}

func TestLiveRunCgroupLimitsAndOOMKill(t *testing.T) {
	c := liveCgroups(t)
	r, err := c.NewRun("live", os.Getpid(), &config.Limits{MemoryMB: 32, CPUPercent: 20})
	if err != nil {
		t.Fatal(err)
	}
	// tail keeps a line without end in memory: it grows until the OOM killer
	// ends it. The shell joins the cgroup before it execs, as the launcher does.
	cmd := exec.Command("sh", "-c", fmt.Sprintf("echo $$ > %s/cgroup.procs && exec sh -c 'head -c 500000000 /dev/zero | tail -n 1'", r.Dir))
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the run ended with %v, want a kill", err)
	}
	if n := r.OOMKills(); n == 0 {
		t.Errorf("memory.events oom_kill = 0 after %v", err)
	}
	if got := strings.TrimSpace(read(t, r.Dir+"/cpu.max")); got != "20000 100000" {
		t.Errorf("cpu.max = %q", got)
	}
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the run's cgroup is still there: %v", err)
	}
}
