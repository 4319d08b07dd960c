package api

import (
	"time"

	"bpm/config"
)

// StatusOutput is the structured result of get_status.
type StatusOutput struct {
	Mode            config.Mode     `json:"mode" jsonschema:"dev or release"`
	ModeSince       time.Time       `json:"mode_since"`
	ReleaseSwitchAt *time.Time      `json:"release_switch_at" jsonschema:"when bpm goes back to release mode without further tool calls; null in release mode"`
	Processes       []ProcessStatus `json:"processes"`
}

// ProcessStatus is one process in a StatusOutput.
type ProcessStatus struct {
	Name          string      `json:"name"`
	Type          string      `json:"type" jsonschema:"rust, npm, go or command"`
	State         string      `json:"state" jsonschema:"building, starting, running, stopping, stopped, backoff, crashed, build_failed, waiting (for a dependency), crash_loop or dir_missing (its project directory or dir was moved or deleted: bpm starts it once it is back)"`
	PID           int         `json:"pid" jsonschema:"pid of the current run; 0 without one"`
	UptimeSeconds float64     `json:"uptime_seconds"`
	Restarts      int         `json:"restarts"`
	Crashes       int         `json:"crashes"`
	LastExit      string      `json:"last_exit"`
	NextRestartAt *time.Time  `json:"next_restart_at" jsonschema:"when a crashed process is started again; null unless a restart is pending"`
	Build         BuildStatus `json:"build"`
	Events        []Event     `json:"events" jsonschema:"the latest events, oldest first"`
	LastStderr    []string    `json:"last_stderr,omitempty" jsonschema:"when crashed, in backoff or its build failed: the last stderr lines of that run or build"`
	Held          bool        `json:"held,omitempty" jsonschema:"true when stopped by the stop tool, or after its command daemonized (exited 0 leaving a process, which bpm stopped): it stays down until start or restart"`
	WaitingFor    []string    `json:"waiting_for,omitempty" jsonschema:"what a new run waits for: dependencies not ready yet, and processes a reload removed that are still stopping (NAME to stop)"`
	CrashLoop     string      `json:"crash_loop,omitempty" jsonschema:"in a crash loop: its first error line"`
	DirMissing    string      `json:"dir_missing,omitempty" jsonschema:"in state dir_missing: the directory that is missing"`
}

// BuildStatus is a process's latest build.
type BuildStatus struct {
	State     string      `json:"state" jsonschema:"running, ok, failed, none for a process without a build step, or empty when never built"`
	Mode      config.Mode `json:"mode"`
	StartedAt *time.Time  `json:"started_at"`
	Seconds   float64     `json:"seconds"`
	Error     string      `json:"error"`
}

// Event is one entry of a process's recent history.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}
