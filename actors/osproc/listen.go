package osproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ListenExecArg is the hidden first argument that makes bpm act as the
// launcher of a run that inherits a listening socket or has [limits] (see
// ListenExec).
const ListenExecArg = "__listen-exec"

// socketEnv are the systemd socket-activation variables; bpm sets them for
// runs with `listen` and keeps its own (if it was socket-activated) from all.
var socketEnv = []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}

// ListenExec sets LISTEN_PID to its own pid and execs argv, so the app runs
// as this pid, as systemd does after fork. Launcher flags before a "--"
// (Launch) add limits, applied before the exec, and make LISTEN_PID
// depend on --listen. It returns only on failure, with the exit code to use.
func ListenExec(argv []string) int {
	launch, argv, err := ParseLaunch(argv)
	if err == nil && len(argv) == 0 {
		err = errors.New("no command given")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bpm %s: %v\n", ListenExecArg, err)
		return 2
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bpm: cannot start %s: %v\n", argv[0], err)
		return 127
	}
	if launch.Listen {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	env := os.Environ()
	if err := launch.Apply(os.Getpid()); err != nil {
		fmt.Fprintf(os.Stderr, "bpm: cannot apply the limits of %s: %v\n", argv[0], err)
		return 126
	}
	err = syscall.Exec(path, argv, env)
	fmt.Fprintf(os.Stderr, "bpm: exec %s: %v\n", path, err)
	return 126
}

// BindListen binds addr for the lifetime of bpm and returns the socket as a
// blocking file, ready to be passed to runs as fd 3.
func BindListen(addr string) (*os.File, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen %s: the address is already in use; stop what holds it or change listen", addr)
		}
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	defer l.Close()
	fd, err := dupListener(l.(*net.TCPListener))
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	// Apps expect a socket in blocking mode, as systemd hands it over.
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	// os/exec calls Fd on every ExtraFile, and Fd of a file that os believes
	// it made non-blocking (as TCPListener.File's is) clears O_NONBLOCK on the
	// open file description, which every run shares: a Go run that set it
	// would block in accept and hang in its graceful stop. NewFile of a
	// blocking descriptor leaves the flags alone, then and on every Fd.
	return os.NewFile(uintptr(fd), "listen "+addr), nil
}

// dupListener returns a close-on-exec duplicate of l's descriptor.
func dupListener(l *net.TCPListener) (int, error) {
	raw, err := l.SyscallConn()
	if err != nil {
		return -1, err
	}
	var fd int
	var dupErr error
	if err := raw.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return fd, dupErr
}

// WithoutSocketEnv drops the socket-activation variables from env.
func WithoutSocketEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !isSocketEnv(name) {
			out = append(out, kv)
		}
	}
	return out
}

func isSocketEnv(name string) bool { return slices.Contains(socketEnv, name) }
