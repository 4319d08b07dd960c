package config

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestOrchestrationKeys(t *testing.T) {
	dir := project(t, `
log_dir = "logs"
log_max_mb = 0.5
log_keep = 2
log_total_mb = 3
crash_loop_crashes = 4
crash_loop_window_seconds = 30

[process.web]
type = "command"
command = ["./web"]
depends_on = ["api", "db"]
restart_with_dependencies = true
health = { http = "http://127.0.0.1:8080/health", interval_seconds = 0.5, failures = 2 }
limits = { open_files = 64, memory_mb = 256, cpu_percent = 50 }

[process.api]
type = "command"
command = ["./api"]
depends_on = ["db"]
health.exec = ["./check", "--quick"]

[process.db]
type = "command"
command = ["./db"]
`)
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.LogDir != filepath.Join(dir, "logs") || c.LogMaxBytes != 512<<10 || c.LogKeep != 2 || c.LogTotalBytes != 3<<20 {
		t.Errorf("log files = %q %d %d %d", c.LogDir, c.LogMaxBytes, c.LogKeep, c.LogTotalBytes)
	}
	if c.CrashLoopCrashes != 4 || c.CrashLoopWindow != 30*time.Second {
		t.Errorf("crash loop = %d in %v", c.CrashLoopCrashes, c.CrashLoopWindow)
	}
	web := c.Process("web")
	if !slices.Equal(web.DependsOn, []string{"api", "db"}) || !web.RestartWithDeps {
		t.Errorf("web depends_on = %v, restart_with_dependencies = %v", web.DependsOn, web.RestartWithDeps)
	}
	want := Health{HTTP: "http://127.0.0.1:8080/health", Interval: 500 * time.Millisecond, Timeout: 5 * time.Second, Failures: 2}
	if h := web.Health; h == nil || h.HTTP != want.HTTP || h.Interval != want.Interval || h.Timeout != want.Timeout || h.Failures != want.Failures {
		t.Errorf("web health = %+v, want %+v", web.Health, want)
	}
	if l := web.Limits; l == nil || *l != (Limits{OpenFiles: 64, MemoryMB: 256, CPUPercent: 50}) {
		t.Errorf("web limits = %+v", web.Limits)
	}
	if h := c.Process("api").Health; h == nil || !slices.Equal(h.Exec, []string{"./check", "--quick"}) || h.Interval != 10*time.Second || h.Failures != 3 {
		t.Errorf("api health = %+v", h)
	}
	if got := c.StartOrder(); !slices.Equal(got, []string{"db", "api", "web"}) {
		t.Errorf("StartOrder = %v, want db, api, web", got)
	}
	if got := c.Dependants("db"); !slices.Equal(got, []string{"web", "api"}) {
		t.Errorf("Dependants(db) = %v, want web, api (file order)", got)
	}
}

func TestOrchestrationDefaults(t *testing.T) {
	c, err := Load(project(t, "[process.web]\ntype = \"npm\"\ncommand = [\"x\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.LogDir != "" || c.LogMaxBytes != 10<<20 || c.LogKeep != 5 || c.LogTotalBytes != 500<<20 || c.CrashLoopCrashes != 5 || c.CrashLoopWindow != time.Minute {
		t.Errorf("defaults: %q %d %d %d %d %v", c.LogDir, c.LogMaxBytes, c.LogKeep, c.LogTotalBytes, c.CrashLoopCrashes, c.CrashLoopWindow)
	}
	p := c.Processes[0]
	if p.DependsOn != nil || p.RestartWithDeps || p.Health != nil || p.Limits != nil {
		t.Errorf("process defaults: %+v", p)
	}
}
