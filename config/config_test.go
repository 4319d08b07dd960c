package config

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// project writes doc as the .mcp-run of a new temp dir, creates subdirs, and returns the dir.
func project(t *testing.T, doc string, subdirs ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range subdirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, dir string) *Config {
	t.Helper()
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

const minimal = "[process.api]\ntype = \"go\"\n"

func TestDefaults(t *testing.T) {
	t.Setenv(TokenEnv, "")
	dir := project(t, minimal)
	c := mustLoad(t, dir)
	if c.Dir != dir || c.File != filepath.Join(dir, FileName) || c.Envrc {
		t.Errorf("Dir, File, Envrc = %q, %q, %v", c.Dir, c.File, c.Envrc)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"MCPHost", c.MCPHost, "127.0.0.1"},
		{"MCPPort", c.MCPPort, 3001},
		{"MCPToken", c.MCPToken, ""},
		{"DevTimeout", c.DevTimeout, 3 * time.Hour},
		{"DevCrashWait", c.DevCrashWait, 120 * time.Second},
		{"RestartSettle", c.RestartSettle, 3 * time.Second},
		{"BackoffInitial", c.BackoffInitial, time.Second},
		{"BackoffMax", c.BackoffMax, 300 * time.Second},
		{"LogLines", c.LogLines, 10000},
		{"LogRuns", c.LogRuns, 10},
	}
	p := c.Process("api")
	if p == nil {
		t.Fatal("process api missing")
	}
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"Line", p.Line, 1},
		{"Package", p.Package, "."},
		{"Dir", p.Dir, dir},
		{"StopSignal", p.StopSignal, syscall.SIGTERM},
		{"StopTimeout", p.StopTimeout, 5 * time.Second},
		{"Listen", p.Listen, ""},
		{"Ready", p.Ready == nil, true},
		{"Env", p.Env == nil, true},
	}...)
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			if ch.got != ch.want {
				t.Errorf("got %v, want %v", ch.got, ch.want)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		get  func(*Config) time.Duration
		want time.Duration
	}{
		{"fractional hours", "dev_timeout_hours = 0.001\n" + minimal, func(c *Config) time.Duration { return c.DevTimeout }, 3600 * time.Millisecond},
		{"integer hours", "dev_timeout_hours = 1\n" + minimal, func(c *Config) time.Duration { return c.DevTimeout }, time.Hour},
		{"fractional seconds", "dev_crash_wait_seconds = 0.25\n" + minimal, func(c *Config) time.Duration { return c.DevCrashWait }, 250 * time.Millisecond},
		{"zero crash wait", "dev_crash_wait_seconds = 0\n" + minimal, func(c *Config) time.Duration { return c.DevCrashWait }, 0},
		{"backoff initial", "release_crash_backoff_initial_seconds = 0.5\n" + minimal, func(c *Config) time.Duration { return c.BackoffInitial }, 500 * time.Millisecond},
		{"backoff max equal to initial", "release_crash_backoff_initial_seconds = 2\nrelease_crash_backoff_max_seconds = 2\n" + minimal, func(c *Config) time.Duration { return c.BackoffMax }, 2 * time.Second},
		{"stop timeout", minimal + "stop_timeout_seconds = 0.1\n", func(c *Config) time.Duration { return c.Processes[0].StopTimeout }, 100 * time.Millisecond},
		{"ready timeout", minimal + "ready = { tcp = \":80\", timeout_seconds = 1.5 }\n", func(c *Config) time.Duration { return c.Processes[0].Ready.Timeout }, 1500 * time.Millisecond},
		{"ready default timeout", minimal + "ready.tcp = \":80\"\n", func(c *Config) time.Duration { return c.Processes[0].Ready.Timeout }, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, project(t, tt.doc))
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestToken(t *testing.T) {
	tests := []struct {
		name, env, doc, want string
	}{
		{"none", "", minimal, ""},
		{"env only", "from-env", minimal, "from-env"},
		{"file only", "", "mcp_token = \"from-file\"\n" + minimal, "from-file"},
		{"file wins over env", "from-env", "mcp_token = \"from-file\"\n" + minimal, "from-file"},
		{"public host with env token", "from-env", "mcp_host = \"0.0.0.0\"\n" + minimal, "from-env"},
		{"localhost without token", "", "mcp_host = \"localhost\"\n" + minimal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(TokenEnv, tt.env)
			if got := mustLoad(t, project(t, tt.doc)).MCPToken; got != tt.want {
				t.Errorf("MCPToken = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProcessFields(t *testing.T) {
	doc := `mcp_host = "::1"
mcp_port = 4000
log_lines = 5
log_runs = 2
process.mid.type = "npm"
process.mid.command = ["npm", "run", "dev"]
process.mid.ready.http = "https://localhost:3000/health"

[process.zeta]
type = "command"
command = ["./serve", "--flag value"]
dir = "srv"
env = { B = "2", A = "1" }
stop_signal = "INT"
listen = "127.0.0.1:8080"

[process.alpha]
type = "rust"
bin = "core"
args = ["serve"]
stop_signal = "SIGHUP"
[process.alpha.ready]
log = 'listening on \d+'
`
	dir := project(t, doc, "srv")
	c := mustLoad(t, dir)
	if got := c.Names(); !slices.Equal(got, []string{"mid", "zeta", "alpha"}) {
		t.Errorf("Names() = %v, want file order mid zeta alpha", got)
	}
	if c.MCPAddr() != "[::1]:4000" || c.LogLines != 5 || c.LogRuns != 2 {
		t.Errorf("MCPAddr, LogLines, LogRuns = %q, %d, %d", c.MCPAddr(), c.LogLines, c.LogRuns)
	}
	z, a, m := c.Process("zeta"), c.Process("alpha"), c.Process("mid")
	if c.Process("nope") != nil {
		t.Error(`Process("nope") != nil`)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"zeta line", z.Line, 9},
		{"zeta dir", z.Dir, filepath.Join(dir, "srv")},
		{"zeta env sorted", slices.Equal(z.Env, []string{"A=1", "B=2"}), true},
		{"zeta signal", z.StopSignal, syscall.SIGINT},
		{"zeta listen", z.Listen, "127.0.0.1:8080"},
		{"alpha line", a.Line, 17},
		{"alpha bin", a.Bin, "core"},
		{"alpha signal", a.StopSignal, syscall.SIGHUP},
		{"alpha ready log", a.Ready.Log, `listening on \d+`},
		{"alpha ready regexp", a.Ready.LogRegexp.MatchString("listening on 80"), true},
		{"mid line", m.Line, 5},
		{"mid ready http", m.Ready.HTTP, "https://localhost:3000/health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestSignals(t *testing.T) {
	for name, sig := range signals {
		for _, form := range []string{name, "SIG" + name} {
			t.Run(form, func(t *testing.T) {
				c := mustLoad(t, project(t, minimal+"stop_signal = \""+form+"\"\n"))
				if got := c.Processes[0].StopSignal; got != sig {
					t.Errorf("StopSignal = %v, want %v", got, sig)
				}
				if got := signalName(sig); got != "SIG"+name {
					t.Errorf("signalName = %q, want %q", got, "SIG"+name)
				}
			})
		}
	}
}

func TestRelativeLoadDir(t *testing.T) {
	dir := project(t, minimal)
	t.Chdir(dir)
	c := mustLoad(t, ".")
	if c.Dir != dir || c.Processes[0].Dir != dir {
		t.Errorf("Dir = %q, process Dir = %q, want %q", c.Dir, c.Processes[0].Dir, dir)
	}
}

func TestEnvrc(t *testing.T) {
	dir := project(t, minimal)
	if mustLoad(t, dir).Envrc {
		t.Fatal("Envrc without .envrc")
	}
	if err := os.WriteFile(filepath.Join(dir, ".envrc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !mustLoad(t, dir).Envrc {
		t.Fatal("no Envrc with .envrc")
	}
}
