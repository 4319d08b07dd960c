package osproc

import (
	"bufio"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// GuardArg is the hidden first argument that makes bpm act as its own guard
// (RunGuard). The shell guard carries it too, so that every guard shows in
// `ps` as "... bpm __guard".
const GuardArg = "__guard"

// guardShell runs guardScript; where it cannot be started (an image with no
// shell), bpm runs itself as the guard.
const guardShell = "/bin/sh"

// guardScript is the guard: RunGuard in POSIX sh, at 2 to 3 MB of RSS
// (dash, bash) where bpm run again takes 14 for a second Go runtime and the
// init of every package bpm links. g holds the registered groups as
// " 12 34 ". Only whole lines count: a line cut by bpm's death has no
// newline, and `read` fails on it. pgid 1 is init's, and kill(-1) would
// signal every process; 0 and leading zeros (01) are no form bpm writes:
// those lines are skipped. `kill` is a builtin, so the guard forks nothing.
const guardScript = `trap '' INT TERM HUP
set -f
g=' '
while read -r l; do
  p=${l#?}
  case $p in ''|0*|1|*[!0-9]*) continue ;; esac
  case $l in
  +*) case $g in *" $p "*) ;; *) g="$g$p " ;; esac ;;
  -*) case $g in *" $p "*) g="${g%% $p *} ${g#* $p }" ;; esac ;;
  esac
done
for p in $g; do kill -s KILL -- "-$p" 2>/dev/null; done
exit 0`

// RunGuard is the guard as bpm itself, for a system where guardScript
// cannot run: it reads "+PGID" and "-PGID" lines until its input closes
// (bpm exited or closed it), then sends SIGKILL to every group still
// registered. A last line without its newline was cut by bpm's death and is
// ignored, as the script does. It leads its own process group, so signals to
// bpm's group do not reach it, and it ignores SIGINT, SIGTERM and SIGHUP as
// well, so that one meant for bpm leaves it there to clean up after bpm.
func RunGuard(in io.Reader) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	groups := map[int]bool{}
	r := bufio.NewReader(in)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		line = strings.TrimSpace(line)
		if len(line) < 2 {
			continue
		}
		// Only the decimal form bpm writes, as in the script.
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 || strconv.Itoa(pgid) != line[1:] {
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
		_ = SignalGroup(pgid, syscall.SIGKILL)
	}
	return 0
}
