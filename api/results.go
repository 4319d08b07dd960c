package api

import "bpm/config"

// RestartOutput is the structured result of restart.
type RestartOutput struct {
	Process      string          `json:"process"`
	PID          int             `json:"pid" jsonschema:"pid of the run that serves now; 0 with wait false"`
	Mode         config.Mode     `json:"mode" jsonschema:"dev or release: how the serving run was built"`
	BuildSeconds float64         `json:"build_seconds"`
	Pending      bool            `json:"pending,omitempty" jsonschema:"true with wait false: the build and swap go on after the call"`
	UpSeconds    float64         `json:"up_seconds,omitempty" jsonschema:"how long the new run was watched (restart_settle_seconds) before the call returned"`
	FirstLines   []LineOut       `json:"first_lines,omitempty" jsonschema:"the first lines of the new run's output"`
	Results      []ProcessResult `json:"results,omitempty" jsonschema:"with process \"all\": what happened to each process"`
}

// WaitOutput is the structured result of wait_for.
type WaitOutput struct {
	Process string    `json:"process"`
	Reached bool      `json:"reached" jsonschema:"true when the state or a matching line came; false on a timeout or when the process crashed or failed to build meanwhile"`
	Why     string    `json:"why" jsonschema:"state, match, crashed, build_failed, dir_missing (its directory went missing), daemonized or timeout"`
	State   string    `json:"state" jsonschema:"the process's state at the end"`
	PID     int       `json:"pid"`
	Waited  float64   `json:"waited_seconds"`
	Line    *LineOut  `json:"line,omitempty" jsonschema:"the matching line"`
	Lines   []LineOut `json:"lines,omitempty" jsonschema:"when not reached: the newest lines of the run"`
}

// LifecycleOutput is the structured result of stop and start.
type LifecycleOutput struct {
	Results []ProcessResult `json:"results" jsonschema:"one entry per process, in the order they were handled"`
}

// ProcessResult is what stop, start or restart "all" did to one process.
type ProcessResult struct {
	Process string      `json:"process"`
	PID     int         `json:"pid,omitempty" jsonschema:"pid of the run that serves now (start, restart)"`
	Mode    config.Mode `json:"mode,omitempty" jsonschema:"how the serving run was built"`
	Error   string      `json:"error,omitempty" jsonschema:"why this process's part failed"`
}

// ReloadOutput is the structured result of reload_config.
type ReloadOutput struct {
	Added     []string `json:"added" jsonschema:"processes started"`
	Removed   []string `json:"removed" jsonschema:"processes stopped and forgotten"`
	Changed   []string `json:"changed" jsonschema:"processes rebuilt and restarted through the normal swap"`
	Unchanged []string `json:"unchanged" jsonschema:"processes left alone"`
	Notes     []string `json:"notes,omitempty" jsonschema:"settings that changed but take effect only when bpm restarts"`
}
