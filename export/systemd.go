package export

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"bpm/config"
)

// restartStepsVersion is the first systemd with RestartSteps= and RestartMaxDelaySec=.
const restartStepsVersion = 254

// defaultPath is the PATH systemd gives a service.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Systemd exports a project as systemd units: per process a .service, a
// .socket for each process with listen, and one .target that wants them all.
type Systemd struct {
	user    bool   // --user: units for a user manager
	notify  string // --notify: comma-separated processes that send READY=1
	version int    // --systemd-version; 0: this machine's, else the newest
}

// Flags adds --user, --notify and --systemd-version.
func (s *Systemd) Flags(fs *flag.FlagSet) {
	fs.BoolVar(&s.user, "user", false, "units for a user manager (systemctl --user)")
	fs.StringVar(&s.notify, "notify", "", "comma-separated processes that send sd_notify READY=1")
	fs.IntVar(&s.version, "systemd-version", 0, "systemd version the units are for (default: this machine's)")
}

// Validate checks that --notify names processes and --systemd-version is sane.
func (s *Systemd) Validate(cfg *config.Config) error {
	for _, name := range s.notifyNames() {
		if cfg.Process(name) == nil {
			return fmt.Errorf("--notify: unknown process %q; known: %s", name, strings.Join(cfg.Names(), ", "))
		}
	}
	if s.version < 0 {
		return fmt.Errorf("--systemd-version %d: valid: a systemd version such as 252 or 256", s.version)
	}
	return nil
}

