package mcp

import (
	"context"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

// A crash of another process surfaces on the session's next call, once,
// in the text and the structured result, and as a log notification.
func TestACrashSurfacesOnTheNextCall(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, crasher)
	b := startBPM(t, dir, Options{})
	b.waitRunning("crasher", "^starting$", 20*time.Second)
	logged := make(chan string, 10)
	cs := b.session(&sdk.ClientOptions{LoggingMessageHandler: func(_ context.Context, r *sdk.LoggingMessageRequest) {
		if s, ok := r.Params.Data.(string); ok {
			logged <- s
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cs.SetLoggingLevel(ctx, &sdk.SetLoggingLevelParams{Level: "warning"}); err != nil {
		t.Fatal(err)
	}
	if res := call(t, cs, "search_logs", map[string]any{"process": "steady"}); strings.Contains(text(res), "[alert]") {
		t.Fatalf("alert before any crash: %s", text(res))
	}
	letCrash(t, dir, "0")
	testkit.WaitFor(t, 20*time.Second, "crasher to crash", func() bool { return b.proc("crasher").State == actors.StateBackoff })

	res := call(t, cs, "search_logs", map[string]any{"process": "steady"})
	txt := text(res)
	if !strings.HasPrefix(txt, "[alert] ") || !strings.Contains(firstLine(txt), " crasher crashed: pid ") ||
		!strings.Contains(firstLine(txt), "exit code 2 (bpm starts it again at ") {
		t.Errorf("text does not begin with the crash:\n%s", txt)
	}
	var out struct {
		Alerts []string `json:"alerts"`
		api.SearchOutput
	}
	out = decode[struct {
		Alerts []string `json:"alerts"`
		api.SearchOutput
	}](t, res)
	if len(out.Alerts) != 1 || out.Alerts[0] != firstLine(txt) || out.Process != "steady" {
		t.Errorf("structured alerts %q (process %q), want the text's first line", out.Alerts, out.Process)
	}
	select {
	case l := <-logged:
		if l != firstLine(txt) {
			t.Errorf("notification %q, want %q", l, firstLine(txt))
		}
	case <-time.After(5 * time.Second):
		t.Error("no notifications/message for the alert")
	}
	if res := call(t, cs, "search_logs", map[string]any{"process": "steady"}); strings.Contains(text(res), "[alert]") {
		t.Errorf("the same alert twice:\n%s", text(res))
	}
}

// What a call reports itself is no alert: a restart's own mode switch, and
// get_status, which shows everything. Alerts are per session: another
// session is told of both.
func TestNoAlertForWhatTheCallReports(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, crasher)
	b := startBPM(t, dir, Options{})
	b.waitRunning("steady", "^steady$", 20*time.Second)
	cs, other := b.session(nil), b.session(nil)
	call(t, cs, "search_logs", map[string]any{"process": "steady"})
	call(t, other, "search_logs", map[string]any{"process": "steady"})
	if res := call(t, cs, "restart", map[string]any{"process": "steady"}); strings.Contains(text(res), "[alert]") && strings.Contains(text(res), "mode") {
		t.Errorf("restart alerts of its own mode switch:\n%s", text(res))
	}
	letCrash(t, dir, "0")
	testkit.WaitFor(t, 20*time.Second, "crasher to crash", func() bool { return b.proc("crasher").Crashes > 0 })
	if txt := text(call(t, other, "search_logs", map[string]any{"process": "steady"})); !strings.Contains(txt, " bpm switched to dev mode\n") ||
		!strings.Contains(txt, " crasher crashed: ") {
		t.Errorf("the other session is not told of the mode switch and the crash:\n%s", txt)
	}
	if _, txt := callOK[api.StatusOutput](t, cs, "get_status", nil); strings.Contains(txt, "[alert]") {
		t.Errorf("get_status has alerts:\n%s", txt)
	}
	if res := call(t, cs, "search_logs", map[string]any{"process": "steady"}); strings.Contains(text(res), "[alert]") {
		t.Errorf("alert after get_status showed it:\n%s", text(res))
	}
}
