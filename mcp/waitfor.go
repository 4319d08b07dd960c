package mcp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
)

// waitPoll is how often wait_for looks at the process again.
const waitPoll = 100 * time.Millisecond

// waitLines is how many of the newest lines a wait that timed out returns.
const waitLines = 10

// states are the values of wait_for's state, as get_status reports them.
var states = []string{actors.StateBuilding, actors.StateStarting, actors.StateRunning, actors.StateStopping,
	actors.StateStopped, actors.StateBackoff, actors.StateCrashed, actors.StateBuildFailed, actors.StateWaiting, actors.StateCrashLoop, actors.StateDirMissing}

type waitInput struct {
	Process        string `json:"process,omitempty" jsonschema:"name of the process; may be omitted when only one is configured"`
	State          string `json:"state,omitempty" enum:"building,starting,running,stopping,stopped,backoff,crashed,build_failed,waiting,crash_loop,dir_missing" jsonschema:"wait until the process is in this state"`
	Pattern        string `json:"pattern,omitempty" jsonschema:"wait until a line written after the call matches this RE2 expression ((?i) for case-insensitive)"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty" range:"1,600" jsonschema:"give up after this many seconds (1 to 600, default 30)"`
}

func (s *server) addWaitTool(srv *sdk.Server) {
	addTool(s, srv, &sdk.Tool{
		Name:  "wait_for",
		Title: "Wait for a process's state or output",
		Description: "Wait until a process reaches a state (e.g. running) or writes a line matching a pattern, at most timeout_seconds (default 30). " +
			"Give state, pattern or both; the first to come ends the wait. While a build runs, the old run does not count as running: after restart with wait false, state running waits for the new run. A crash, a failed build or its directory going missing meanwhile ends it too (unless that is the state asked for). " +
			"Without success the result says why and carries the newest lines.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}, s.waitFor)
}

func (s *server) waitFor(ctx context.Context, req *sdk.CallToolRequest, in waitInput) (string, api.WaitOutput, error) {
	s.readActivity(req)
	if in.State == "" && in.Pattern == "" {
		return "", api.WaitOutput{}, fmt.Errorf("give state (one of %s) or pattern, or both", strings.Join(states, ", "))
	}
	if in.State != "" && !slices.Contains(states, in.State) {
		return "", api.WaitOutput{}, fmt.Errorf("state %q is not valid; valid: %s", in.State, strings.Join(states, ", "))
	}
	timeout := 30 * time.Second
	if in.TimeoutSeconds > 0 {
		timeout = time.Duration(in.TimeoutSeconds) * time.Second
	}
	w := &waiter{s: s, in: in, began: time.Now()}
	out, err := w.run(ctx, timeout)
	if err != nil {
		return "", api.WaitOutput{}, err
	}
	return waitText(in, out), out, nil
}

// waiter polls one process until the wait ends.
type waiter struct {
	s     *server
	in    waitInput
	began time.Time
}

func (w *waiter) run(ctx context.Context, timeout time.Duration) (api.WaitOutput, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		out, done, err := w.check(ctx)
		if err != nil || done {
			return out, err
		}
		select {
		case <-ctx.Done():
			return api.WaitOutput{}, fmt.Errorf("wait_for cancelled: %w", ctx.Err())
		case <-deadline.C:
			out.Why, out.Waited = "timeout", seconds(time.Since(w.began))
			out.Lines = w.lastLines(ctx, out.Process)
			return out, nil
		case <-tick.C:
		}
	}
}

// check looks once: done when the state or a matching line came, or the
// process crashed or failed to build since the call began.
func (w *waiter) check(ctx context.Context) (api.WaitOutput, bool, error) {
	name := w.s.resolve(w.in.Process)
	st, err := ask[actors.StatusReply](ctx, w.s, actors.StatusRequest{}, w.s.timeout)
	if err != nil {
		return api.WaitOutput{}, false, err
	}
	i := slices.IndexFunc(st.Processes, func(p actors.ProcessStatus) bool { return p.Name == name })
	if i < 0 {
		// The supervisor's answer says what is valid.
		r, err := ask[actors.SearchReply](ctx, w.s, actors.LogSearchRequest{Process: w.in.Process}, w.s.timeout)
		if err == nil {
			err = r.Err
		}
		return api.WaitOutput{}, false, cmpErr(err, fmt.Errorf("unknown process %q; known: %s", w.in.Process, strings.Join(w.s.set().names, ", ")))
	}
	p := st.Processes[i]
	out := api.WaitOutput{Process: p.Name, State: p.State, PID: p.PID, Waited: seconds(time.Since(w.began))}
	if w.in.State != "" && p.State == w.in.State && !(p.State == actors.StateRunning && p.Build.State == "running") {
		out.Reached, out.Why = true, "state"
		return out, true, nil
	}
	if w.in.Pattern != "" {
		line, err := w.match(ctx, p.Name)
		if err != nil || line != nil {
			out.Reached, out.Why, out.Line = line != nil, "match", line
			return out, true, err
		}
	}
	if kind := w.failure(p); kind != "" {
		out.Why = kind
		out.Lines = w.lastLines(ctx, p.Name)
		return out, true, nil
	}
	return out, false, nil
}

// cmpErr prefers the actors' error (which says what is valid) to fallback.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// failure is "crashed", "build_failed", "dir_missing" or "daemonized" when that happened
// since the call began and is not the state waited for.
func (w *waiter) failure(p actors.ProcessStatus) string {
	for _, e := range p.Events {
		if e.Time.Before(w.began) || e.Kind == w.in.State {
			continue
		}
		if e.Kind == "crashed" || e.Kind == "build_failed" || e.Kind == actors.StateDirMissing || e.Kind == "daemonized" {
			return e.Kind
		}
	}
	return ""
}

// match returns the first line of the newest run written since the call
// that matches the pattern, or nil.
func (w *waiter) match(ctx context.Context, name string) (*api.LineOut, error) {
	q := actors.SearchRequest{Kind: actors.KindRun, Index: -1, Pattern: w.in.Pattern, Head: 1, Since: w.began}
	r, err := ask[actors.SearchReply](ctx, w.s, actors.LogSearchRequest{Process: name, SearchRequest: q}, w.s.timeout)
	if err == nil && r.Err != nil && r.Runs > 0 {
		err = r.Err // a bad pattern; no run yet is just not yet
	}
	if err != nil || r.Err != nil || len(r.Lines) == 0 {
		return nil, err
	}
	l := searchResult(name, q, r).Lines[0]
	return &l, nil
}

// lastLines is the newest lines of the process's newest run.
func (w *waiter) lastLines(ctx context.Context, name string) []api.LineOut {
	q := actors.SearchRequest{Kind: actors.KindRun, Index: -1, Tail: waitLines}
	r, err := ask[actors.SearchReply](ctx, w.s, actors.LogSearchRequest{Process: name, SearchRequest: q}, w.s.timeout)
	if err != nil || r.Err != nil {
		return nil
	}
	return searchResult(name, q, r).Lines
}

// waitText says how the wait ended, and the lines it carries.
func waitText(in waitInput, out api.WaitOutput) string {
	var b strings.Builder
	switch out.Why {
	case "state":
		fmt.Fprintf(&b, "%s is %s (pid %d) after %.1fs\n", out.Process, out.State, out.PID, out.Waited)
	case "match":
		fmt.Fprintf(&b, "%s wrote a line matching %q after %.1fs (state %s, pid %d):\n", out.Process, in.Pattern, out.Waited, out.State, out.PID)
		writeLine(&b, *out.Line)
	case "timeout":
		fmt.Fprintf(&b, "timed out after %.1fs waiting for %s to %s; it is %s (pid %d)\n", out.Waited, out.Process, goal(in), out.State, out.PID)
	default:
		what := "it " + strings.ReplaceAll(out.Why, "_", " ")
		if out.Why == actors.StateDirMissing {
			what = "its directory went missing (get_status names it)"
		}
		fmt.Fprintf(&b, "gave up waiting for %s to %s: %s after %.1fs; it is %s now\n", out.Process, goal(in), what, out.Waited, out.State)
	}
	if len(out.Lines) > 0 {
		b.WriteString("newest lines:\n")
		for _, l := range out.Lines {
			writeLine(&b, l)
		}
	}
	return b.String()
}

// goal says what was waited for.
func goal(in waitInput) string {
	var parts []string
	if in.State != "" {
		parts = append(parts, "be "+in.State)
	}
	if in.Pattern != "" {
		parts = append(parts, fmt.Sprintf("write a line matching %q", in.Pattern))
	}
	return strings.Join(parts, " or ")
}
