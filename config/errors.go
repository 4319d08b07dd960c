package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Error is a configuration error. Error() formats it as "FILE:LINE: KEY: MESSAGE";
// the LINE part is left out when no line applies and the KEY part when no key does.
// The message says what is valid.
type Error struct {
	File string // path of the .mcp-run file
	Line int    // 1-based; 0 when no line applies
	Key  string // full dotted key, e.g. "process.web.command"; "" when none applies
	Msg  string
	Err  error // underlying error (e.g. from reading the file), or nil
}

// Error formats the error as "FILE:LINE: KEY: MESSAGE".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Valid keys per table, listed in unknown-key errors (and in docs/configuration.md).
var (
	topKeys = []string{"mcp_host", "mcp_port", "mcp_token", "dev_timeout_hours", "dev_crash_wait_seconds",
		"restart_settle_seconds", "release_crash_backoff_initial_seconds", "release_crash_backoff_max_seconds", "log_lines", "log_runs", "log_bytes",
		"mcp_session_idle_minutes", "mcp_max_sessions", "log_dir", "log_max_mb", "log_keep", "log_total_mb",
		"crash_loop_crashes", "crash_loop_window_seconds", "process"}
	processKeys = []string{"type", "args", "command", "build", "build_release", "package", "bin", "dir", "env",
		"stop_signal", "stop_timeout_seconds", "listen", "ready", "depends_on", "restart_with_dependencies", "health", "limits"}
	readyKeys  = []string{"log", "http", "tcp", "timeout_seconds"}
	healthKeys = []string{"http", "tcp", "exec", "interval_seconds", "timeout_seconds", "failures"}
	limitsKeys = []string{"open_files", "memory_mb", "cpu_percent"}
)

// want is the TOML type a key expects.
type want int

const (
	wantNone want = iota
	wantString
	wantInt
	wantNumber
	wantArgv
	wantTable
	wantEnv
	wantBool
)

func (w want) String() string {
	switch w {
	case wantString:
		return "a string"
	case wantInt:
		return "an integer"
	case wantNumber:
		return "a number"
	case wantArgv:
		return "an array of strings"
	case wantTable:
		return "a table"
	case wantEnv:
		return "a table of strings"
	case wantBool:
		return "a boolean"
	}
	return "a value"
}

// accepts reports whether a value of this shape decodes into the wanted type.
func (w want) accepts(v valueInfo) bool {
	switch w {
	case wantString:
		return v.kind == unstable.String
	case wantInt:
		return v.kind == unstable.Integer
	case wantNumber:
		return v.kind == unstable.Integer || v.kind == unstable.Float
	case wantArgv:
		return v.kind == unstable.Array && v.bad == ""
	case wantTable:
		return v.kind == unstable.Table || v.kind == unstable.InlineTable
	case wantEnv:
		return (v.kind == unstable.Table || v.kind == unstable.InlineTable) && v.bad == ""
	case wantBool:
		return v.kind == unstable.Bool
	}
	return true
}

var topWants = map[string]want{
	"mcp_host": wantString, "mcp_port": wantInt, "mcp_token": wantString,
	"dev_timeout_hours": wantNumber, "dev_crash_wait_seconds": wantNumber, "restart_settle_seconds": wantNumber,
	"release_crash_backoff_initial_seconds": wantNumber, "release_crash_backoff_max_seconds": wantNumber,
	"log_lines": wantInt, "log_runs": wantInt, "log_bytes": wantInt, "process": wantTable,
	"mcp_session_idle_minutes": wantNumber, "mcp_max_sessions": wantInt,
	"log_dir": wantString, "log_max_mb": wantNumber, "log_keep": wantInt, "log_total_mb": wantNumber,
	"crash_loop_crashes": wantInt, "crash_loop_window_seconds": wantNumber,
}

var processWants = map[string]want{
	"type": wantString, "args": wantArgv, "command": wantArgv, "build": wantArgv, "build_release": wantArgv,
	"package": wantString, "bin": wantString, "dir": wantString, "env": wantEnv,
	"stop_signal": wantString, "stop_timeout_seconds": wantNumber, "listen": wantString, "ready": wantTable,
	"depends_on": wantArgv, "restart_with_dependencies": wantBool, "health": wantTable, "limits": wantTable,
}

