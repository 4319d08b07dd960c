package actors

import (
	"time"

	"bpm/config"
)

// LogKind says which history of a process a log message or search is about.
type LogKind int

const (
	// KindRun is the output of the process's runs.
	KindRun LogKind = iota
	// KindBuild is the output of the process's builds.
	KindBuild
)

// String names the kind as users see it: "run" or "build".
func (k LogKind) String() string {
	if k == KindBuild {
		return "build"
	}
	return "run"
}

// Stream names the pipe a line came from.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// LogStart opens a new ring for a run or build; ID is the run or build id
// that later LogAppend messages carry. The oldest ring beyond log_runs is dropped.
type LogStart struct {
	Kind      LogKind
	ID        int
	PID       int
	StartedAt time.Time
	Throttle  bool // crash loop: keep the first throttleLines lines, count the rest (throttle.go)
}

// LogUnthrottle ends the throttle of run ID (its crash loop is over): its
// later lines are kept again, after a line saying how many were not.
type LogUnthrottle struct{ ID int }

// LogAppend adds one line of output to the ring opened by LogStart with the
// same Kind and ID. A line for an unknown or dropped ID is ignored.
type LogAppend struct {
	Kind   LogKind
	ID     int
	Stream string
	Text   string
	Time   time.Time
}

// TailRequest asks a logbuffer for the last N lines of the run or build of
// Kind and ID, oldest first; it answers TailReply (no lines for a ring not
// kept). The logbuffer's mailbox is FIFO, so the reply includes every chunk
// sent before the request.
type TailRequest struct {
	Kind LogKind
	ID   int
	N    int
}

// TailReply carries the lines TailRequest asked for.
type TailReply struct {
	Lines []string
	// FirstError is the first of the run's first stderr lines that reads
	// like an error, and CrashLine the last stderr line that opens a crash
	// report ("panic: …"), even when the ring dropped them.
	FirstError string
	CrashLine  string
}

// SearchRequest asks a logbuffer for lines of one run or build.
// Pattern is RE2; empty selects every line and marks none as a match.
// Index: -1 newest, -2 the one before …; 0 oldest kept, 1 next ….
// Head and Tail keep the first or last N selected lines (0: all); Tail wins.
type SearchRequest struct {
	Kind         LogKind
	Pattern      string
	ContextLines int
	Head         int
	Tail         int
	Index        int
	// Limit caps the lines returned (0: all): the first ones, or the last
	// with Tail. Selected in the reply tells how many there were.
	Limit int
	// Stream keeps only the lines of one stream (Stdout or Stderr; empty:
	// both), and Since only those written at or after it (zero: all). Match,
	// context and head/tail then work on the lines kept, as if the others
	// had never been written.
	Stream string
	Since  time.Time
}

// RunInfo identifies one run or build in a search reply.
type RunInfo struct {
	Index     int       // position counted from the oldest kept (0 …)
	ID        int       // run or build id
	PID       int       // OS pid of the run or build
	StartedAt time.Time // when it started
	Lines     int       // lines appended in total, dropped ones included
	Previous  bool      // loaded from log_dir: a run of an earlier bpm session
}

// Line is one stored line; N counts from 1 at the start of its run.
type Line struct {
	N      int
	Time   time.Time
	Stream string
	Text   string
	Match  bool
}

// SearchReply carries the selected lines in order, or Err when the request
// was not valid (its text says what is valid).
type SearchReply struct {
	Process string // the process searched (resolved when the request named none)
	Run     RunInfo
	Runs    int // how many runs or builds are kept
	Matches int // matching lines before head/tail (see MatchesAtLeast)
	// MatchesAtLeast says Matches is a lower bound: with head or tail the
	// search stops once it has the lines, from the oldest or the newest.
	MatchesAtLeast bool
	Selected       int // lines selected after head/tail, before Limit
	Lines          []Line
	Err            error
}

// Process states, as get_status reports them.
const (
	StateBuilding    = "building"
	StateStarting    = "starting"
	StateRunning     = "running"
	StateStopping    = "stopping"
	StateStopped     = "stopped"
	StateBackoff     = "backoff"
	StateCrashed     = "crashed"
	StateBuildFailed = "build_failed"
	// StateWaiting: a run is due but a dependency is not ready.
	StateWaiting = "waiting"
	// StateCrashLoop: it crashed crash_loop_crashes times within the window;
	// restarts wait the longest backoff.
	StateCrashLoop = "crash_loop"
	// StateDirMissing: the project directory or the process's `dir` is gone
	// (moved or deleted); bpm starts the process once it is back.
	StateDirMissing = "dir_missing"
)

// All names every process in StopProcessRequest, StartProcessRequest and
// RestartRequest; they are then handled in dependency order.
const All = "all"

// StartRequest tells a process actor to build in Mode and start its first run.
type StartRequest struct {
	Mode config.Mode
}

// RestartRequest asks for a build in Mode followed by a swap to the new run.
// Sent to the supervisor, Process names the process (empty: the only one) and
// Mode may be empty: the supervisor switches bpm to dev mode and forwards it.
// Requests that arrive during a build are coalesced into one more build.
type RestartRequest struct {
	Process string
	Mode    config.Mode
}

// RestartReply reports the run that serves after a restart, or Err (the build
// errors, or why the new run did not come up; the old run keeps serving).
type RestartReply struct {
	Process      string
	PID          int
	Mode         config.Mode
	BuildSeconds float64
	Err          error
}

// BuildRequest asks a builder for one build. The builder replies to the sender
// with a BuildReply carrying the same ID.
type BuildRequest struct {
	ID   int
	Mode config.Mode
}

