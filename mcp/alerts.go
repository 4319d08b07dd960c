package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
)

// maxAlerts caps the alert lines a result begins with.
const maxAlerts = 5

// alertKinds are the events a session is told about on its next call, with
// how an alert line names them.
var alertKinds = map[string]string{
	"crashed":       "crashed",
	"build_failed":  "build failed",
	"rolled_back":   "rolled back",
	"start_failed":  "failed to start",
	"ready_timeout": "was not ready in time",
	"dir_missing":   "cannot start",
	"daemonized":    "daemonized (its command exited 0 leaving a process; bpm stopped it)",
}

// asksAbout is implemented by inputs whose call reports on a process (or
// on everything): what it reports is no alert.
type asksAbout interface {
	about() (process string, mode, all bool)
}

func (in restartInput) about() (string, bool, bool) {
	return in.Process, true, in.Process == actors.All
}
func (in lifecycleInput) about() (string, bool, bool) {
	return in.Process, false, in.Process == actors.All
}
func (in waitInput) about() (string, bool, bool) { return in.Process, false, false }
func (statusInput) about() (string, bool, bool)  { return "", true, true }

// alertMarks is what one session has been told: events up to seen.
type alertMarks struct {
	seen time.Time
}

// alertsCheck asks the session table for the alerts of session id: what
// happened since its previous call, other than what this call reports.
type alertsCheck struct {
	id      string
	at      time.Time
	st      actors.StatusReply
	process string // reported by the call: no alerts about it
	mode    bool   // the call reports (or made) the mode
	all     bool   // the call reports everything (get_status)
	reply   chan<- []string
}

// alert is one line, with the time it sorts by.
type alert struct {
	at   time.Time
	text string
}

// newAlerts lists what happened after m.seen that c does not report,
// oldest first, at most maxAlerts lines, and moves m.seen to c.at.
func newAlerts(m *alertMarks, since time.Time, c alertsCheck) []string {
	if m.seen.IsZero() {
		m.seen = since
	}
	after := m.seen
	m.seen = c.at
	if c.all {
		return nil
	}
	var list []alert
	if !c.mode && c.st.ModeSince.After(after) {
		list = append(list, alert{c.st.ModeSince, fmt.Sprintf("%s bpm switched to %s mode", c.st.ModeSince.UTC().Format(api.ClockLayout), c.st.Mode)})
	}
	for _, p := range c.st.Processes {
		if p.Name == c.process {
			continue
		}
		list = append(list, processAlerts(p, after)...)
	}
	slices.SortStableFunc(list, func(a, b alert) int { return a.at.Compare(b.at) })
	var lines []string
	for i, a := range list {
		if i == maxAlerts-1 && len(list) > maxAlerts {
			lines = append(lines, fmt.Sprintf("[alert] and %d more; get_status shows every process's events", len(list)-i))
			break
		}
		lines = append(lines, "[alert] "+a.text)
	}
	return lines
}

// processAlerts are p's alerting events after t.
func processAlerts(p actors.ProcessStatus, t time.Time) []alert {
	var list []alert
	for _, e := range p.Events {
		what, ok := alertKinds[e.Kind]
		if !ok || !e.Time.After(t) {
			continue
		}
		text := fmt.Sprintf("%s %s %s: %s", e.Time.UTC().Format(api.ClockLayout), p.Name, what, e.Message)
		if e.Kind == "crashed" && !p.NextRestartAt.IsZero() {
			text += fmt.Sprintf(" (bpm starts it again at %s)", p.NextRestartAt.UTC().Format(time.RFC3339))
		}
		list = append(list, alert{e.Time, text})
	}
	return list
}

// alerts returns the alert lines for this call of the session, and sends
// them as notifications/message at level warning (the session's log level
// decides whether the client gets them).
func (s *server) alerts(ctx context.Context, req *sdk.CallToolRequest, in any) []string {
	if req == nil || req.Session == nil || req.Session.ID() == "" || s.sessions == nil {
		return nil
	}
	st, err := ask[actors.StatusReply](ctx, s, actors.StatusRequest{}, s.timeout)
	if err != nil || st.Err != nil {
		return nil
	}
	c := alertsCheck{id: req.Session.ID(), at: time.Now(), st: st}
	if a, ok := in.(asksAbout); ok {
		var p string
		p, c.mode, c.all = a.about()
		c.process = s.resolve(p)
	}
	lines := s.sessions.alerts(c)
	for _, l := range lines {
		_ = req.Session.Log(ctx, &sdk.LoggingMessageParams{Level: "warning", Logger: "bpm", Data: l})
	}
	return lines
}

// withAlerts is out's JSON object with an "alerts" member first.
func withAlerts(out any, alerts []string) any {
	data, err := json.Marshal(out)
	var m map[string]any
	if err != nil || json.Unmarshal(data, &m) != nil {
		return out
	}
	m["alerts"] = alerts
	return m
}
