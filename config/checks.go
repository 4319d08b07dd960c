package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bindAddr is a listen address reduced to what decides whether two binds clash.
type bindAddr struct {
	host string // normalised: an IP in canonical form, or a lower-case name; "" for a wildcard
	port int
}

// parseBind normalises addr (already checked by checkAddr): an empty, 0.0.0.0
// or :: host is the wildcard, "localhost" is 127.0.0.1, IPv4-mapped IPv6 is IPv4.
func parseBind(addr string) bindAddr {
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	b := bindAddr{host: strings.ToLower(strings.TrimSuffix(host, ".")), port: n}
	if b.host == "localhost" {
		b.host = "127.0.0.1"
	}
	if ip, err := netip.ParseAddr(b.host); err == nil {
		ip = ip.Unmap()
		b.host = ip.String()
		if ip.IsUnspecified() {
			b.host = ""
		}
	}
	return b
}

// clashes reports whether binding a and b at once would fail: same port, and
// the same host or a wildcard on either side (Go binds ":PORT" on every
// address, IPv4 and IPv6).
func (a bindAddr) clashes(b bindAddr) bool {
	return a.port == b.port && (a.host == "" || b.host == "" || a.host == b.host)
}

// why says how two clashing addresses overlap, for an error message.
func (a bindAddr) why(b bindAddr) string {
	if a.host == "" || b.host == "" {
		return fmt.Sprintf("both bind port %d, and an empty, 0.0.0.0 or :: host takes it on every address", a.port)
	}
	return fmt.Sprintf("both are %s port %d", a.host, a.port)
}

// listens checks that no two processes listen on the same address and that
// none listens on bpm's own MCP address; portFrom names where the MCP port
// came from ("mcp_port" or "--port").
func (c *Config) listens(idx *keyIndex, portFrom string) *Error {
	mcp := parseBind(c.MCPAddr())
	seen := make([]*Process, 0, len(c.Processes))
	for _, p := range c.Processes {
		if p.Listen == "" {
			continue
		}
		at := func(format string, args ...any) *Error {
			key := []string{"process", p.Name, "listen"}
			line := idx.lineOr(key, []string{"process", p.Name})
			if line == 0 {
				line = p.Line
			}
			return &Error{File: c.File, Line: line, Key: strings.Join(key, "."), Msg: fmt.Sprintf(format, args...)}
		}
		b := parseBind(p.Listen)
		if b.clashes(mcp) {
			return at("%q clashes with bpm's MCP server on %s (mcp_host %q, %s %d): %s; valid: another port here, or another %s",
				p.Listen, c.MCPAddr(), c.MCPHost, portFrom, c.MCPPort, b.why(mcp), portFrom)
		}
		for _, q := range seen {
			if o := parseBind(q.Listen); b.clashes(o) {
				return at("%q clashes with process.%s.listen = %q (line %d): %s; bpm binds each listen once, so valid: a port no other listen uses",
					p.Listen, q.Name, q.Listen, idx.lineOr([]string{"process", q.Name, "listen"}, []string{"process", q.Name}), b.why(o))
			}
		}
		seen = append(seen, p)
	}
	return nil
}

// SetMCPPort overrides the MCP port (bpm's --port flag) and checks again that
// no process listens on the MCP address. Errors are *Error.
func (c *Config) SetMCPPort(port int) error {
	c.MCPPort, c.MCPPortFlag = port, true
	if err := c.listens(c.keyLines(), "--port"); err != nil {
		return err
	}
	return nil
}

// keyLines indexes the file again, for the lines of errors found after Load;
// nil (every line 0) when the file cannot be read any more.
func (c *Config) keyLines() *keyIndex {
	doc, err := readFile(c.File)
	if err != nil {
		return nil
	}
	idx, _ := scanKeys(doc)
	return idx
}

// direnvTimeout bounds the direnv call of CheckHost; an .envrc that takes
// longer would stall every build and run as well.
const direnvTimeout = time.Minute

// CheckHost reports what stops a build or run on this machine although the
// file is valid: a program (the first element of command, build or
// build_release, or cargo and go for rust and go processes) that is not on
// PATH or not executable, and an .envrc that direnv refuses to load. With an
// .envrc, programs are looked up in the PATH that direnv sets up. Problems
// are in file order, the .envrc first; nil when there is none.
func (c *Config) CheckHost() []*Error {
	path, from := os.Getenv("PATH"), "PATH"
	if c.Envrc {
		p, err := c.direnvPath()
		if err != nil {
			return []*Error{err}
		}
		path, from = p, "the PATH that direnv sets up for "+c.Dir
	}
	idx := c.keyLines()
	var problems []*Error
	for _, p := range c.Processes {
		for _, prog := range programsOf(p) {
			msg := findProgram(prog, p.Dir, path, from)
			if msg == "" {
				continue
			}
			key := append([]string{"process", p.Name}, strings.Split(prog.key, ".")...)
			line := idx.lineOr(key, []string{"process", p.Name})
			if line == 0 {
				line = p.Line
			}
			problems = append(problems, &Error{File: c.File, Line: line, Key: strings.Join(key, "."), Msg: msg})
		}
	}
	return problems
}

