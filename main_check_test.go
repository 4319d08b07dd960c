package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bpm/testkit"
)

// runBPM runs bpm with args to the end and returns its exit code and stderr.
func runBPM(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bpmBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// bpm check fails, naming file, line and key, on what would stop a process
// although the file parses: programs that cannot start, a blocked .envrc,
// and listen addresses that cannot all be bound.
func TestCheckRejectsWhatCannotRun(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "direnv")
	home := t.TempDir()
	direnvEnv := []string{"XDG_DATA_HOME=" + filepath.Join(home, "data"), "XDG_CONFIG_HOME=" + filepath.Join(home, "config")}
	tests := []struct {
		name    string
		mcpRun  string
		envrc   string
		where   string // FILE:LINE: KEY relative to the project, as in the message
		message string
	}{
		{"command not on PATH", "[process.web]\ntype = \"command\"\ncommand = [\"no-such-program-bpm\", \"serve\"]\n",
			"", ".mcp-run:3: process.web.command", `"no-such-program-bpm" is not on PATH`},
		{"command not executable", "[process.web]\ntype = \"command\"\n\ncommand = [\"./.mcp-run\"]\n",
			"", ".mcp-run:4: process.web.command", "is not executable"},
		{"blocked .envrc", "[process.web]\ntype = \"command\"\ncommand = [\"sleep\", \"1\"]\n",
			"export A=1\n", ".envrc", "run `direnv allow "},
		{"two processes, one listen", "[process.a]\ntype = \"go\"\nlisten = \":8080\"\n[process.b]\ntype = \"go\"\nlisten = \"0.0.0.0:8080\"\n",
			"", ".mcp-run:6: process.b.listen", "process.a.listen"},
		{"listen on the MCP address", "mcp_port = 4123\n[process.a]\ntype = \"go\"\nlisten = \"127.0.0.1:4123\"\n",
			"", ".mcp-run:4: process.a.listen", "MCP server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testkit.NewProject(t, tt.mcpRun)
			if tt.envrc != "" {
				testkit.WriteFile(t, filepath.Join(dir, ".envrc"), tt.envrc)
			}
			code, stderr := runBPM(t, direnvEnv, "check", dir)
			if code != 2 {
				t.Fatalf("bpm check: exit %d, want 2\n%s", code, stderr)
			}
			if want := filepath.Join(dir, tt.where) + ": "; !strings.Contains(stderr, want) || !strings.Contains(stderr, tt.message) {
				t.Errorf("bpm check said %q, want %q and %q", stderr, want, tt.message)
			}
		})
	}
}

// --port replaces mcp_port after the file is checked, so bpm checks the
// listen addresses again against it.
func TestPortFlagOnAListenAddressExitsTwo(t *testing.T) {
	t.Parallel()
	port := testkit.FreePort(t)
	dir := testkit.NewProject(t, fmt.Sprintf("[process.a]\ntype = \"go\"\nlisten = \":%d\"\n", port))
	code, stderr := runBPM(t, nil, "--port", strconv.Itoa(port), dir)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, stderr)
	}
	if want := filepath.Join(dir, ".mcp-run") + ":3: process.a.listen: "; !strings.Contains(stderr, want) || !strings.Contains(stderr, "--port") {
		t.Errorf("message %q lacks %q and --port", stderr, want)
	}
}

// What bpm check rejects about the machine does not stop bpm itself: it
// warns and runs the processes it can.
func TestBPMWarnsAboutAMissingProgramAndRunsTheOthers(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.broken]
type = "command"
command = ["no-such-program-bpm"]

[process.fine]
type = "command"
command = ["sh", "-c", "echo fine is up; sleep 1000"]
`)
	b := startBPM(t, "--port", strconv.Itoa(testkit.FreePort(t)), dir)
	b.waitOutput(t, `\[fine\] fine is up`, 20*time.Second)
	want := "WARN " + filepath.Join(dir, ".mcp-run") + `:4: process.broken.command: program "no-such-program-bpm" is not on PATH`
	testkit.WaitFor(t, 10*time.Second, "the warning about broken's command", func() bool {
		return strings.Contains(b.stderr.String(), want)
	})
}
