package mcp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"bpm/actors"
	"bpm/api"
)

// settleLines is how many lines of the new run restart returns: its first
// ones, or its last ones when it crashed.
const settleLines = 10

// settle watches the run a restart started for the settle window. A crash
// in it is an error carrying the run's last lines and when bpm retries;
// otherwise the result carries the run's first lines.
func (s *server) settle(ctx context.Context, r actors.RestartReply) (string, api.RestartOutput, error) {
	out := api.RestartOutput{Process: r.Process, PID: r.PID, Mode: r.Mode, BuildSeconds: roundMilli(r.BuildSeconds)}
	swapped := time.Now()
	if s.settleFor > 0 {
		crash, err := s.watch(ctx, r, swapped)
		if err != nil {
			return "", out, err
		}
		if crash != nil {
			return "", out, s.crashedAfterRestart(ctx, r, *crash, swapped)
		}
		out.UpSeconds = seconds(time.Since(swapped))
	}
	out.FirstLines = s.runLines(ctx, r.Process, actors.SearchRequest{Head: settleLines})
	var b strings.Builder
	b.WriteString(s.restartText(r))
	if out.UpSeconds > 0 {
		fmt.Fprintf(&b, "; up for %.1fs", out.UpSeconds)
	}
	if len(out.FirstLines) == 0 {
		b.WriteString("; no output yet\n")
	} else {
		b.WriteString("; its first lines:\n")
		for _, l := range out.FirstLines {
			writeLine(&b, l)
		}
	}
	return b.String(), out, nil
}

// watch polls the process for the settle window and returns its status
// once a run crashed after swapped, or nil when it stayed up.
func (s *server) watch(ctx context.Context, r actors.RestartReply, swapped time.Time) (*actors.ProcessStatus, error) {
	window := time.NewTimer(s.settleFor)
	defer window.Stop()
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("restart call cancelled while watching the new run (pid %d); see get_status: %w", r.PID, ctx.Err())
		case <-window.C:
			return nil, nil
		case <-tick.C:
		}
		st, err := ask[actors.StatusReply](ctx, s, actors.StatusRequest{}, s.timeout)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(st.Processes, func(p actors.ProcessStatus) bool { return p.Name == r.Process })
		if i >= 0 && crashedSince(st.Processes[i], swapped) {
			return &st.Processes[i], nil
		}
	}
}

// crashedSince reports whether p has a crash event at or after t.
func crashedSince(p actors.ProcessStatus, t time.Time) bool {
	return slices.ContainsFunc(p.Events, func(e actors.Event) bool { return e.Kind == "crashed" && !e.Time.Before(t) })
}

// crashedAfterRestart is the error of a restart whose new run crashed in
// the settle window: how it ended, when bpm retries, its last lines.
func (s *server) crashedAfterRestart(ctx context.Context, r actors.RestartReply, p actors.ProcessStatus, swapped time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "restart of %s: the new run (pid %d) crashed %.1fs after it started serving (%s); %s is down",
		r.Process, r.PID, time.Since(swapped).Seconds(), p.LastExit, r.Process)
	if !p.NextRestartAt.IsZero() {
		fmt.Fprintf(&b, ", bpm starts it again at %s", p.NextRestartAt.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n")
	if lines := s.runLines(ctx, r.Process, actors.SearchRequest{Tail: settleLines}); len(lines) > 0 {
		b.WriteString("its last lines:\n")
		for _, l := range lines {
			writeLine(&b, l)
		}
	}
	return fmt.Errorf("%s", strings.TrimRight(b.String(), "\n"))
}

// runLines is lines of the process's newest run, as q's head or tail selects.
func (s *server) runLines(ctx context.Context, name string, q actors.SearchRequest) []api.LineOut {
	q.Kind, q.Index = actors.KindRun, -1
	r, err := ask[actors.SearchReply](ctx, s, actors.LogSearchRequest{Process: name, SearchRequest: q}, s.timeout)
	if err != nil || r.Err != nil {
		return nil
	}
	return searchResult(name, q, r).Lines
}

// restartBegun answers a restart with wait false: the request is on its
// way to the process actor, whose build and swap go on without the caller.
func (s *server) restartBegun(ctx context.Context, in restartInput, began time.Time) (string, api.RestartOutput, error) {
	name := s.resolve(in.Process)
	if _, ok := s.set().hasBuild[name]; !ok {
		// Let the supervisor say what is valid.
		r, err := ask[actors.SearchReply](ctx, s, actors.LogSearchRequest{Process: in.Process}, s.timeout)
		if err == nil {
			err = r.Err
		}
		return "", api.RestartOutput{}, cmpErr(err, fmt.Errorf("unknown process %q", in.Process))
	}
	s.buildBegun(ctx, name, began)
	out := api.RestartOutput{Process: name, Mode: "dev", Pending: true}
	what := "its dev build runs now while the old run keeps serving"
	if !s.set().hasBuild[name] {
		what = "it is being restarted in dev mode"
	}
	text := fmt.Sprintf("restart of %s begun: %s. The result comes later: wait_for {\"process\": %q, \"state\": \"running\"} or get_status shows how it went.", name, what, name)
	return text, out, nil
}

// buildBegun waits, at most a second, until name's restart has begun: a
// build (or, without one, a run) started at or after since. Then a
// wait_for that follows sees the restart under way, not the old run.
func (s *server) buildBegun(ctx context.Context, name string, since time.Time) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := ask[actors.StatusReply](ctx, s, actors.StatusRequest{}, s.timeout)
		if err != nil {
			return
		}
		i := slices.IndexFunc(st.Processes, func(p actors.ProcessStatus) bool { return p.Name == name })
		if i < 0 || slices.ContainsFunc(st.Processes[i].Events, func(e actors.Event) bool {
			return (e.Kind == "build_started" || e.Kind == "started" || e.Kind == "new_run_started") && !e.Time.Before(since)
		}) {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(waitPoll / 4):
		}
	}
}
