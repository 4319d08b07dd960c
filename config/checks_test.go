package config

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bpm/testkit"
)

// loadErr loads dir and returns its *Error, failing the test when there is none.
func loadErr(t *testing.T, dir string) *Error {
	t.Helper()
	_, err := Load(dir)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load: %v, want an *Error", err)
	}
	return ce
}

func TestTwoProcessesWithTheSameListenAreRejected(t *testing.T) {
	tests := []struct {
		a, b  string
		clash bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{":8080", "0.0.0.0:8080", true},
		{":8080", "127.0.0.1:8080", true},
		{"0.0.0.0:8080", "127.0.0.1:8080", true},
		{"[::]:8080", "127.0.0.1:8080", true},
		{"localhost:8080", "127.0.0.1:8080", true},
		{"LOCALHOST:8080", "localhost:8080", true},
		{"127.0.0.1:8080", "127.0.0.1:08080", true},
		{"[::ffff:127.0.0.1]:8080", "127.0.0.1:8080", true},
		{"[::1]:8080", "[0:0::1]:8080", true},
		{"127.0.0.1:8080", "127.0.0.1:8081", false},
		{"127.0.0.1:8080", "127.0.0.2:8080", false},
		{"[::1]:8080", "127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			doc := fmt.Sprintf("[process.a]\ntype = \"go\"\nlisten = %q\n\n[process.b]\ntype = \"go\"\nlisten = %q\n", tt.a, tt.b)
			dir := project(t, doc)
			if !tt.clash {
				mustLoad(t, dir)
				return
			}
			err := loadErr(t, dir)
			if err.Line != 7 || err.Key != "process.b.listen" || err.File != filepath.Join(dir, FileName) {
				t.Errorf("error at %s:%d %s, want .mcp-run:7 process.b.listen: %v", err.File, err.Line, err.Key, err)
			}
			for _, want := range []string{"process.a.listen", "line 3", "valid:"} {
				if !strings.Contains(err.Msg, want) {
					t.Errorf("message lacks %q: %s", want, err.Msg)
				}
			}
		})
	}
}

func TestListenOnTheMCPAddressIsRejected(t *testing.T) {
	t.Setenv(TokenEnv, "secret")
	tests := []struct {
		name, top, listen string
		clash             bool
	}{
		{"default MCP address", "", "127.0.0.1:3001", true},
		{"wildcard listen", "mcp_port = 4000\n", ":4000", true},
		{"wildcard MCP host", "mcp_host = \"0.0.0.0\"\n", "127.0.0.1:3001", true},
		{"localhost MCP host", "mcp_host = \"localhost\"\nmcp_port = 4000\n", "127.0.0.1:4000", true},
		{"IPv6 MCP host", "mcp_host = \"::1\"\n", "[::1]:3001", true},
		{"other port", "", "127.0.0.1:3002", false},
		{"other host", "mcp_host = \"::1\"\n", "127.0.0.1:3001", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.top + fmt.Sprintf("\n[process.a]\ntype = \"go\"\n\nlisten = %q\n", tt.listen)
			dir := project(t, doc)
			if !tt.clash {
				mustLoad(t, dir)
				return
			}
			err := loadErr(t, dir)
			line := strings.Count(tt.top, "\n") + 5
			if err.Line != line || err.Key != "process.a.listen" {
				t.Errorf("error at line %d key %s, want line %d process.a.listen: %v", err.Line, err.Key, line, err)
			}
			if !strings.Contains(err.Msg, "MCP") || !strings.Contains(err.Msg, "mcp_port") || !strings.Contains(err.Msg, "valid:") {
				t.Errorf("message does not name the MCP address and mcp_port: %s", err.Msg)
			}
		})
	}
}

func TestSetMCPPortChecksTheListenAddresses(t *testing.T) {
	dir := project(t, "[process.a]\ntype = \"go\"\n\nlisten = \"127.0.0.1:9000\"\n")
	c := mustLoad(t, dir)
	if err := c.SetMCPPort(9001); err != nil || c.MCPPort != 9001 {
		t.Fatalf("SetMCPPort(9001) = %v, MCPPort %d", err, c.MCPPort)
	}
	err := c.SetMCPPort(9000)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("SetMCPPort(9000) = %v, want an *Error", err)
	}
	if ce.File != filepath.Join(dir, FileName) || ce.Line != 4 || ce.Key != "process.a.listen" || !strings.Contains(ce.Msg, "--port 9000") {
		t.Errorf("SetMCPPort(9000) = %v, want .mcp-run:4: process.a.listen naming --port 9000", ce)
	}
}

