package mcp

import (
	"context"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
)

// statusEvents is how many of a process's latest events get_status returns.
const statusEvents = 20

type statusInput struct{}

func (s *server) addStatusTool(srv *sdk.Server) {
	addTool(s, srv, &sdk.Tool{
		Name:        "get_status",
		Title:       "Status of every process",
		Description: "bpm's mode (dev or release, and when it goes back to release) and every process: state, pid, uptime, restarts, crashes, last exit, latest build and recent events.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}, s.status)
}

func (s *server) status(ctx context.Context, req *sdk.CallToolRequest, _ statusInput) (string, api.StatusOutput, error) {
	s.readActivity(req)
	st, err := ask[actors.StatusReply](ctx, s, actors.StatusRequest{}, s.timeout)
	if err == nil {
		err = st.Err
	}
	if err != nil {
		return "", api.StatusOutput{}, err
	}
	out := statusResult(st, time.Now())
	for i := range out.Processes {
		out.Processes[i].LastStderr = s.lastStderr(ctx, out.Processes[i])
	}
	return statusText(out), out, nil
}

func statusResult(st actors.StatusReply, now time.Time) api.StatusOutput {
	out := api.StatusOutput{
		Mode:            st.Mode,
		ModeSince:       st.ModeSince.UTC(),
		ReleaseSwitchAt: utc(st.ReleaseSwitchAt),
		Processes:       make([]api.ProcessStatus, len(st.Processes)),
	}
	for i, p := range st.Processes {
		ps := api.ProcessStatus{
			Name: p.Name, Type: p.Type, State: p.State, PID: p.PID,
			Restarts: p.Restarts, Crashes: p.Crashes, LastExit: p.LastExit,
			NextRestartAt: utc(p.NextRestartAt),
			Build: api.BuildStatus{
				State: p.Build.State, Mode: p.Build.Mode, StartedAt: utc(p.Build.StartedAt),
				Seconds: roundMilli(p.Build.Seconds), Error: p.Build.Error,
			},
			Events: []api.Event{},
			Held:   p.Held, WaitingFor: p.WaitingFor, CrashLoop: p.CrashLoop,
			DirMissing: p.DirMissing,
		}
		if !p.HasBuild {
			ps.Build = api.BuildStatus{State: "none"}
		}
		if p.PID != 0 && !p.StartedAt.IsZero() {
			ps.UptimeSeconds = seconds(max(0, now.Sub(p.StartedAt)))
		}
		for _, e := range p.Events[max(0, len(p.Events)-statusEvents):] {
			ps.Events = append(ps.Events, api.Event{Time: e.Time.UTC(), Kind: e.Kind, Message: e.Message})
		}
		out.Processes[i] = ps
	}
	return out
}

// statusText renders the status as a mode line and a table.
func statusText(out api.StatusOutput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mode %s since %s", out.Mode, out.ModeSince.Format(time.RFC3339))
	if out.ReleaseSwitchAt != nil {
		fmt.Fprintf(&b, "; back to release at %s unless a tool is called", out.ReleaseSwitchAt.Format(time.RFC3339))
	}
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tPID\tUPTIME\tRESTARTS\tCRASHES\tBUILD\tLAST EXIT")
	for _, p := range out.Processes {
		pid, uptime := "-", "-"
		if p.PID != 0 {
			pid = fmt.Sprint(p.PID)
			uptime = (time.Duration(p.UptimeSeconds) * time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", p.Name, p.Type, p.State, pid, uptime,
			p.Restarts, p.Crashes, buildText(p.Build), orDash(p.LastExit))
	}
	tw.Flush()
	for _, p := range out.Processes {
		processNotes(&b, p)
	}
	return b.String()
}

// textEvents is how many of each process's latest events the text shows.
const textEvents = 3

// processNotes writes what the table has no room for: a process's latest
// events, when it is started again, why its build failed, its last stderr.
func processNotes(b *strings.Builder, p api.ProcessStatus) {
	fmt.Fprintf(b, "\n%s:\n", p.Name)
	for _, e := range p.Events[max(0, len(p.Events)-textEvents):] {
		fmt.Fprintf(b, "  %s %s: %s\n", e.Time.Format(api.ClockLayout), e.Kind, e.Message)
	}
	if p.Held {
		b.WriteString("  stopped by request: it stays down until start or restart\n")
	}
	if len(p.WaitingFor) > 0 {
		if p.State == actors.StateWaiting || p.PID == 0 {
			fmt.Fprintf(b, "  waiting for %s\n", strings.Join(p.WaitingFor, ", "))
		} else {
			fmt.Fprintf(b, "  dependency %s not ready (this run keeps going; a new one waits for it)\n", strings.Join(p.WaitingFor, ", "))
		}
	}
	if p.CrashLoop != "" {
		fmt.Fprintf(b, "  crash loop; first error: %s\n", p.CrashLoop)
	}
	if p.DirMissing != "" {
		fmt.Fprintf(b, "  directory missing: %s (moved or deleted?); bpm starts it once it is back\n", p.DirMissing)
	}
	if p.NextRestartAt != nil {
		fmt.Fprintf(b, "  bpm starts it again at %s\n", p.NextRestartAt.Format(time.RFC3339))
	}
	if p.Build.State == "failed" {
		fmt.Fprintf(b, "  last build failed: %s\n", firstLine(p.Build.Error))
	}
	if len(p.LastStderr) > 0 {
		b.WriteString("  last stderr:\n")
		for _, l := range p.LastStderr {
			fmt.Fprintf(b, "    %s\n", l)
		}
	}
}

// stderrLines is how many stderr lines get_status shows of a process in trouble.
const stderrLines = 3

// lastStderr is the last stderr lines of the run that crashed (or the build
// that failed) when p is in trouble; nil otherwise.
func (s *server) lastStderr(ctx context.Context, p api.ProcessStatus) []string {
	kind := actors.KindRun
	switch {
	case p.State == actors.StateBuildFailed:
		kind = actors.KindBuild
	case p.State == actors.StateCrashed || p.State == actors.StateBackoff || p.State == actors.StateCrashLoop:
	default:
		return nil
	}
	q := actors.SearchRequest{Kind: kind, Index: -1, Tail: stderrLines, Stream: actors.Stderr}
	r, err := ask[actors.SearchReply](ctx, s, actors.LogSearchRequest{Process: p.Name, SearchRequest: q}, s.timeout)
	if err != nil || r.Err != nil {
		return nil
	}
	var lines []string
	for _, l := range r.Lines {
		lines = append(lines, l.Text)
	}
	return lines
}

func buildText(b api.BuildStatus) string {
	switch b.State {
	case "":
		return "-"
	case "none":
		return "none"
	case "running":
		return fmt.Sprintf("running (%s)", b.Mode)
	}
	return fmt.Sprintf("%s (%s, %.1fs)", b.State, b.Mode, b.Seconds)
}

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 {
	return roundMilli(d.Seconds())
}

func roundMilli(s float64) float64 {
	return math.Round(s*1000) / 1000
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
