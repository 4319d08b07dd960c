//go:build e2e

package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// pipeSupervisord runs the child as a supervisord program with the default
// stdout capture (a log file in childlogdir) and returns its write time.
func (s *suite) pipeSupervisord(t *testing.T) float64 {
	t.Helper()
	dir := t.TempDir()
	c := newChildRun(t, dir)
	conf := filepath.Join(dir, "supervisord.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[supervisord]
nodaemon = true
logfile = %[1]s/supervisord.log
pidfile = %[1]s/supervisord.pid
childlogdir = %[1]s

[program:lines]
command = %[2]s
`, dir, strings.Join(s.argv(c, lineCount), " "))), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(s.supervisord, "-n", "-c", conf)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer stopProcess(t, cmd, done)
	openGo(t, c.fifo).Close()
	return writeTime(t, c.report)
}

// startPM2 gives PM2 a home of its own, so that a user's PM2 is left alone,
// and kills its daemon when the workload ends.
func (s *suite) startPM2(t *testing.T) string {
	t.Helper()
	// Short: PM2 puts its unix sockets here.
	home, err := os.MkdirTemp("", "pm2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := s.pm2Cmd(home, "kill").CombinedOutput(); err != nil {
			t.Logf("pm2 kill: %v\n%s", err, out)
		}
		// Should the kill have failed, end the daemon this run started.
		if data, err := os.ReadFile(filepath.Join(home, "pm2.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		os.RemoveAll(home)
	})
	return home
}

// pm2Cmd is a pm2 command run with PM2_HOME set to home.
func (s *suite) pm2Cmd(home string, args ...string) *exec.Cmd {
	cmd := exec.Command(s.pm2, args...)
	cmd.Env = append(os.Environ(), "PM2_HOME="+home)
	return cmd
}

// pipePM2 runs the child under PM2 (its default log files in PM2_HOME/logs)
// and returns its write time.
func (s *suite) pipePM2(t *testing.T, home string, round int) float64 {
	t.Helper()
	c := newChildRun(t, t.TempDir())
	name := fmt.Sprintf("lines%d", round)
	argv := s.argv(c, lineCount)
	args := append([]string{"start", argv[0], "--name", name, "--interpreter", "none", "--no-autorestart", "--"}, argv[1:]...)
	if out, err := s.pm2Cmd(home, args...).CombinedOutput(); err != nil {
		t.Fatalf("pm2 start: %v\n%s", err, out)
	}
	openGo(t, c.fifo).Close()
	secs := writeTime(t, c.report)
	if out, err := s.pm2Cmd(home, "delete", name).CombinedOutput(); err != nil {
		t.Errorf("pm2 delete: %v\n%s", err, out)
	}
	os.Remove(filepath.Join(home, "logs", name+"-out.log"))
	return secs
}

// supervisordVersion is `supervisord --version`; "" when not installed.
func (s *suite) supervisordVersion() string {
	if s.supervisord == "" {
		return ""
	}
	out, err := exec.Command(s.supervisord, "--version").Output()
	if err != nil {
		return "unknown version"
	}
	return strings.TrimSpace(string(out))
}

// pm2Version reads the version from PM2's package.json: `pm2 --version`
// would start a daemon.
func pm2Version(pm2 string) string {
	if pm2 == "" {
		return ""
	}
	bin, err := filepath.EvalSymlinks(pm2)
	if err != nil {
		return "unknown version"
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(bin), "..", "package.json"))
	var pkg struct{ Version string }
	if err != nil || json.Unmarshal(data, &pkg) != nil || pkg.Version == "" {
		return "unknown version"
	}
	return pkg.Version
}