func (s *Systemd) notifyNames() []string {
	var names []string
	for _, n := range strings.Split(s.notify, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// sdExport is one run of the systemd exporter.
type sdExport struct {
	*Systemd
	proj    *Project
	cfg     *config.Config
	version int    // target systemd version, 0 when unknown
	owner   string // User= for system units, "" for --user
	warn    []string
}

// Export returns the units and the warnings; docs/operations.md has the mapping.
func (s *Systemd) Export(p *Project) (*Result, error) {
	x := &sdExport{Systemd: s, proj: p, cfg: p.Config, version: s.version}
	if x.version == 0 {
		x.version = localSystemdVersion()
	}
	if !s.user {
		x.owner = currentUser()
	}
	res := &Result{}
	for _, proc := range p.Config.Processes {
		svc, err := x.service(proc)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, File{Name: x.unitName(proc, ".service"), Data: svc})
		if proc.Listen != "" {
			res.Files = append(res.Files, File{Name: x.unitName(proc, ".socket"), Data: x.socket(proc)})
		}
	}
	res.Files = append(res.Files, File{Name: p.Prefix + ".target", Data: x.target()})
	res.Warnings = append(x.warn, x.limitations()...)
	return res, nil
}

func (x *sdExport) unitName(p *config.Process, suffix string) string {
	return x.proj.Prefix + "-" + p.Name + suffix
}

func (x *sdExport) warnf(format string, args ...any) {
	x.warn = append(x.warn, fmt.Sprintf(format, args...))
}

// header is the comment that opens every file.
func (x *sdExport) header(u *unit, name, what string) {
	u.comment("%s: %s.\nWritten by `bpm export systemd` from %s; docs/operations.md has the mapping.", name, what, x.cfg.File)
}

// service is the .service unit of p.
func (x *sdExport) service(p *config.Process) ([]byte, error) {
	argv, found, err := x.execStart(p)
	if err != nil {
		return nil, err
	}
	u := &unit{}
	x.header(u, x.unitName(p, ".service"), fmt.Sprintf("process %s (%s, line %d)", p.Name, p.Type, p.Line))
	u.section("Unit")
	u.set("Description", plain(fmt.Sprintf("%s: %s (%s process, exported by bpm)", x.proj.Prefix, p.Name, p.Type)))
	u.set("PartOf", x.proj.Prefix+".target")
	if !x.user {
		u.set("After", "network.target")
	}
	if p.Listen != "" {
		u.set("Requires", x.unitName(p, ".socket"))
		u.set("After", x.unitName(p, ".socket"))
	}
	x.dependencies(u, p)
	u.comment("bpm never stops restarting a crashed process; without this, systemd gives up\nafter 5 starts within 10 s.")
	u.set("StartLimitIntervalSec", "0")

	u.section("Service")
	x.startType(u, p)
	if x.owner != "" {
		u.set("User", plain(x.owner))
	}
	u.set("WorkingDirectory", plain(p.Dir))
	x.environment(u, p, found)
	u.set("ExecStart", execLine(argv))
	x.ready(u, p)
	x.restart(u)
	x.stop(u, p)
	x.limits(u, p)
	x.health(u, p)
	return u.bytes(), nil
}

// execStart is p's release run argv with an absolute executable, as
// systemd-analyze verify wants it, and the directory where the executable
// was found in PATH ("" when it was not looked up there).
func (x *sdExport) execStart(p *config.Process) ([]string, string, error) {
	art := x.proj.Artifacts[p.Name]
	if p.Type == config.TypeRust && art == "" {
		return nil, "", fmt.Errorf("export systemd: process %s: no executable from its release build", p.Name)
	}
	argv := x.cfg.RunArgv(p, config.Release, art)
	switch {
	case filepath.IsAbs(argv[0]):
	case strings.ContainsRune(argv[0], '/'):
		argv[0] = filepath.Join(p.Dir, argv[0])
	default:
		path, err := exec.LookPath(argv[0])
		if err != nil {
			x.warnf("process %s: %s is not on this machine's PATH; ExecStart= names it bare, and systemd looks for it in %s", p.Name, argv[0], defaultPath)
			break
		}
		if abs, err := filepath.Abs(path); err == nil {
			argv[0] = abs
			return argv, filepath.Dir(abs), nil
		}
	}
	return argv, "", nil
}

// environment writes p's env, and a PATH when p's executable was found in
// a directory (found) that systemd's PATH lacks: node beside npm, say.
func (x *sdExport) environment(u *unit, p *config.Process, found string) {
	hasPath := false
	for _, kv := range p.Env {
		name, _, _ := strings.Cut(kv, "=")
		if !envNameValid(name) {
			u.comment("env %q: not set. systemd ignores a name that is not ASCII letters, digits and '_'\n"+
				"(not starting with a digit); /usr/bin/env NAME=VALUE before the command in ExecStart= sets it.", name)
			x.warnf("process %s: env %q is not a variable name systemd accepts (ASCII letters, digits and '_', not starting with a digit): the unit does not set it",
				p.Name, name)
			continue
		}
		hasPath = hasPath || name == "PATH"
		u.set("Environment", envWord(kv))
	}
	if found == "" || hasPath || slices.Contains(filepath.SplitList(defaultPath), found) {
		return
	}
	u.comment("The executable was found in %s, which systemd's PATH lacks; what it starts may be there too.", found)
	u.set("Environment", envWord("PATH="+found+":"+defaultPath))
}

// envNameValid reports whether systemd takes name in Environment=: ASCII
// letters, digits and '_', not starting with a digit, as bash does (systemd's
// env_name_is_valid; its limit of ARG_MAX-2 bytes is one no exec passes).
func envNameValid(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, c := range []byte(name) {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// restart maps the release backoff: initial × 1.5 per crash up to max.
func (x *sdExport) restart(u *unit) {
	initial, max := x.cfg.BackoffInitial, x.cfg.BackoffMax
	u.comment("bpm restarts a crashed process after %s, x1.5 per crash, at most %s. It also restarts\n"+
		"after a clean exit; on-failure leaves a process that exits 0 stopped.", seconds(initial), seconds(max))
	u.set("Restart", "on-failure")
	u.set("RestartSec", seconds(initial))
	steps := restartSteps(initial, max)
	if steps == 0 {
		return
	}
	if x.version != 0 && x.version < restartStepsVersion {
		u.comment("systemd %d has no growing delay (systemd %d has): every restart waits RestartSec=.\n"+
			"RestartSteps=%d\nRestartMaxDelaySec=%s", x.version, restartStepsVersion, steps, seconds(max))
		return
	}
	u.set("RestartSteps", strconv.Itoa(steps))
	u.set("RestartMaxDelaySec", seconds(max))
}

// stop maps stop_signal and stop_timeout_seconds.
func (x *sdExport) stop(u *unit, p *config.Process) {
	u.comment("Like bpm: the stop signal to every process of the run, SIGKILL after the timeout.")
	u.set("KillMode", "control-group")
	u.set("KillSignal", unix.SignalName(p.StopSignal))
	u.set("TimeoutStopSec", seconds(p.StopTimeout))
}

// socket is the .socket unit of a process with listen.
func (x *sdExport) socket(p *config.Process) []byte {
	u := &unit{}
	x.header(u, x.unitName(p, ".socket"), fmt.Sprintf("the listen address of process %s", p.Name))
	u.section("Unit")
	u.set("Description", plain(fmt.Sprintf("%s: %s's socket %s (exported by bpm)", x.proj.Prefix, p.Name, p.Listen)))
	u.set("PartOf", x.proj.Prefix+".target")
	u.section("Socket")
	stream, note := listenStream(p.Listen)
	if note != "" {
		u.comment("%s", note)
	}
	u.set("ListenStream", plain(stream))
	u.comment("Passed as fd 3 with LISTEN_FDS=1 and LISTEN_FDNAMES=%s, as bpm passes it.", p.Name)
	u.set("FileDescriptorName", p.Name)
	return u.bytes()
}

// listenStream is addr as ListenStream= takes it, and a note when it differs.
func listenStream(addr string) (string, string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, ""
	}
	switch host {
	case "":
		return port, fmt.Sprintf("listen = %q: every address, IPv4 and IPv6, as Go binds it.", addr)
	case "localhost":
		return "127.0.0.1:" + port, fmt.Sprintf("listen = %q: ListenStream= takes an address, not a name.", addr)
	}
	return addr, ""
}

// target is the .target that wants every unit of the project.
func (x *sdExport) target() []byte {
	u := &unit{}
	x.header(u, x.proj.Prefix+".target", "every process of the project")
	u.section("Unit")
	u.set("Description", plain(fmt.Sprintf("%s: the processes of %s (exported by bpm)", x.proj.Prefix, x.cfg.Dir)))
	var wants []string
	for _, p := range x.cfg.Processes {
		if p.Listen != "" {
			wants = append(wants, x.unitName(p, ".socket"))
		}
		wants = append(wants, x.unitName(p, ".service"))
	}
	u.set("Wants", strings.Join(wants, " "))
	u.section("Install")
	if x.user {
		u.set("WantedBy", "default.target")
	} else {
		u.set("WantedBy", "multi-user.target")
	}
	return u.bytes()
}

// localSystemdVersion is the version of this machine's systemd, 0 if none.
func localSystemdVersion() int {
	for _, tool := range []string{"systemctl", "systemd-analyze"} {
		out, err := exec.Command(tool, "--version").Output()
		if err != nil {
			continue
		}
		if m := versionRE.FindSubmatch(out); m != nil {
			v, _ := strconv.Atoi(string(m[1]))
			return v
		}
	}
	return 0
}

var versionRE = regexp.MustCompile(`^systemd (\d+)`)

// currentUser is the name of the user running bpm, or its uid where the
// name cannot be looked up (a container's user without a passwd entry).
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// mentionsNotify reports whether the file at path holds NOTIFY_SOCKET: an
// executable that reads it most likely sends sd_notify messages.
func mentionsNotify(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && bytes.Contains(data, []byte("NOTIFY_SOCKET"))
}
