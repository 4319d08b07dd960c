// Package config loads a project's .mcp-run file (TOML), strictly: unknown keys,
// wrong types and invalid values are errors that name the file, line and key.
// It also resolves the plan: the argv of every build and run, per mode.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// FileName is the name of the configuration file in the project directory.
const FileName = ".mcp-run"

// DefaultLogBytes is log_bytes when the file sets none: with the default
// log_runs, a process's 10 run and 10 build rings hold at most 100 MiB of text.
const DefaultLogBytes = 5 << 20

// MinLogBytes is the smallest log_bytes: one line of the longest kept length.
const MinLogBytes = 64 << 10

// TokenEnv is the environment variable that supplies the MCP token when the file sets none.
const TokenEnv = "BPM_MCP_TOKEN"

// Mode is how builds are made and crashes handled: dev or release.
type Mode string

// The two modes.
const (
	Dev     Mode = "dev"
	Release Mode = "release"
)

// Process types, the valid values of Process.Type.
const (
	TypeRust    = "rust"
	TypeNpm     = "npm"
	TypeGo      = "go"
	TypeCommand = "command"
)

var processTypes = []string{TypeRust, TypeNpm, TypeGo, TypeCommand}

// Config is a loaded, validated .mcp-run with every default applied.
type Config struct {
	Dir   string // absolute project dir
	File  string // absolute path of the .mcp-run file
	Envrc bool   // Dir/.envrc exists: every build and run is wrapped in `direnv exec Dir`

	MCPHost string // mcp_host, default "127.0.0.1"
	MCPPort int    // mcp_port, default 3001, 1..65535
	// MCPPortFlag: MCPPort comes from --port (SetMCPPort), not the file.
	MCPPortFlag bool
	MCPToken    string // mcp_token, else env BPM_MCP_TOKEN, else ""

	DevTimeout     time.Duration // dev_timeout_hours, default 3h
	DevCrashWait   time.Duration // dev_crash_wait_seconds, default 120s
	RestartSettle  time.Duration // restart_settle_seconds, default 3s: how long restart watches the new run
	BackoffInitial time.Duration // release_crash_backoff_initial_seconds, default 1s
	BackoffMax     time.Duration // release_crash_backoff_max_seconds, default 300s, >= BackoffInitial

	LogLines int // log_lines, default 10000: lines kept per run or build
	LogRuns  int // log_runs, default 10: runs and builds kept per process
	LogBytes int // log_bytes, default 5 MiB: bytes of text kept per run or build

	SessionIdle time.Duration // mcp_session_idle_minutes, default 60: an MCP session unused this long is closed
	MaxSessions int           // mcp_max_sessions, default 100: live MCP sessions; the longest idle is closed first

	// Persistent logs (docs/configuration.md, "Persistent logs").
	LogDir        string // log_dir made absolute; "" keeps logs in memory only
	LogMaxBytes   int64  // log_max_mb, default 10: a log file is rotated once it passes this size
	LogKeep       int    // log_keep, default 5: rotated files kept per process and kind (run, build)
	LogTotalBytes int64  // log_total_mb, default 500: every file under LogDir together

	// Crash loops: CrashLoopCrashes crashes within CrashLoopWindow put a
	// process in state crash_loop.
	CrashLoopCrashes int           // crash_loop_crashes, default 5
	CrashLoopWindow  time.Duration // crash_loop_window_seconds, default 60s

	Processes []*Process // in file order
}

// Process is one [process.NAME] table, validated and resolved.
type Process struct {
	Name string
	Line int    // line of its [process.NAME] header (or of its first key)
	Type string // TypeRust, TypeNpm, TypeGo or TypeCommand

	Args         []string // rust, go: arguments of the built binary
	Command      []string // npm, command: argv of the run
	Build        []string // command: argv of the dev build, or nil
	BuildRelease []string // command: argv of the release build as written, or nil (BuildArgv applies the fallback)
	Package      string   // go: package to build, default "."
	Bin          string   // rust: binary name when the crate has several

	Dir string   // absolute working directory of builds and runs; exists
	Env []string // "K=V" from the env table, sorted by key

	StopSignal  syscall.Signal // default SIGTERM
	StopTimeout time.Duration  // wait after StopSignal before SIGKILL, default 5s
	Listen      string         // "HOST:PORT" bpm binds and hands to every run, or ""
	Ready       *Ready         // nil when there is no [process.NAME.ready] table

	DependsOn       []string // processes started and ready before this one, stopped after it
	RestartWithDeps bool     // restart_with_dependencies: restart after a dependency's new run is ready
	Health          *Health  // nil when there is no [process.NAME.health] table
	Limits          *Limits  // nil when there is no [process.NAME.limits] table
}

