// Package osproc holds what bpm does to the operating system for its runs,
// builds and probes: starting a child in a process group of its own and
// signalling the group (group.go), the guard that kills those groups when
// bpm dies (guard.go, guardproc.go), `listen` sockets and the launcher, bpm's
// re-exec between direnv and the app (listen.go, launch.go), resource limits
// and cgroup v2 groups (cgroup.go, runcgroup.go, host.go), and ready and
// health probes, with who accepted a probe's connection read from /proc
// (readyprobe.go, probe.go, sockowner.go). It keeps no actor state and
// imports no actor code: the actors call it and turn what it reports into
// their messages.
package osproc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Launch is what the launcher applies to itself before it execs the app,
// so that the app starts with it and keeps the launcher's pid.
type Launch struct {
	Listen       bool   // set LISTEN_PID to the launcher's pid (systemd socket activation)
	OpenFiles    uint64 // RLIMIT_NOFILE, soft and hard; 0: unchanged
	AddressSpace uint64 // RLIMIT_AS in bytes, soft and hard; 0: unchanged
	Cgroup       string // cgroup v2 directory to join; "": none
}

// Launcher flags; they come before a "--" that ends them.
const (
	flagListen = "--listen"
	flagNofile = "--nofile="
	flagAS     = "--as="
	flagCgroup = "--cgroup="
	flagsEnd   = "--"
)

// Args returns l as launcher flags, ended by "--": the argv that goes
// between the launcher (bpm __listen-exec) and the app's command.
func (l Launch) Args() []string {
	var args []string
	if l.Listen {
		args = append(args, flagListen)
	}
	if l.OpenFiles > 0 {
		args = append(args, flagNofile+strconv.FormatUint(l.OpenFiles, 10))
	}
	if l.AddressSpace > 0 {
		args = append(args, flagAS+strconv.FormatUint(l.AddressSpace, 10))
	}
	if l.Cgroup != "" {
		args = append(args, flagCgroup+l.Cgroup)
	}
	return append(args, flagsEnd)
}

// ParseLaunch splits the launcher's arguments into its flags and the app's
// argv. Without flags (argv[0] does not start with "--") the whole of argv
// is the app's and Listen is set: the form bpm uses for a run with `listen`
// and no limits.
func ParseLaunch(argv []string) (Launch, []string, error) {
	if len(argv) == 0 || !strings.HasPrefix(argv[0], "--") {
		return Launch{Listen: true}, argv, nil
	}
	var l Launch
	for i, a := range argv {
		var err error
		switch {
		case a == flagsEnd:
			if i == len(argv)-1 {
				return l, nil, errors.New("no command after --")
			}
			return l, argv[i+1:], nil
		case a == flagListen:
			l.Listen = true
		case strings.HasPrefix(a, flagNofile):
			l.OpenFiles, err = positive(a, flagNofile)
		case strings.HasPrefix(a, flagAS):
			l.AddressSpace, err = positive(a, flagAS)
		case strings.HasPrefix(a, flagCgroup) && len(a) > len(flagCgroup):
			l.Cgroup = a[len(flagCgroup):]
		default:
			return l, nil, fmt.Errorf("unknown flag %q; valid: %s, %sN, %sBYTES, %sDIR, then -- and the command",
				a, flagListen, flagNofile, flagAS, flagCgroup)
		}
		if err != nil {
			return l, nil, err
		}
	}
	return l, nil, errors.New("no -- before the command")
}

func positive(arg, flag string) (uint64, error) {
	n, err := strconv.ParseUint(arg[len(flag):], 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s: want a positive integer", arg)
	}
	return n, nil
}

// Apply joins l's cgroup and sets its rlimits on the calling process; the
// limits pass to what it execs. RLIMIT_AS comes last: past it even the
// launcher's own allocations may fail, so the caller should exec at once.
func (l Launch) Apply(pid int) error {
	if l.Cgroup != "" {
		if err := JoinCgroup(l.Cgroup, pid); err != nil {
			return err
		}
	}
	if l.OpenFiles > 0 {
		// syscall's Setrlimit, not x/sys/unix's: it also tells the Go
		// runtime not to restore its original NOFILE soft limit on exec.
		lim := &syscall.Rlimit{Cur: l.OpenFiles, Max: l.OpenFiles}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, lim); err != nil {
			return fmt.Errorf("open_files %d (RLIMIT_NOFILE): %w%s", l.OpenFiles, err, raiseHint(syscall.RLIMIT_NOFILE, l.OpenFiles, "LimitNOFILE"))
		}
	}
	if l.AddressSpace > 0 {
		lim := &syscall.Rlimit{Cur: l.AddressSpace, Max: l.AddressSpace}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, lim); err != nil {
			return fmt.Errorf("memory_mb %d (RLIMIT_AS): %w%s", l.AddressSpace>>20, err, raiseHint(syscall.RLIMIT_AS, l.AddressSpace, "LimitAS"))
		}
	}
	return nil
}

// raiseHint explains an EPERM from setrlimit: only a privileged process may
// raise a hard limit, and bpm's own hard limit is below want. unitKey is
// the systemd setting that raises it.
func raiseHint(resource int, want uint64, unitKey string) string {
	var cur syscall.Rlimit
	if syscall.Getrlimit(resource, &cur) != nil || want <= cur.Max {
		return ""
	}
	return fmt.Sprintf(" (bpm's hard limit is %d and only a privileged bpm may raise it; valid: at most %d, or raise bpm's own limit, e.g. %s= in its systemd unit)", cur.Max, cur.Max, unitKey)
}