// program is a program bpm execs for a process, and the key that names it.
type program struct {
	key     string // "command", "build", "build_release", "health.exec", or "type" for cargo and go
	name    string // argv[0]
	builtBy string // for command: the build key whose output it may be, or ""
	tool    string // for type: the toolchain to install, e.g. "Rust (https://rustup.rs)"
	typ     string // for type: the process type
}

func programsOf(p *Process) []program {
	progs := runPrograms(p)
	if p.Health != nil && p.Health.Exec != nil {
		progs = append(progs, program{key: "health.exec", name: p.Health.Exec[0]})
	}
	return progs
}

// runPrograms are the programs of p's builds and runs.
func runPrograms(p *Process) []program {
	switch p.Type {
	case TypeRust:
		return []program{{key: "type", name: "cargo", typ: p.Type, tool: "Rust (https://rustup.rs)"}}
	case TypeGo:
		return []program{{key: "type", name: "go", typ: p.Type, tool: "Go (https://go.dev/dl)"}}
	}
	var progs []program
	run := program{key: "command", name: p.Command[0]}
	if p.Build != nil {
		run.builtBy = "build"
	} else if p.BuildRelease != nil {
		run.builtBy = "build_release"
	}
	progs = append(progs, run)
	if p.Build != nil {
		progs = append(progs, program{key: "build", name: p.Build[0]})
	}
	if p.BuildRelease != nil {
		progs = append(progs, program{key: "build_release", name: p.BuildRelease[0]})
	}
	return progs
}

// findProgram returns why prog cannot be started from dir with PATH path
// (described as from), or "". A name with a slash is relative to dir, as
// bpm starts it; a run command that a build may produce may be missing.
func findProgram(prog program, dir, path, from string) string {
	if strings.Contains(prog.name, "/") {
		full := prog.name
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, full)
		}
		why := notExecutable(full)
		switch {
		case why == nil:
			return ""
		case errors.Is(why, os.ErrNotExist) && prog.builtBy != "":
			return "" // the build makes it
		case errors.Is(why, os.ErrNotExist):
			return fmt.Sprintf("program %q (%s) does not exist; valid: an executable file, relative to the process's dir %s, or a program on PATH",
				prog.name, full, dir)
		}
		return fmt.Sprintf("program %q (%s) %v; valid: an executable file (chmod +x %s)", prog.name, full, why, full)
	}
	for _, d := range filepath.SplitList(path) {
		if filepath.IsAbs(d) && notExecutable(filepath.Join(d, prog.name)) == nil {
			return ""
		}
	}
	if prog.tool != "" {
		return fmt.Sprintf("%s processes are built with %s, which is not on %s (%s); install %s or add its directory to PATH",
			prog.typ, prog.name, from, path, prog.tool)
	}
	return fmt.Sprintf("program %q is not on %s (%s); valid: an installed program, or a path relative to the process's dir such as \"./bin/server\"",
		prog.name, from, path)
}

// notExecutable returns why file cannot be executed, or nil; a missing file
// gives an error that is os.ErrNotExist.
func notExecutable(file string) error {
	st, err := os.Stat(file)
	switch {
	case err != nil:
		return os.ErrNotExist
	case st.IsDir():
		return errors.New("is a directory")
	case unix.Faccessat(unix.AT_FDCWD, file, unix.X_OK, unix.AT_EACCESS) != nil:
		return errors.New("is not executable")
	}
	return nil
}

// ansiRE matches the colour codes direnv puts in its messages.
var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// direnvPath returns the PATH a build or run sees inside `direnv exec DIR`.
// It runs sh by its absolute path, since the .envrc may leave it off PATH.
func (c *Config) direnvPath() (string, *Error) {
	envrc := filepath.Join(c.Dir, ".envrc")
	sh, err := exec.LookPath("sh")
	if err != nil {
		sh = "/bin/sh"
	}
	ctx, cancel := context.WithTimeout(context.Background(), direnvTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "direnv", "exec", c.Dir, sh, "-c", `printf %s "$PATH"`)
	cmd.Dir = c.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		return string(out), nil
	}
	msg := strings.TrimSpace(ansiRE.ReplaceAllString(stderr.String(), ""))
	switch {
	case strings.Contains(msg, "is blocked"):
		return "", &Error{File: envrc, Msg: fmt.Sprintf("blocked: direnv refuses to load it until you approve it, and every build and run goes through direnv exec; run `direnv allow %s`", c.Dir)}
	case ctx.Err() != nil:
		return "", &Error{File: envrc, Msg: fmt.Sprintf("direnv exec %s took longer than %v; every build and run goes through it, so make the .envrc finish quickly", c.Dir, direnvTimeout)}
	}
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	return "", &Error{File: envrc, Err: err,
		Msg: fmt.Sprintf("direnv exec %s fails (%v: %s); every build and run goes through it, so fix the .envrc until `direnv exec %s true` succeeds", c.Dir, err, msg, c.Dir)}
}
