package config

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// cargoBuild is the dev build of a rust process; its JSON messages name the executable.
var cargoBuild = []string{"cargo", "build", "--message-format=json-render-diagnostics"}

// Process returns the process called name, or nil if there is none.
func (c *Config) Process(name string) *Process {
	for _, p := range c.Processes {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Names returns the names of the processes in file order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Processes))
	for i, p := range c.Processes {
		names[i] = p.Name
	}
	return names
}

// MCPAddr returns the HOST:PORT the MCP server listens on.
func (c *Config) MCPAddr() string {
	return net.JoinHostPort(c.MCPHost, strconv.Itoa(c.MCPPort))
}

// GoOutput is where a go process's binary is built: Dir/.bpm/NAME (Dir = project dir).
func (c *Config) GoOutput(p *Process) string {
	return filepath.Join(c.Dir, ".bpm", p.Name)
}

// HasBuild reports whether p is built before it runs: rust and go always,
// command with a build, npm never.
func (p *Process) HasBuild() bool {
	return p.Type == TypeRust || p.Type == TypeGo || (p.Type == TypeCommand && (p.Build != nil || p.BuildRelease != nil))
}

// BuildArgv is the build command for p in mode m, already wrapped in direnv when
// c.Envrc; nil when p has no build. The slice is the caller's.
func (c *Config) BuildArgv(p *Process, m Mode) []string {
	var argv []string
	switch p.Type {
	case TypeRust:
		argv = append(argv, cargoBuild...)
		if m == Release {
			argv = append(argv, "--release")
		}
		if p.Bin != "" {
			argv = append(argv, "--bin", p.Bin)
		}
	case TypeGo:
		argv = []string{"go", "build"}
		if m == Release {
			argv = append(argv, "-trimpath")
		}
		argv = append(argv, "-o", c.GoOutput(p), p.Package)
	case TypeCommand:
		argv = p.Build
		if m == Release && p.BuildRelease != nil {
			argv = p.BuildRelease
		}
	}
	if argv == nil {
		return nil
	}
	return c.wrap(argv)
}

// RunArgv is the run command, wrapped in direnv when c.Envrc. artifact is the
// built executable for rust (from cargo's artifact messages) and ignored for
// other types. The slice is the caller's.
func (c *Config) RunArgv(p *Process, m Mode, artifact string) []string {
	return c.RunArgvVia(p, m, artifact, nil)
}

// RunArgvVia is RunArgv with via placed between the direnv prefix and the
// command, so a launcher that execs the command (bpm's socket hand-off) runs
// with direnv's environment and the command keeps the launcher's pid.
func (c *Config) RunArgvVia(p *Process, m Mode, artifact string, via []string) []string {
	argv := append([]string(nil), via...)
	switch p.Type {
	case TypeRust:
		argv = append(append(argv, artifact), p.Args...)
	case TypeGo:
		argv = append(append(argv, c.GoOutput(p)), p.Args...)
	default:
		argv = append(argv, p.Command...)
	}
	return c.wrap(argv)
}

// Wrap returns a copy of argv, prefixed with `direnv exec DIR` when the
// project has an .envrc, as every build and run is (a health probe's exec).
func (c *Config) Wrap(argv []string) []string { return c.wrap(argv) }

// wrap returns a copy of argv, prefixed with `direnv exec DIR` when the project has an .envrc.
func (c *Config) wrap(argv []string) []string {
	out := make([]string, 0, len(argv)+3)
	if c.Envrc {
		out = append(out, "direnv", "exec", c.Dir)
	}
	return append(out, argv...)
}

// listenLauncher is how Describe shows bpm's launcher for runs with listen:
// it sets LISTEN_PID and execs the command (osproc.ListenExec).
var listenLauncher = []string{"bpm", "__listen-exec"}

// artifactPlaceholder stands for the executable cargo builds in Describe's output.
const artifactPlaceholder = "<cargo artifact>"