// executable writes an executable script at dir/rel.
func executable(t *testing.T, dir, rel string) {
	t.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestCheckHostFindsProgramsThatCannotStart(t *testing.T) {
	bin := t.TempDir() // the whole PATH: only "tool" is on it
	executable(t, bin, "tool")
	t.Setenv("PATH", bin)
	tests := []struct {
		name, proc string
		key, want  string // "" when there is no problem
	}{
		{"on PATH", `type = "command"` + "\ncommand = [\"tool\", \"x\"]", "", ""},
		{"not on PATH", `type = "command"` + "\ncommand = [\"no-such-tool\"]", "command", `"no-such-tool" is not on PATH (` + bin + ")"},
		{"npm not on PATH", `type = "npm"` + "\ncommand = [\"npm\", \"start\"]", "command", `"npm" is not on PATH`},
		{"relative, executable", `type = "command"` + "\ncommand = [\"./run.sh\"]", "", ""},
		{"absolute, executable", `type = "command"` + "\ncommand = [\"" + filepath.Join(bin, "tool") + "\"]", "", ""},
		{"relative to dir", `type = "command"` + "\ndir = \"sub\"\ncommand = [\"./sub.sh\"]", "", ""},
		{"relative, missing", `type = "command"` + "\ncommand = [\"./missing\"]", "command", "does not exist"},
		{"relative, not executable", `type = "command"` + "\ncommand = [\"./plain.txt\"]", "command", "is not executable"},
		{"a directory", `type = "command"` + "\ncommand = [\"./sub\"]", "command", "is a directory"},
		{"made by the build", `type = "command"` + "\nbuild = [\"tool\"]\ncommand = [\"./missing\"]", "", ""},
		{"made by the release build", `type = "command"` + "\nbuild_release = [\"tool\"]\ncommand = [\"./missing\"]", "", ""},
		{"build not on PATH", `type = "command"` + "\nbuild = [\"make\"]\ncommand = [\"tool\"]", "build", `"make" is not on PATH`},
		{"build_release not executable", `type = "command"` + "\nbuild_release = [\"./plain.txt\"]\ncommand = [\"tool\"]", "build_release", "is not executable"},
		{"rust without cargo", `type = "rust"`, "type", "rust processes are built with cargo, which is not on PATH"},
		{"go without go", `type = "go"`, "type", "go processes are built with go, which is not on PATH"},
		{"health exec on PATH", `type = "command"` + "\ncommand = [\"tool\"]\nhealth.exec = [\"tool\", \"check\"]", "", ""},
		{"health exec not on PATH", `type = "command"` + "\ncommand = [\"tool\"]\nhealth.exec = [\"curl\", \"-f\", \"x\"]", "health.exec", `"curl" is not on PATH`},
		{"health exec missing", `type = "command"` + "\ncommand = [\"tool\"]\nhealth.exec = [\"./nothere.sh\"]", "health.exec", "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, "mcp_port = 3001\n\n[process.p]\n"+tt.proc+"\n", "sub")
			executable(t, dir, "run.sh")
			executable(t, dir, "sub/sub.sh")
			testkit.WriteFile(t, filepath.Join(dir, "plain.txt"), "not a program\n")
			c := mustLoad(t, dir)
			problems := c.CheckHost()
			if tt.key == "" {
				if len(problems) > 0 {
					t.Fatalf("CheckHost = %v, want none", problems)
				}
				return
			}
			if len(problems) != 1 {
				t.Fatalf("CheckHost = %v, want one problem", problems)
			}
			p := problems[0]
			line := 3 + indexOfKey(tt.proc, tt.key)
			if p.File != c.File || p.Line != line || p.Key != "process.p."+tt.key {
				t.Errorf("problem at %s:%d %s, want %s:%d process.p.%s: %v", p.File, p.Line, p.Key, c.File, line, tt.key, p)
			}
			if !strings.Contains(p.Msg, tt.want) || !strings.Contains(p.Error(), fmt.Sprintf("%s:%d: process.p.%s: ", c.File, line, tt.key)) {
				t.Errorf("problem %q lacks %q", p, tt.want)
			}
		})
	}
}

// indexOfKey returns the 1-based line of key in the process table body proc.
func indexOfKey(proc, key string) int {
	for i, l := range strings.Split(proc, "\n") {
		if strings.HasPrefix(l, key+" ") {
			return i + 1
		}
	}
	return 0
}

// direnvHome isolates direnv's allow list from the user's.
func direnvHome(t *testing.T) {
	t.Helper()
	testkit.Need(t, "direnv")
	home := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
}

func TestCheckHostLooksProgramsUpInDirenvsPath(t *testing.T) {
	direnvHome(t)
	dir := project(t, "[process.p]\ntype = \"command\"\ncommand = [\"from-envrc\"]\n")
	executable(t, dir, "envbin/from-envrc")
	testkit.WriteFile(t, filepath.Join(dir, ".envrc"), "PATH_add envbin\necho loading >&2\n")
	if out, err := exec.Command("direnv", "allow", dir).CombinedOutput(); err != nil {
		t.Fatalf("direnv allow: %v\n%s", err, out)
	}
	if problems := mustLoad(t, dir).CheckHost(); len(problems) > 0 {
		t.Errorf("with the .envrc's PATH: %v, want no problem", problems)
	}
	os.Remove(filepath.Join(dir, ".envrc"))
	problems := mustLoad(t, dir).CheckHost()
	if len(problems) != 1 || problems[0].Key != "process.p.command" || problems[0].Line != 3 {
		t.Errorf("without the .envrc: %v, want from-envrc not on PATH at line 3", problems)
	}
}

func TestCheckHostReportsABlockedEnvrc(t *testing.T) {
	direnvHome(t)
	dir := project(t, "[process.p]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"true\"]\n")
	testkit.WriteFile(t, filepath.Join(dir, ".envrc"), "export A=1\n")
	problems := mustLoad(t, dir).CheckHost()
	if len(problems) != 1 {
		t.Fatalf("CheckHost = %v, want one problem", problems)
	}
	p := problems[0]
	if p.File != filepath.Join(dir, ".envrc") || !strings.Contains(p.Msg, "blocked") || !strings.Contains(p.Msg, "direnv allow "+dir) {
		t.Errorf("problem %q does not say the .envrc is blocked and to run direnv allow %s", p, dir)
	}
	if out, err := exec.Command("direnv", "allow", dir).CombinedOutput(); err != nil {
		t.Fatalf("direnv allow: %v\n%s", err, out)
	}
	if problems := mustLoad(t, dir).CheckHost(); len(problems) > 0 {
		t.Errorf("after direnv allow: %v", problems)
	}
}
