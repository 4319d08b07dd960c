//go:build !linux

package osproc

import (
	"errors"
	"os"
)

// becomeSubreaper: only Linux has child subreapers; elsewhere a descendant
// that leaves its run's process group is not tracked.
func becomeSubreaper() error {
	return errors.New("child subreapers are Linux only")
}

func selfIDs() (pid, pgid, sid int) { return os.Getpid(), 0, 0 }

// readProcs: no /proc here, so no process is seen.
func readProcs() map[int]procInfo { return nil }

func readToken(int) string { return "" }

func reapZombie(int) {}