// Health is a liveness probe run while a run is ready: Failures failed
// probes in a row count as a crash. Exactly one of HTTP, TCP, Exec is set.
type Health struct {
	HTTP     string        // http or https URL; a 2xx answer passes
	TCP      string        // "HOST:PORT"; an accepted connection passes
	Exec     []string      // argv run in the process's dir and env; exit 0 passes
	Interval time.Duration // interval_seconds, default 10s
	Timeout  time.Duration // timeout_seconds, default 5s: one probe's limit
	Failures int           // failures, default 3: consecutive failures that count as a crash
}

// Limits are applied to every run of a process; zero fields are unset.
type Limits struct {
	OpenFiles  uint64 // open_files: RLIMIT_NOFILE (soft and hard)
	MemoryMB   int64  // memory_mb: RLIMIT_AS, and cgroup v2 memory.max where bpm can make a cgroup
	CPUPercent int    // cpu_percent: cgroup v2 cpu.max, in percent of one CPU (200: two CPUs)
}

// Ready says when a started run counts as ready. Exactly one of Log, HTTP, TCP is set.
type Ready struct {
	Log       string         // regexp matched against each output line
	LogRegexp *regexp.Regexp // Log compiled; nil when Log is ""
	HTTP      string         // http or https URL; a 2xx answer means ready
	TCP       string         // "HOST:PORT"; an accepted connection means ready
	Timeout   time.Duration  // timeout_seconds, default 30s
}

// rawFile is the document as decoded; fields a user may omit are pre-filled
// with defaults or are pointers, so that presence can be told apart.
type rawFile struct {
	MCPHost        string                 `toml:"mcp_host"`
	MCPPort        int64                  `toml:"mcp_port"`
	MCPToken       *string                `toml:"mcp_token"`
	DevTimeout     float64                `toml:"dev_timeout_hours"`
	DevCrashWait   float64                `toml:"dev_crash_wait_seconds"`
	RestartSettle  float64                `toml:"restart_settle_seconds"`
	BackoffInitial float64                `toml:"release_crash_backoff_initial_seconds"`
	BackoffMax     float64                `toml:"release_crash_backoff_max_seconds"`
	LogLines       int64                  `toml:"log_lines"`
	LogRuns        int64                  `toml:"log_runs"`
	LogBytes       int64                  `toml:"log_bytes"`
	SessionIdle    float64                `toml:"mcp_session_idle_minutes"`
	MaxSessions    int64                  `toml:"mcp_max_sessions"`
	LogDir         *string                `toml:"log_dir"`
	LogMaxMB       float64                `toml:"log_max_mb"`
	LogKeep        int64                  `toml:"log_keep"`
	LogTotalMB     float64                `toml:"log_total_mb"`
	CrashLoop      int64                  `toml:"crash_loop_crashes"`
	CrashWindow    float64                `toml:"crash_loop_window_seconds"`
	Process        map[string]*rawProcess `toml:"process"`
}

func defaults() rawFile {
	return rawFile{
		MCPHost:        "127.0.0.1",
		MCPPort:        3001,
		DevTimeout:     3,
		DevCrashWait:   120,
		RestartSettle:  3,
		BackoffInitial: 1,
		BackoffMax:     300,
		LogLines:       10000,
		LogRuns:        10,
		LogBytes:       DefaultLogBytes,
		SessionIdle:    60,
		MaxSessions:    100,
		LogMaxMB:       10,
		LogKeep:        5,
		LogTotalMB:     500,
		CrashLoop:      5,
		CrashWindow:    60,
	}
}

