package export

import (
	"path/filepath"
	"strings"
	"testing"

	"bpm/config"
	"bpm/testkit"
)

// bpm reloads .mcp-run on SIGHUP, so `systemctl reload` must send it; and it
// makes a cgroup per run for memory_mb and cpu_percent only where it may
// write to its own cgroup, which under systemd takes Delegate=yes.
func TestBPMUnitReloadsOnSIGHUPAndDelegatesForLimits(t *testing.T) {
	const proc = "[process.a]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\n"
	for _, tc := range []struct {
		name, limits string
		delegate     bool
	}{
		{"no limits", "", false},
		{"open_files", "open_files = 1024\n", false},
		{"memory_mb", "memory_mb = 256\n", true},
		{"cpu_percent", "cpu_percent = 50\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mcpRun := proc + "[process.b]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\n"
			if tc.limits != "" {
				mcpRun += "[process.b.limits]\n" + tc.limits
			}
			cfg, err := config.Load(testkit.NewProject(t, mcpRun))
			if err != nil {
				t.Fatal(err)
			}
			for _, user := range []bool{false, true} {
				data, _ := BPMUnit(cfg, BPMUnitOptions{Self: "/bin/sleep", User: user})
				u := testkit.ParseUnit(data)
				if got := u.Last("Service.ExecReload"); got != "/bin/kill -HUP $MAINPID" {
					t.Errorf("user %v: ExecReload=%q, want /bin/kill -HUP $MAINPID", user, got)
				}
				_, has := u["Service.Delegate"]
				if got := u.Last("Service.Delegate"); has != tc.delegate || has && got != "yes" {
					t.Errorf("user %v: Delegate=%q (set: %v), want set to yes: %v", user, got, has, tc.delegate)
				}
				if tc.delegate && !strings.Contains(string(data), "# [limits] memory_mb and cpu_percent") {
					t.Errorf("user %v: Delegate=yes without the comment saying why:\n%s", user, data)
				}
				path := filepath.Join(t.TempDir(), "bpm-x.service")
				testkit.WriteFile(t, path, string(data))
				testkit.VerifyUnits(t, user, path)
			}
		})
	}
}
