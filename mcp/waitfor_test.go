package mcp

import (
	"strings"
	"testing"
	"time"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

func TestWaitFor(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, crasher+`
[process.ticker]
type = "command"
command = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
`)
	b := startBPM(t, dir, Options{})
	b.waitRunning("crasher", "^starting$", 20*time.Second)
	cs := b.session(nil)
	t.Run("a crash ends the wait", func(t *testing.T) {
		letCrash(t, dir, "2") // while the wait below has begun
		out, txt := callOK[api.WaitOutput](t, cs, "wait_for", map[string]any{"process": "crasher", "pattern": "never", "timeout_seconds": 20})
		if out.Reached || out.Why != "crashed" || out.Waited > 10 || !strings.Contains(txt, "panic: boom") || !strings.Contains(txt, "it crashed after") {
			t.Errorf("out %+v, text %q", out, txt)
		}
		if st := b.proc("crasher"); st.State != actors.StateBackoff {
			t.Errorf("crasher state %s, want backoff", st.State)
		}
	})
	b.waitRunning("steady", "^steady$", 20*time.Second)
	b.waitRunning("ticker", "^tick", 20*time.Second)

	t.Run("a state already reached", func(t *testing.T) {
		out, txt := callOK[api.WaitOutput](t, cs, "wait_for", map[string]any{"process": "steady", "state": "running"})
		if !out.Reached || out.Why != "state" || out.State != "running" || !strings.HasPrefix(txt, "steady is running (pid ") {
			t.Errorf("out %+v, text %q", out, txt)
		}
	})
	t.Run("a new line matching", func(t *testing.T) {
		began := time.Now()
		out, txt := callOK[api.WaitOutput](t, cs, "wait_for", map[string]any{"process": "ticker", "pattern": "^tick [0-9]*[05]$"})
		if !out.Reached || out.Why != "match" || out.Line == nil || !strings.HasSuffix(out.Line.Text, "5") && !strings.HasSuffix(out.Line.Text, "0") {
			t.Fatalf("out %+v", out)
		}
		if at := (api.SearchOutput{Run: api.RunOut{StartedAt: began.Add(-time.Hour)}}).Time(*out.Line); at.Before(began.Add(-time.Second)) {
			t.Errorf("matched line from %v, before the call at %v", at, began)
		}
		if !strings.Contains(txt, out.Line.Text+"\n") {
			t.Errorf("text lacks the line: %q", txt)
		}
	})
	t.Run("a timeout carries the newest lines", func(t *testing.T) {
		out, txt := callOK[api.WaitOutput](t, cs, "wait_for", map[string]any{"process": "ticker", "pattern": "never", "timeout_seconds": 1})
		if out.Reached || out.Why != "timeout" || len(out.Lines) == 0 || !strings.HasPrefix(txt, "timed out after 1.") || !strings.Contains(txt, "tick ") {
			t.Errorf("out %+v, text %q", out, txt)
		}
	})
	for _, tc := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"neither state nor pattern", map[string]any{"process": "ticker"}, "give state (one of building, starting, running"},
		{"bad state", map[string]any{"process": "ticker", "state": "up"}, `state "up" is not valid; valid: building`},
		{"timeout out of range", map[string]any{"process": "ticker", "state": "running", "timeout_seconds": 3600}, "timeout_seconds must be an integer from 1 to 600; got 3600"},
		{"unknown process", map[string]any{"process": "nope", "state": "running"}, `unknown process "nope"; known: crasher, steady, ticker`},
		{"bad pattern", map[string]any{"process": "ticker", "pattern": "("}, "invalid pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, cs, "wait_for", tc.args)
			if !res.IsError || !strings.Contains(text(res), tc.want) {
				t.Errorf("isError %v, text %q; want %q", res.IsError, text(res), tc.want)
			}
		})
	}
}
