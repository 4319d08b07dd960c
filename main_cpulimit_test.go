package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"bpm/actors/osproc"
	"bpm/config"
	"bpm/testkit"
)

// cpu_percent that this host cannot apply is a config error both for
// bpm check and for bpm itself, which must not start the process without
// its limit: exit 2, naming file, line and key, and nothing bound.
func TestCPUPercentWithoutCgroupV2CPUIsAConfigError(t *testing.T) {
	t.Parallel()
	port := testkit.FreePort(t)
	dir := testkit.NewProject(t, fmt.Sprintf(`mcp_port = %d

[process.web]
type = "command"
command = ["sleep", "1000"]

[process.web.limits]
cpu_percent = 50
`, port))
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if osproc.HostProblems(cfg) == nil {
		t.Skip("this host gives bpm a cgroup v2 with the cpu controller, so cpu_percent is valid here")
	}
	where := filepath.Join(dir, config.FileName) + ":8: process.web.limits.cpu_percent: bpm cannot apply it on this host: "
	for _, args := range [][]string{{"check", dir}, {dir}} {
		code, stderr := runBPM(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, where) || !strings.Contains(stderr, "valid: remove cpu_percent") {
			t.Errorf("bpm %s: exit %d, stderr %q; want 2 and %q", strings.Join(args, " "), code, stderr, where)
		}
	}
	// Nothing was served meanwhile.
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Errorf("bpm served MCP on %d although its config has an error", port)
	}
}
