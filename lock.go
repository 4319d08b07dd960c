package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"bpm/config"
)

// lockPath is the file, relative to the project dir, that a running bpm
// holds an exclusive flock on; it also names that bpm's pid and MCP URL.
const lockPath = ".bpm/lock"

// lockedError says which bpm already holds a project's lock.
type lockedError struct {
	dir    string // the project dir
	holder string // "pid N, MCP URL", or why that is not known
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("another bpm (%s) already runs %s and holds %s; stop it first, or use its MCP endpoint",
		e.holder, e.dir, filepath.Join(e.dir, lockPath))
}

// claimProject prepares serve for cfg before the MCP port is bound: it takes
// the project lock, so that a second bpm neither runs the processes again
// nor builds into the same .bpm/, and warns in the background about what
// this machine lacks to build or run them (bpm check fails on those; bpm
// starts anyway, since at boot it must serve MCP whatever happens). It
// returns the function that releases the lock or, when another bpm holds
// it, nil and the exit code 1.
func claimProject(cfg *config.Config) (release func(), code int) {
	f, err := lockProject(cfg.Dir, "http://"+cfg.MCPAddr()+"/mcp")
	var locked *lockedError
	switch {
	case errors.As(err, &locked):
		fmt.Fprintln(os.Stderr, "bpm:", err)
		return nil, 1
	case err != nil:
		slog.Warn("running without the project lock: a second bpm on this project would not be refused", "err", err)
	}
	go func() {
		for _, p := range cfg.CheckHost() {
			slog.Warn(p.Error() + " (bpm check fails on this; bpm runs the other processes)")
		}
	}()
	// The closure keeps f reachable: a collected *os.File closes its fd and
	// so drops the lock.
	return func() { f.Close() }, 0
}

// lockProject takes an exclusive flock on dir/.bpm/lock, creating both if
// needed, and writes this process's pid and mcpURL into it. The lock lasts
// as long as the returned file is open; the descriptor is close-on-exec, so
// no run or build holds it after bpm is gone. When another process holds
// the lock the error is a *lockedError naming it.
func lockProject(dir, mcpURL string) (*os.File, error) {
	path := filepath.Join(dir, lockPath)
	if err := config.MkdirUnder(dir, filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &lockedError{dir: dir, holder: lockHolder(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	content := fmt.Sprintf("pid %d\nmcp %s\n", os.Getpid(), mcpURL)
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(content), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return f, nil
}

// holderWait bounds how long lockHolder waits for a bpm that has just taken
// the lock to write its pid and URL.
const holderWait = time.Second

// lockHolder reads the pid and MCP URL that the lock's holder wrote, as
// "pid N, MCP URL".
func lockHolder(path string) string {
	deadline := time.Now().Add(holderWait)
	for {
		data, err := os.ReadFile(path)
		if pid, url := parseLock(string(data)); pid != 0 && url != "" {
			return fmt.Sprintf("pid %d, MCP %s", pid, url)
		}
		if err != nil || time.Now().After(deadline) {
			return "whose pid and MCP URL are not written in the lock file"
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parseLock reads the "pid N" and "mcp URL" lines of a lock file.
func parseLock(s string) (pid int, url string) {
	for _, line := range strings.Split(s, "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "pid":
			pid, _ = strconv.Atoi(val)
		case "mcp":
			url = val
		}
	}
	return pid, url
}
