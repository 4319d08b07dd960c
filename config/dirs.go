package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrProjectMissing is what MkdirUnder returns when the project directory
// is gone (moved or deleted while bpm runs).
var ErrProjectMissing = errors.New("project directory is missing")

// MkdirUnder creates dir and its missing parents like os.MkdirAll, except
// that below the project directory it never creates the project itself or
// anything above it: when project is gone (moved or deleted) it fails with
// ErrProjectMissing instead of re-creating an empty ghost of it. A dir
// outside the project is created as os.MkdirAll would.
func MkdirUnder(project, dir string) error {
	rel, err := filepath.Rel(project, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return os.MkdirAll(dir, 0o755)
	}
	if !isDir(project) {
		return missingProject(project)
	}
	if rel == "." {
		return nil
	}
	cur := project
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		// One level at a time: a project removed after the check above
		// makes the first Mkdir fail (ENOENT) rather than re-create it.
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			if errors.Is(err, os.ErrNotExist) && !isDir(project) {
				return missingProject(project)
			}
			return err
		}
	}
	return nil
}

func missingProject(project string) error {
	return fmt.Errorf("%w: %s (moved or deleted?)", ErrProjectMissing, project)
}

// MissingDir names the directory p's builds and runs need that is not
// there now: the project directory, else p's own `dir`; "" when both are.
// Both existed when the config was loaded; either may be moved or deleted
// while bpm runs.
func (c *Config) MissingDir(p *Process) string {
	switch {
	case !isDir(c.Dir):
		return c.Dir
	case !isDir(p.Dir):
		return p.Dir
	}
	return ""
}

// DirKind says what a dir MissingDir returned is: "project directory" or
// "working directory (dir)".
func (c *Config) DirKind(dir string) string {
	if dir == c.Dir {
		return "project directory"
	}
	return "working directory (dir)"
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
