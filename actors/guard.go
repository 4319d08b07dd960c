package actors

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// GuardArg is the hidden first argument that makes bpm act as its own guard
// (see RunGuard).
const GuardArg = "__guard"

// Guard reports the process groups of runs and builds to a guard process,
// which kills those still registered when bpm goes away, however it goes
// (SIGKILL included): Pdeathsig only reaches a group's leader, not what the
// leader forked. A nil *Guard does nothing.
type Guard struct {
	w *os.File // the write end of the guard's stdin; only ever written whole lines
}

// StartGuard starts argv (bpm with GuardArg) as the guard process.
func StartGuard(argv []string) (*Guard, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("guard pipe: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = r
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start guard: %w", err)
	}
	go cmd.Wait() // reap it when it ends
	return &Guard{w: w}, nil
}

// Add registers the process group pgid.
func (g *Guard) Add(pgid int) { g.send('+', pgid) }

// Remove unregisters pgid once bpm has seen its leader exit and killed the rest.
func (g *Guard) Remove(pgid int) { g.send('-', pgid) }

// Close tells the guard bpm is done; it kills whatever is still registered
// and exits.
func (g *Guard) Close() {
	if g != nil {
		g.w.Close()
	}
}

func (g *Guard) send(op byte, pgid int) {
	if g == nil || pgid <= 0 {
		return
	}
	// One write of a short line is atomic on a pipe, so actors may share it.
	_, _ = g.w.Write([]byte(string(op) + strconv.Itoa(pgid) + "\n"))
}

// RunGuard is the guard process: it reads "+PGID" and "-PGID" lines until
// its input closes (bpm exited or closed it), then sends SIGKILL to every
// group still registered. It ignores SIGINT, SIGTERM and SIGHUP so that a
// Ctrl-C or a hang-up meant for bpm leaves it there to clean up after bpm.
func RunGuard(in io.Reader) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	groups := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 0 {
			continue
		}
		switch line[0] {
		case '+':
			groups[pgid] = true
		case '-':
			delete(groups, pgid)
		}
	}
	for pgid := range groups {
		_ = signalGroup(pgid, syscall.SIGKILL)
	}
	return 0
}