// Load reads dir/.mcp-run. dir is made absolute. Errors are *Error.
func Load(dir string) (*Config, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Error{File: filepath.Join(dir, FileName), Msg: err.Error(), Err: err}
	}
	file := filepath.Join(abs, FileName)
	doc, err := readFile(file)
	var fe *fileError
	if errors.As(err, &fe) {
		return nil, &Error{File: file, Msg: fe.msg, Err: err}
	}
	if err != nil {
		return nil, &Error{File: file, Err: err,
			Msg: fmt.Sprintf("cannot read: %v; create it with at least one [process.NAME] table (see docs/configuration.md)", err)}
	}
	c, cerr := parse(abs, file, doc)
	if cerr != nil {
		return nil, cerr
	}
	return c, nil
}

// parse decodes and validates doc, the contents of file in project dir.
func parse(dir, file string, doc []byte) (*Config, *Error) {
	idx, scanErr := scanKeys(doc) // on a syntax error idx covers the keys before it
	raw := defaults()
	dec := toml.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, decodeError(file, idx, err)
	}
	if scanErr != nil { // the decoder accepted what the parser refused: report the parser
		return nil, &Error{File: file, Msg: scanErr.Error(), Err: scanErr}
	}
	_, envrcErr := os.Stat(filepath.Join(dir, ".envrc"))
	v := &validator{file: file, idx: idx}
	c := &Config{Dir: dir, File: file, Envrc: envrcErr == nil}
	if err := v.global(c, &raw); err != nil {
		return nil, err
	}
	if len(raw.Process) == 0 {
		return nil, &Error{File: file, Key: "process",
			Msg: `no processes; add a [process.NAME] table, e.g. [process.web] with type = "npm" and command = ["npm", "run", "dev"]`}
	}
	names := make([]string, 0, len(raw.Process))
	for name := range raw.Process {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if la, lb := idx.line("process", a), idx.line("process", b); la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		p, err := v.process(c, name, raw.Process[name])
		if err != nil {
			return nil, err
		}
		c.Processes = append(c.Processes, p)
	}
	if err := c.listens(idx, "mcp_port"); err != nil {
		return nil, err
	}
	if err := v.dependencies(c); err != nil {
		return nil, err
	}
	return c, nil
}

// validator turns raw values into resolved ones, or into an *Error at the offending key.
type validator struct {
	file string
	idx  *keyIndex
}

// errAt returns an error for the key at path, on the line of path or, when the
// key is absent, of the first of fallbacks present.
func (v *validator) errAt(path []string, fallbacks [][]string, format string, args ...any) *Error {
	return &Error{
		File: v.file,
		Line: v.idx.lineOr(append([][]string{path}, fallbacks...)...),
		Key:  strings.Join(path, "."),
		Msg:  fmt.Sprintf(format, args...),
	}
}

