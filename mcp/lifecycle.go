package mcp

import (
	"context"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
)

type lifecycleInput struct {
	Process string `json:"process,omitempty" all:"true" jsonschema:"name of the process, or \"all\" (dependency order); may be omitted when only one is configured"`
}

type reloadInput struct{}

func (s *server) addLifecycleTools(srv *sdk.Server) {
	addTool(s, srv, &sdk.Tool{
		Name:  "stop",
		Title: "Stop a process and keep it stopped",
		Description: "Stop a process (its stop signal, then SIGKILL after its stop timeout) and keep it down: no crash restart and no mode-switch rebuild until start or restart. " +
			"\"all\" stops every process, each after the processes that depend on it. Processes that depend on a stopped one keep running.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: false, DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, s.stop)
	addTool(s, srv, &sdk.Tool{
		Name:  "start",
		Title: "Start a stopped process",
		Description: "Start a process stopped by stop (or one waiting for a crash restart) from its last good build, without rebuilding, once its dependencies are ready; returns when its run is ready. " +
			"A process that runs already is left alone. \"all\" starts every process in dependency order.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: false, DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, s.start)
	addTool(s, srv, &sdk.Tool{
		Name:  "reload_config",
		Title: "Apply the edited config file",
		Description: "Read .mcp-run again: added processes start, removed ones stop, changed ones are rebuilt and swapped in as by restart, unchanged ones are not touched. " +
			"An invalid file is an error naming file, line and key, and changes nothing.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: false, DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, s.reloadConfig)
}

func (s *server) stop(ctx context.Context, _ *sdk.CallToolRequest, in lifecycleInput) (string, api.LifecycleOutput, error) {
	s.activity()
	msg := actors.StopProcessRequest{Process: in.Process}
	if in.Process == actors.All {
		r, err := ask[actors.BatchReply](ctx, s, msg, restartTimeout)
		if err != nil {
			return "", api.LifecycleOutput{}, err
		}
		return batchResult("stopped", r)
	}
	r, err := ask[actors.StopProcessReply](ctx, s, msg, restartTimeout)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return "", api.LifecycleOutput{}, err
	}
	text := fmt.Sprintf("stopped %s; it stays stopped until start or restart", r.Process)
	return text, api.LifecycleOutput{Results: []api.ProcessResult{{Process: r.Process}}}, nil
}

func (s *server) start(ctx context.Context, _ *sdk.CallToolRequest, in lifecycleInput) (string, api.LifecycleOutput, error) {
	s.activity()
	defer s.activity()
	msg := actors.StartProcessRequest{Process: in.Process}
	if in.Process == actors.All {
		r, err := ask[actors.BatchReply](ctx, s, msg, restartTimeout)
		if err != nil {
			return "", api.LifecycleOutput{}, err
		}
		return batchResult("started", r)
	}
	r, err := ask[actors.RestartReply](ctx, s, msg, restartTimeout)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return "", api.LifecycleOutput{}, err
	}
	res := api.ProcessResult{Process: r.Process, PID: r.PID, Mode: r.Mode}
	return fmt.Sprintf("started %s: pid %d serves (%s)", r.Process, r.PID, s.origin(r)), api.LifecycleOutput{Results: []api.ProcessResult{res}}, nil
}

// origin says what a run was made from: "release build", or "release mode"
// for a process without a build step.
func (s *server) origin(r actors.RestartReply) string {
	if s.set().hasBuild[r.Process] {
		return string(r.Mode) + " build"
	}
	return string(r.Mode) + " mode"
}

// batchResult renders the answer to a request for all processes: one line
// (and one result) per process; a failure is shown there, not as a tool error.
func batchResult(verb string, r actors.BatchReply) (string, api.LifecycleOutput, error) {
	if r.Err != nil {
		return "", api.LifecycleOutput{}, r.Err
	}
	out := api.LifecycleOutput{Results: []api.ProcessResult{}}
	var b strings.Builder
	failed := 0
	for _, p := range r.Replies {
		res := api.ProcessResult{Process: p.Process, PID: p.PID, Mode: p.Mode}
		switch {
		case p.Err != nil:
			failed++
			res.Error = p.Err.Error()
			fmt.Fprintf(&b, "%s: failed: %s\n", p.Process, firstLine(res.Error))
		case p.PID != 0:
			fmt.Fprintf(&b, "%s: %s, pid %d\n", p.Process, verb, p.PID)
		default:
			fmt.Fprintf(&b, "%s: %s\n", p.Process, verb)
		}
		out.Results = append(out.Results, res)
	}
	head := fmt.Sprintf("%s %d of %d processes", verb, len(r.Replies)-failed, len(r.Replies))
	if failed > 0 {
		head += fmt.Sprintf("; %d failed", failed)
	}
	return head + ":\n" + strings.TrimSuffix(b.String(), "\n"), out, nil
}

func (s *server) reloadConfig(ctx context.Context, _ *sdk.CallToolRequest, _ reloadInput) (string, api.ReloadOutput, error) {
	s.activity()
	r, err := ask[actors.ReloadReply](ctx, s, actors.ReloadRequest{}, s.timeout)
	if err == nil && r.Err != nil {
		err = fmt.Errorf("%w\nnothing was changed; every process keeps running", r.Err)
	}
	if err != nil {
		return "", api.ReloadOutput{}, err
	}
	if len(r.Added)+len(r.Removed) > 0 {
		// The process parameter's names change: the tools are registered
		// again, and the clients told so.
		s.learnProcesses()
		s.addTools()
	}
	out := api.ReloadOutput{Added: orEmpty(r.Added), Removed: orEmpty(r.Removed), Changed: orEmpty(r.Changed), Unchanged: orEmpty(r.Unchanged), Notes: r.Notes}
	var b strings.Builder
	b.WriteString("config reloaded\n")
	for _, part := range []struct {
		what  string
		names []string
	}{{"added (starting)", r.Added}, {"removed (stopping)", r.Removed}, {"changed (rebuilding and swapping)", r.Changed}, {"unchanged", r.Unchanged}} {
		if len(part.names) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", part.what, strings.Join(part.names, ", "))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return strings.TrimSuffix(b.String(), "\n"), out, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
