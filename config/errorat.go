package config

import (
	"fmt"
	"strings"
)

// ErrorAt returns an *Error about the key at path (e.g. "process", "web",
// "limits", "cpu_percent"), found after Load: its line is the key's, else
// its process table's. For checks of the host that the file cannot know.
func (c *Config) ErrorAt(path []string, format string, args ...any) *Error {
	idx := c.keyLines()
	paths := [][]string{path}
	if len(path) >= 2 && path[0] == "process" {
		paths = append(paths, path[:2])
	}
	line := idx.lineOr(paths...)
	if line == 0 && len(path) >= 2 && path[0] == "process" {
		if p := c.Process(path[1]); p != nil {
			line = p.Line
		}
	}
	return &Error{File: c.File, Line: line, Key: strings.Join(path, "."), Msg: fmt.Sprintf(format, args...)}
}