// BuildReply is the result of a build.
type BuildReply struct {
	ID       int
	Mode     config.Mode
	Artifact string // executable to run (rust, go); empty for the other types
	Started  time.Time
	Seconds  float64
	// ErrorLines are the build's error lines (compiler diagnostics) when it failed.
	ErrorLines []string
	Err        error
}

// CancelBuildRequest kills a running build (shutdown); the pending BuildReply
// then reports the failure. The builder replies with CancelBuildReply.
type CancelBuildRequest struct{}

// CancelBuildReply confirms CancelBuildRequest.
type CancelBuildReply struct{}

// Event is one entry of a process's recent history.
type Event struct {
	Time    time.Time
	Kind    string
	Message string
}

// BuildStatus describes a process's latest build.
type BuildStatus struct {
	State     string // "running", "ok", "failed" or "" (never built)
	Mode      config.Mode
	StartedAt time.Time
	Seconds   float64
	Error     string
}

// ProcessStatusRequest asks one process actor for its status.
type ProcessStatusRequest struct{}

// ProcessStatus is a snapshot of one managed process.
type ProcessStatus struct {
	Name          string
	Type          string
	HasBuild      bool // false for npm and for command without build: it runs as is
	State         string
	PID           int
	StartedAt     time.Time // of the current run; zero without one
	Restarts      int       // runs started after the first: crash restarts, restarts, mode switches
	Crashes       int       // runs that exited without bpm asking
	LastExit      string
	NextRestartAt time.Time // zero unless a crash restart is pending
	Mode          config.Mode
	Build         BuildStatus
	Events        []Event
	// Held: stopped by a stop request; it stays down until start or restart.
	Held bool
	// WaitingFor names the dependencies that are not ready (empty when none
	// are missing or the process has none).
	WaitingFor []string
	// CrashLoop is the first error line of the crash loop the process is in,
	// "" when it is in none.
	CrashLoop string
	// DirMissing is the directory (the project's, or the process's `dir`)
	// whose absence keeps it from starting; "" when none is missing.
	DirMissing string
}

// StatusRequest asks the supervisor for everything get_status shows.
type StatusRequest struct{}

// StatusReply is the whole of bpm's state.
type StatusReply struct {
	Mode            config.Mode
	ModeSince       time.Time
	ReleaseSwitchAt time.Time // zero in release mode
	Processes       []ProcessStatus
	Err             error
}

// StopRequest stops a process (its run and any build); the reply StopReply
// comes once every child has exited. Sent to the supervisor it stops all
// processes in reverse order and replies when all have stopped.
type StopRequest struct {
	Why string // what the stop events say; empty: "bpm is shutting down"
}

// StopReply confirms StopRequest.
type StopReply struct{}

// StopProcessRequest stops one process (or All, dependants first) and
// keeps it stopped: no crash restart, no mode-switch rebuild, until a
// StartProcessRequest or RestartRequest. The reply is a StopProcessReply
// once its runs have exited (for All, a BatchReply).
type StopProcessRequest struct {
	Process string
}

// StopProcessReply confirms a StopProcessRequest, or says why it failed.
type StopProcessReply struct {
	Process string
	Err     error
}

// StartProcessRequest starts a stopped process (or All) from its last good
// build, or builds it first when it has none; a process that runs already
// is left alone. The reply is a RestartReply once the run is ready (for
// All, a BatchReply).
type StartProcessRequest struct {
	Process string
}

// BatchReply answers a request for All: one RestartReply per process, in
// the order the processes were handled (stops carry only Process and Err).
type BatchReply struct {
	Replies []RestartReply
	Err     error
}

// ReloadRequest asks the supervisor to read the config file again and
// apply it: added processes start, removed ones stop, changed ones restart
// through the normal build and swap, others are left alone. An invalid file
// changes nothing. The reply is a ReloadReply.
type ReloadRequest struct{}

// ReloadReply says what a reload changed, or Err (the file's error, with
// file:line) when it changed nothing.
type ReloadReply struct {
	Added, Removed, Changed, Unchanged []string
	// Notes list settings that changed but take effect only when bpm restarts.
	Notes []string
	Err   error
}

// ShutdownTimeoutRequest asks the supervisor how long a clean shutdown of
// the processes it runs now (after any reload) may take.
type ShutdownTimeoutRequest struct{}

// ShutdownTimeoutReply answers ShutdownTimeoutRequest.
type ShutdownTimeoutReply struct{ Timeout time.Duration }

// KillRequest sends SIGKILL at once to every run and build group.
type KillRequest struct{}

// ActivityRequest tells the mode clock a tool was called; no reply.
type ActivityRequest struct{}

// ModeRequest asks the mode clock for the mode.
type ModeRequest struct{}

// ModeReply is the mode and when it will switch back to release.
type ModeReply struct {
	Mode            config.Mode
	Since           time.Time
	ReleaseSwitchAt time.Time // zero in release mode
}

// SetDevRequest switches the mode clock to dev mode (a restart was asked).
type SetDevRequest struct{}

// releaseSwitch tells the supervisor the idle time ran out: rebuild in release.
type releaseSwitch struct{}

// FlushRequest asks a logbuffer to wait until the lines it passed through
// are written to bpm's stdout and stderr (at shutdown); it answers FlushReply.
type FlushRequest struct{}

// FlushReply confirms FlushRequest.
type FlushReply struct{}

// LogSearchRequest is a SearchRequest for a named process, sent to the
// supervisor; empty Process means the only configured process.
type LogSearchRequest struct {
	Process string
	SearchRequest
}
