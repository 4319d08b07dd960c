package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rawProcess is a [process.NAME] table as decoded; pointers tell absent from empty.
type rawProcess struct {
	Type         *string           `toml:"type"`
	Args         []string          `toml:"args"`
	Command      []string          `toml:"command"`
	Build        []string          `toml:"build"`
	BuildRelease []string          `toml:"build_release"`
	Package      *string           `toml:"package"`
	Bin          *string           `toml:"bin"`
	Dir          *string           `toml:"dir"`
	Env          map[string]string `toml:"env"`
	StopSignal   *string           `toml:"stop_signal"`
	StopTimeout  *float64          `toml:"stop_timeout_seconds"`
	Listen       *string           `toml:"listen"`
	Ready        *rawReady         `toml:"ready"`
	DependsOn    []string          `toml:"depends_on"`
	RestartDeps  *bool             `toml:"restart_with_dependencies"`
	Health       *rawHealth        `toml:"health"`
	Limits       *rawLimits        `toml:"limits"`
}

type rawReady struct {
	Log     *string  `toml:"log"`
	HTTP    *string  `toml:"http"`
	TCP     *string  `toml:"tcp"`
	Timeout *float64 `toml:"timeout_seconds"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// maxNameLen bounds a process name: it names files (log_dir/NAME, .bpm/NAME)
// and exported systemd units, whose names are at most 255 bytes.
const maxNameLen = 64

// signalNames are the stop signals accepted, in the order error messages list them.
var signalNames = []string{"TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "KILL", "WINCH"}

var signals = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP, "QUIT": syscall.SIGQUIT,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "KILL": syscall.SIGKILL, "WINCH": syscall.SIGWINCH,
}

// signalName returns "SIGTERM" for syscall.SIGTERM, and the number for signals bpm does not accept.
func signalName(s syscall.Signal) string {
	for name, sig := range signals {
		if sig == s {
			return "SIG" + name
		}
	}
	return strconv.Itoa(int(s))
}

// procValidator validates one process; its errors fall back to the header line.
type procValidator struct {
	*validator
	name string
	base []string // "process", NAME
}

func (v *procValidator) key(k ...string) []string { return slices.Concat(v.base, k) }

func (v *procValidator) errAt(k string, format string, args ...any) *Error {
	return v.validator.errAt(v.key(strings.Split(k, ".")...), [][]string{v.base}, format, args...)
}

func (v *validator) process(c *Config, name string, r *rawProcess) (*Process, *Error) {
	pv := &procValidator{validator: v, name: name, base: []string{"process", name}}
	if !nameRE.MatchString(name) || len(name) > maxNameLen {
		return nil, v.errAt(pv.base, nil, "invalid process name %q; valid: letters, digits, '_' and '-', at most %d of them", name, maxNameLen)
	}
	if r == nil {
		r = &rawProcess{}
	}
	p := &Process{Name: name, Line: v.idx.line(pv.base...)}
	steps := []func(*Config, *rawProcess, *Process) *Error{pv.typ, pv.argv, pv.place, pv.stop, pv.ready, pv.dependsOn, pv.health, pv.limits}
	for _, step := range steps {
		if err := step(c, r, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (v *procValidator) typ(_ *Config, r *rawProcess, p *Process) *Error {
	valid := strings.Join(processTypes, ", ")
	if r.Type == nil {
		return v.errAt("type", "missing; valid: %s", valid)
	}
	if !slices.Contains(processTypes, *r.Type) {
		return v.errAt("type", "unknown process type %q; valid: %s", *r.Type, valid)
	}
	p.Type = *r.Type
	return nil
}

// misplacedKey checks that keys only some types use are absent for the others.
func (v *procValidator) misplacedKey(r *rawProcess, typ string) *Error {
	an := "a " + typ
	if typ == TypeNpm {
		an = "an npm"
	}
	pkgHint, binHint := "", ""
	switch typ {
	case TypeRust:
		pkgHint = "a rust process picks its binary with bin"
	case TypeGo:
		binHint = "a go process picks what to build with package"
	}
	keys := []struct {
		key    string
		set    bool
		owners []string
		hint   string
	}{
		{"args", r.Args != nil, []string{TypeRust, TypeGo},
			an + ` process takes its whole argv from command, e.g. command = ["npm", "run", "dev"]`},
		{"command", r.Command != nil, []string{TypeNpm, TypeCommand},
			an + ` process runs the binary bpm builds; give its arguments with args, e.g. args = ["--port", "8080"]`},
		{"build", r.Build != nil, []string{TypeCommand}, buildHint(typ)},
		{"build_release", r.BuildRelease != nil, []string{TypeCommand}, buildHint(typ)},
		{"package", r.Package != nil, []string{TypeGo}, pkgHint},
		{"bin", r.Bin != nil, []string{TypeRust}, binHint},
	}
	for _, k := range keys {
		if !k.set || slices.Contains(k.owners, typ) {
			continue
		}
		msg := fmt.Sprintf("only for %s processes", strings.Join(k.owners, " and "))
		if k.hint != "" {
			msg += "; " + k.hint
		}
		return v.errAt(k.key, "%s", msg)
	}
	return nil
}

func buildHint(typ string) string {
	switch typ {
	case TypeRust:
		return "bpm builds rust processes with cargo build"
	case TypeGo:
		return "bpm builds go processes with go build"
	}
	return `npm processes have no build; use type = "command" to add one`
}

func (v *procValidator) argv(_ *Config, r *rawProcess, p *Process) *Error {
	if err := v.misplacedKey(r, p.Type); err != nil {
		return err
	}
	p.Args = r.Args
	switch p.Type {
	case TypeNpm, TypeCommand:
		if r.Command == nil {
			return v.errAt("command", `missing; %s processes need the argv of the run, e.g. command = ["npm", "run", "dev"]`, p.Type)
		}
		if err := v.checkArgv("command", r.Command); err != nil {
			return err
		}
		p.Command = r.Command
	}
	if p.Type == TypeCommand {
		for _, b := range []struct {
			key  string
			argv []string
			dst  *[]string
		}{{"build", r.Build, &p.Build}, {"build_release", r.BuildRelease, &p.BuildRelease}} {
			if b.argv == nil {
				continue
			}
			if err := v.checkArgv(b.key, b.argv); err != nil {
				return err
			}
			*b.dst = b.argv
		}
	}
	p.Package = "."
	if r.Package != nil {
		if *r.Package == "" {
			return v.errAt("package", `empty; valid: a package path such as "." or "./cmd/web"`)
		}
		p.Package = *r.Package
	}
	if r.Bin != nil {
		if *r.Bin == "" {
			return v.errAt("bin", "empty; valid: the name of a binary of the crate, or remove the key")
		}
		p.Bin = *r.Bin
	}
	return nil
}

// checkArgv requires a program: a non-empty array whose first element is non-empty.
func (v *procValidator) checkArgv(key string, argv []string) *Error {
	switch {
	case len(argv) == 0:
		return v.errAt(key, "empty; valid: an argv with the program first, e.g. %s", argvExamples[key])
	case argv[0] == "":
		return v.errAt(key, "the program (first element) is empty; valid: e.g. %s", argvExamples[key])
	}
	return nil
}

// place resolves dir and env.
func (v *procValidator) place(c *Config, r *rawProcess, p *Process) *Error {
	p.Dir = c.Dir
	if r.Dir != nil {
		d := *r.Dir
		if d == "" {
			return v.errAt("dir", `empty; valid: a directory relative to the project, e.g. "web", or remove the key for the project directory`)
		}
		if filepath.IsAbs(d) {
			p.Dir = filepath.Clean(d)
		} else {
			p.Dir = filepath.Join(c.Dir, d)
		}
		st, err := os.Stat(p.Dir)
		switch {
		case err != nil:
			return v.errAt("dir", "%q (%s) does not exist; valid: an existing directory relative to the project", d, p.Dir)
		case !st.IsDir():
			return v.errAt("dir", "%q (%s) is not a directory; valid: an existing directory relative to the project", d, p.Dir)
		}
	}
	keys := make([]string, 0, len(r.Env))
	for k := range r.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := r.Env[k]
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return v.envErr(k, "invalid variable name %q; valid: a non-empty name without '=' or NUL", k)
		case strings.ContainsRune(val, 0):
			return v.envErr(k, "value contains NUL; valid: any string without NUL")
		}
		p.Env = append(p.Env, k+"="+val)
	}
	return nil
}

func (v *procValidator) envErr(k, format string, args ...any) *Error {
	return v.validator.errAt(v.key("env", k), [][]string{v.key("env"), v.base}, format, args...)
}

// stop resolves stop_signal, stop_timeout_seconds and listen.
func (v *procValidator) stop(_ *Config, r *rawProcess, p *Process) *Error {
	p.StopSignal = syscall.SIGTERM
	if r.StopSignal != nil {
		sig, ok := signals[strings.TrimPrefix(*r.StopSignal, "SIG")]
		if !ok {
			return v.errAt("stop_signal", "unknown signal %q; valid: SIG%s (or the same without SIG)",
				*r.StopSignal, strings.Join(signalNames, ", SIG"))
		}
		p.StopSignal = sig
	}
	p.StopTimeout = 5 * time.Second
	if r.StopTimeout != nil {
		d, msg := toDuration(*r.StopTimeout, time.Second, false)
		if msg != "" {
			return v.errAt("stop_timeout_seconds", "%s", msg)
		}
		p.StopTimeout = d
	}
	if r.Listen != nil {
		if msg := checkAddr(*r.Listen); msg != "" {
			return v.errAt("listen", "%s", msg)
		}
		p.Listen = *r.Listen
		if len(p.Command) > 0 && launchers[filepath.Base(p.Command[0])] {
			return v.errAt("listen", "with listen, command must start the app itself, not %q: %s does not pass the socket (fd 3) on and its pid is not the app's; run it directly, e.g. command = [\"node\", \"server.js\"]",
				p.Command[0], filepath.Base(p.Command[0]))
		}
	}
	return nil
}

// launchers are commands that start the app as a child of their own: they
// neither pass fd 3 on nor give the app their pid, so socket hand-off fails.
var launchers = map[string]bool{"npm": true, "npx": true, "yarn": true, "pnpm": true, "cargo": true, "go": true}

// checkAddr returns why addr is not HOST:PORT with a numeric port, or "".
func checkAddr(addr string) string {
	valid := `valid: HOST:PORT, e.g. "127.0.0.1:8080" or ":8080"`
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not HOST:PORT; %s", addr, valid)
	}
	n, err := strconv.Atoi(port)
	if err != nil || strings.Trim(port, "0123456789") != "" || n < 1 || n > 65535 {
		return fmt.Sprintf("port %q of %q is not a number 1..65535; %s", port, addr, valid)
	}
	return ""
}

func (v *procValidator) ready(_ *Config, r *rawProcess, p *Process) *Error {
	if r.Ready == nil {
		return nil
	}
	rr := r.Ready
	var set []string
	for _, k := range []struct {
		key string
		val *string
	}{{"log", rr.Log}, {"http", rr.HTTP}, {"tcp", rr.TCP}} {
		if k.val != nil {
			set = append(set, k.key)
		}
	}
	switch len(set) {
	case 0:
		return v.errAt("ready", `no probe; set exactly one of log, http, tcp, e.g. log = "listening on"`)
	case 1:
	default:
		return v.errAt("ready."+set[1], "only one of log, http, tcp may be set; found %s", strings.Join(set, " and "))
	}
	rd := &Ready{Timeout: 30 * time.Second}
	var msg string
	switch {
	case rr.Log != nil:
		rd.Log = *rr.Log
		msg = checkRegexp(rd)
	case rr.HTTP != nil:
		rd.HTTP = *rr.HTTP
		msg = checkURL(rd.HTTP)
	default:
		rd.TCP = *rr.TCP
		msg = checkAddr(rd.TCP)
	}
	if msg != "" {
		return v.errAt("ready."+set[0], "%s", msg)
	}
	if rr.Timeout != nil {
		d, msg := toDuration(*rr.Timeout, time.Second, true)
		if msg != "" {
			return v.errAt("ready.timeout_seconds", "%s", msg)
		}
		rd.Timeout = d
	}
	p.Ready = rd
	return nil
}

func checkRegexp(rd *Ready) string {
	if rd.Log == "" {
		return "empty; valid: a regexp (RE2 syntax) matched against each output line"
	}
	if len(rd.Log) > 4096 {
		return fmt.Sprintf("%d bytes long; valid: a regexp of at most 4096 bytes", len(rd.Log))
	}
	re, err := regexp.Compile(rd.Log)
	if err != nil {
		return fmt.Sprintf("bad regexp: %v; valid: RE2 syntax (https://golang.org/s/re2syntax)", err)
	}
	rd.LogRegexp = re
	return ""
}

func checkURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Sprintf("bad URL: %v; valid: an http or https URL, e.g. \"http://127.0.0.1:8080/health\"", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q: scheme must be http or https, e.g. \"http://127.0.0.1:8080/health\"", s)
	case u.Host == "":
		return fmt.Sprintf("%q has no host; valid: e.g. \"http://127.0.0.1:8080/health\"", s)
	}
	return ""
}