// Describe writes the resolved plan (`bpm check` output): global settings, and for
// each process its type, dir, and per mode the build and run argv after direnv
// wrapping, stop signal and timeout, listen and ready. Env values and the token
// are not shown, only env names and whether a token is set.
func (c *Config) Describe(w io.Writer) {
	token := "none"
	if c.MCPToken != "" {
		token = "set"
	}
	envrc := "no"
	if c.Envrc {
		envrc = "yes: builds and runs are wrapped in direnv exec " + quoteArg(c.Dir)
	}
	line := func(indent, label, format string, args ...any) {
		fmt.Fprintf(w, "%s%-15s %s\n", indent, label, fmt.Sprintf(format, args...))
	}
	line("", "file", "%s", c.File)
	line("", "project", "%s", c.Dir)
	line("", "envrc", "%s", envrc)
	line("", "mcp", "http://%s/mcp (token: %s)", c.MCPAddr(), token)
	line("", "dev", "timeout %v, crash wait %v", c.DevTimeout, c.DevCrashWait)
	line("", "release", "crash backoff %v x1.5 per crash, max %v", c.BackoffInitial, c.BackoffMax)
	line("", "mcp sessions", "at most %d, closed after %v idle", c.MaxSessions, c.SessionIdle)
	line("", "logs", "%d lines and %d bytes per run, %d runs per process", c.LogLines, c.LogBytes, c.LogRuns)
	if c.LogDir != "" {
		line("", "log files", "%s, rotated at %d bytes, %d kept, %d bytes in all", c.LogDir, c.LogMaxBytes, c.LogKeep, c.LogTotalBytes)
	}
	line("", "crash loop", "%d crashes within %v", c.CrashLoopCrashes, c.CrashLoopWindow)
	for _, p := range c.Processes {
		fmt.Fprintf(w, "\nprocess %s (%s, line %d)\n", p.Name, p.Type, p.Line)
		line("  ", "dir", "%s", p.Dir)
		if len(p.Env) > 0 {
			names := make([]string, len(p.Env))
			for i, kv := range p.Env {
				names[i], _, _ = strings.Cut(kv, "=")
			}
			line("  ", "env", "%s", strings.Join(names, " "))
		}
		for _, m := range []Mode{Release, Dev} {
			build := "(none)"
			if argv := c.BuildArgv(p, m); argv != nil {
				build = formatArgv(argv)
			}
			line("  ", string(m)+" build", "%s", build)
			var via []string
			if p.Listen != "" {
				via = listenLauncher
			}
			line("  ", string(m)+" run", "%s", formatArgv(c.RunArgvVia(p, m, artifactPlaceholder, via)))
		}
		line("  ", "stop", "%s, SIGKILL after %v", signalName(p.StopSignal), p.StopTimeout)
		if p.Listen != "" {
			line("  ", "listen", "%s as fd 3 (LISTEN_FDS=1, LISTEN_FDNAMES=%s, LISTEN_PID set by bpm __listen-exec)", p.Listen, p.Name)
		}
		if r := p.Ready; r != nil {
			line("  ", "ready", "%s, timeout %v", r.describe(), r.Timeout)
		}
		p.describeOrchestration(line)
	}
}

func (r *Ready) describe() string {
	switch {
	case r.Log != "":
		if strconv.CanBackquote(r.Log) {
			return "log matches `" + r.Log + "`"
		}
		return "log matches " + strconv.Quote(r.Log)
	case r.HTTP != "":
		return "http 2xx from " + r.HTTP
	}
	return "tcp connect to " + r.TCP
}

// formatArgv joins argv with spaces, quoting the args a reader could misread.
func formatArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == artifactPlaceholder {
			parts[i] = a
		} else {
			parts[i] = quoteArg(a)
		}
	}
	return strings.Join(parts, " ")
}

// quoteArg returns a unchanged, or strconv.Quote(a) when it is empty or holds
// white space, quotes, backslashes or unprintable characters.
func quoteArg(a string) string {
	if a == "" || strings.ContainsFunc(a, func(r rune) bool {
		return unicode.IsSpace(r) || r == '"' || r == '\'' || r == '\\' || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(a)
	}
	return a
}