var healthWants = map[string]want{
	"http": wantString, "tcp": wantString, "exec": wantArgv,
	"interval_seconds": wantNumber, "timeout_seconds": wantNumber, "failures": wantInt,
}

var limitsWants = map[string]want{"open_files": wantInt, "memory_mb": wantInt, "cpu_percent": wantInt}

var readyWants = map[string]want{
	"log": wantString, "http": wantString, "tcp": wantString, "timeout_seconds": wantNumber,
}

// argvExamples are shown when an argv key is given a string instead of an array.
var argvExamples = map[string]string{
	"command":       `command = ["npm", "run", "dev"]`,
	"args":          `args = ["--port", "8080"]`,
	"build":         `build = ["make", "build"]`,
	"build_release": `build_release = ["make", "release"]`,
	"depends_on":    `depends_on = ["db"]`,
	"exec":          `exec = ["./healthcheck"]`,
	"health.exec":   `exec = ["./healthcheck"]`,
}

// wantFor returns the type expected at a full key path and the keys valid beside it.
func wantFor(path []string) (want, []string) {
	switch {
	case len(path) == 1:
		return topWants[path[0]], topKeys
	case path[0] != "process":
		return wantNone, nil
	case len(path) == 2:
		return wantTable, nil
	case len(path) == 3:
		return processWants[path[2]], processKeys
	case len(path) == 4 && path[2] == "env":
		return wantString, nil
	case len(path) == 4 && path[2] == "ready":
		return readyWants[path[3]], readyKeys
	case len(path) == 4 && path[2] == "health":
		return healthWants[path[3]], healthKeys
	case len(path) == 4 && path[2] == "limits":
		return limitsWants[path[3]], limitsKeys
	}
	return wantNone, nil
}

// decodeError turns an error of the TOML decoder into an *Error, using the key
// index (nil when the document did not parse) for full keys and value shapes.
func decodeError(file string, idx *keyIndex, err error) *Error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		first := slices.MinFunc(strict.Errors, func(a, b toml.DecodeError) int {
			la, _ := a.Position()
			lb, _ := b.Position()
			return la - lb
		})
		line, _ := first.Position()
		path, _ := idx.resolve(line, first.Key())
		if len(path) == 0 {
			return &Error{File: file, Line: line, Msg: "unknown key", Err: err}
		}
		msg := fmt.Sprintf("unknown key %q", path[len(path)-1])
		if _, valid := wantFor(path); valid != nil {
			msg += "; valid: " + strings.Join(valid, ", ")
		}
		return &Error{File: file, Line: line, Key: strings.Join(path, "."), Msg: msg, Err: err}
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return &Error{File: file, Msg: err.Error(), Err: err}
	}
	line, _ := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	if len(de.Key()) == 0 {
		return &Error{File: file, Line: line, Msg: "invalid TOML: " + msg, Err: err}
	}
	path, v := idx.resolve(line, de.Key())
	if w, _ := wantFor(path); w != wantNone && v != nil && !w.accepts(*v) {
		msg = typeMessage(path, w, *v)
	}
	return &Error{File: file, Line: line, Key: strings.Join(path, "."), Msg: msg, Err: err}
}

// typeMessage says which type a key wants; an argv given as a string gets an example array.
func typeMessage(path []string, w want, got valueInfo) string {
	msg := fmt.Sprintf("must be %s, not %s", w, got.describe())
	switch ex, ok := argvExamples[path[len(path)-1]]; {
	case ok && w == wantArgv && got.kind == unstable.String && path[len(path)-1] == "depends_on":
		msg += "; write an array of process names, e.g. " + ex
	case ok && w == wantArgv && got.kind == unstable.String:
		msg += "; bpm runs no shell, so write an array, e.g. " + ex
	case len(path) == 1 && path[0] == "process":
		msg += "; write one [process.NAME] table per process"
	}
	return msg
}