func (v *validator) global(c *Config, raw *rawFile) *Error {
	at := func(key, format string, args ...any) *Error {
		return v.errAt([]string{key}, nil, format, args...)
	}
	if err := checkHost(raw.MCPHost); err != "" {
		return at("mcp_host", "%s", err)
	}
	c.MCPHost = raw.MCPHost
	if raw.MCPPort < 1 || raw.MCPPort > 65535 {
		return at("mcp_port", "port %d out of range; valid: 1..65535", raw.MCPPort)
	}
	c.MCPPort = int(raw.MCPPort)
	c.MCPToken = os.Getenv(TokenEnv)
	if raw.MCPToken != nil {
		if strings.TrimSpace(*raw.MCPToken) == "" {
			return at("mcp_token", "empty; set a token, or remove the key to use $%s or no token", TokenEnv)
		}
		c.MCPToken = *raw.MCPToken
	}
	if c.MCPToken == "" && !isLoopback(c.MCPHost) {
		return at("mcp_host", "%q is not a loopback address and no token is set; set mcp_token or $%s, or use \"127.0.0.1\"",
			c.MCPHost, TokenEnv)
	}
	durations := []struct {
		key      string
		val      float64
		unit     time.Duration
		positive bool
		dst      *time.Duration
	}{
		{"dev_timeout_hours", raw.DevTimeout, time.Hour, true, &c.DevTimeout},
		{"dev_crash_wait_seconds", raw.DevCrashWait, time.Second, false, &c.DevCrashWait},
		{"restart_settle_seconds", raw.RestartSettle, time.Second, false, &c.RestartSettle},
		{"release_crash_backoff_initial_seconds", raw.BackoffInitial, time.Second, true, &c.BackoffInitial},
		{"release_crash_backoff_max_seconds", raw.BackoffMax, time.Second, true, &c.BackoffMax},
	}
	for _, d := range durations {
		got, msg := toDuration(d.val, d.unit, d.positive)
		if msg != "" {
			return at(d.key, "%s", msg)
		}
		*d.dst = got
	}
	if c.BackoffMax < c.BackoffInitial {
		return v.errAt([]string{"release_crash_backoff_max_seconds"}, [][]string{{"release_crash_backoff_initial_seconds"}},
			"max %v is below release_crash_backoff_initial_seconds %v; valid: max >= initial", c.BackoffMax, c.BackoffInitial)
	}
	if raw.LogLines < 1 || raw.LogLines > math.MaxInt32 {
		return at("log_lines", "%d out of range; valid: 1..%d lines per run", raw.LogLines, math.MaxInt32)
	}
	if raw.LogRuns < 1 || raw.LogRuns > math.MaxInt32 {
		return at("log_runs", "%d out of range; valid: 1..%d runs per process", raw.LogRuns, math.MaxInt32)
	}
	c.LogLines, c.LogRuns = int(raw.LogLines), int(raw.LogRuns)
	if raw.LogBytes < MinLogBytes || raw.LogBytes > math.MaxInt32 {
		return at("log_bytes", "%d out of range; valid: %d..%d bytes of text per run (default %d, 5 MiB)",
			raw.LogBytes, MinLogBytes, math.MaxInt32, DefaultLogBytes)
	}
	c.LogBytes = int(raw.LogBytes)
	idle, msg := toDuration(raw.SessionIdle, time.Minute, true)
	if msg != "" {
		return at("mcp_session_idle_minutes", "%s", msg)
	}
	c.SessionIdle = idle
	if raw.MaxSessions < 1 || raw.MaxSessions > 100000 {
		return at("mcp_max_sessions", "%d out of range; valid: 1..100000 live MCP sessions", raw.MaxSessions)
	}
	c.MaxSessions = int(raw.MaxSessions)
	if err := v.logFiles(c, raw); err != nil {
		return err
	}
	if raw.CrashLoop < 2 || raw.CrashLoop > 1000 {
		return at("crash_loop_crashes", "%d out of range; valid: 2..1000 crashes within crash_loop_window_seconds", raw.CrashLoop)
	}
	c.CrashLoopCrashes = int(raw.CrashLoop)
	window, msg := toDuration(raw.CrashWindow, time.Second, true)
	if msg != "" {
		return at("crash_loop_window_seconds", "%s", msg)
	}
	c.CrashLoopWindow = window
	return nil
}

// checkHost returns why host is not a bare host name or IP address, or "".
func checkHost(host string) string {
	switch {
	case host == "":
		return `empty; valid: a host name or IP address, e.g. "127.0.0.1"`
	case strings.ContainsAny(host, " \t\r\n/[]"):
		return fmt.Sprintf(`%q is not a host; valid: a host name or IP address without port or brackets, e.g. "127.0.0.1" or "::1"`, host)
	case strings.Contains(host, ":") && net.ParseIP(host) == nil:
		return fmt.Sprintf(`%q is not a host; set the port with mcp_port and give only the host, e.g. "127.0.0.1"`, host)
	}
	return ""
}

// isLoopback reports whether host is "localhost" or a loopback IP; names are not resolved.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// toDuration converts a number of units to a Duration, or says why it cannot.
func toDuration(val float64, unit time.Duration, positive bool) (time.Duration, string) {
	name := "seconds"
	switch unit {
	case time.Hour:
		name = "hours"
	case time.Minute:
		name = "minutes"
	}
	valid := "valid: a number >= 0"
	if positive {
		valid = "valid: a number > 0"
	}
	switch {
	case math.IsNaN(val) || math.IsInf(val, 0):
		return 0, fmt.Sprintf("%v is not a number of %s; %s", val, name, valid)
	case val < 0:
		return 0, fmt.Sprintf("negative (%v); %s", val, valid)
	case val*float64(unit) >= math.MaxInt64:
		return 0, fmt.Sprintf("%v %s is too long; valid: at most %d hours", val, name, int64(math.MaxInt64/int64(time.Hour)))
	}
	d := time.Duration(math.Round(val * float64(unit)))
	if positive && d <= 0 {
		return 0, fmt.Sprintf("must be above zero (got %v); %s", val, valid)
	}
	return d, ""
}
