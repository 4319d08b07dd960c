package mcp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

// rustProject copies the Rust fixture into a new project as process "rust".
func rustProject(t *testing.T, extra string) string {
	t.Helper()
	testkit.Need(t, "cargo")
	dir := testkit.NewProject(t, `
[process.rust]
type = "rust"
dir = "rust"
`+extra)
	testkit.CopyDir(t, "testdata/rustapp", filepath.Join(dir, "rust"))
	return dir
}

func TestRestartRebuildsRustInDevModeAndStreamsBuildProgress(t *testing.T) {
	t.Parallel()
	b := startBPM(t, rustProject(t, ""), Options{})
	first := b.waitRunning("rust", `^rustapp started pid=\d+ mode=release$`, 3*time.Minute)

	progress := make(chan *sdk.ProgressNotificationParams, 10000)
	cs := b.session(&sdk.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
		progress <- r.Params
	}})
	params := &sdk.CallToolParams{Name: "restart", Arguments: map[string]any{"process": "rust"}}
	params.SetProgressToken("restart-rust")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, params)
	if err != nil || res.IsError {
		t.Fatalf("restart: %v %s", err, text(res))
	}
	r := decode[api.RestartOutput](t, res)
	if r.Process != "rust" || r.Mode != "dev" || r.PID == 0 || r.PID == first.PID || r.BuildSeconds <= 0 {
		t.Fatalf("restart = %+v, want a dev build and a new pid (old %d)", r, first.PID)
	}

	st, _ := callOK[api.StatusOutput](t, cs, "get_status", nil)
	p := st.Processes[0]
	if st.Mode != "dev" || st.ReleaseSwitchAt == nil || p.PID != r.PID || p.State != actors.StateRunning ||
		p.Build.State != "ok" || p.Build.Mode != "dev" || p.Build.StartedAt == nil {
		t.Errorf("status after restart: mode %q switch %v, process %+v", st.Mode, st.ReleaseSwitchAt, p)
	}

	b.waitRunning("rust", fmt.Sprintf("^rustapp started pid=%d mode=debug$", r.PID), 10*time.Second)
	prev, _ := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "rust", "pattern": "^rustapp started", "index": -2})
	if want := fmt.Sprintf("rustapp started pid=%d mode=release", first.PID); len(prev.Lines) != 1 || prev.Lines[0].Text != want || prev.Run.PID != first.PID {
		t.Errorf("index -2 = %+v, want %q", prev.Lines, want)
	}
	build, txt := callOK[api.SearchOutput](t, cs, "search_build_log", map[string]any{"process": "rust", "pattern": "Compiling rustapp"})
	if build.Matches == 0 || build.Kind != "build" || !strings.HasPrefix(txt, "rust build -1 (pid ") {
		t.Errorf("newest build log: %d matches, text:\n%s", build.Matches, txt)
	}

	// Progress: the build's lines, in order, with a growing counter.
	var got []*sdk.ProgressNotificationParams
	testkit.WaitFor(t, 10*time.Second, "a progress notification with cargo's Compiling line", func() bool {
		for {
			select {
			case p := <-progress:
				got = append(got, p)
			default:
				for _, p := range got {
					if strings.Contains(p.Message, "Compiling rustapp") {
						return true
					}
				}
				return false
			}
		}
	})
	for i, p := range got {
		if p.ProgressToken != "restart-rust" || (i > 0 && p.Progress <= got[i-1].Progress) {
			t.Errorf("notification %d: token %v progress %v (previous %v)", i, p.ProgressToken, p.Progress, got[max(0, i-1)].Progress)
		}
	}
}

func TestBrokenBuildKeepsTheOldRunServingAndReturnsCompilerErrors(t *testing.T) {
	t.Parallel()
	port := testkit.FreePort(t)
	dir := rustProject(t, fmt.Sprintf(`env = { FIXTURE_LISTEN = "127.0.0.1:%d" }`, port))
	b := startBPM(t, dir, Options{})
	old := b.waitRunning("rust", `^rustapp listening`, 3*time.Minute)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if body := testkit.Get(url); body != fmt.Sprintf("pid=%d\n", old.PID) {
		t.Fatalf("GET %s = %q before the restart", url, body)
	}

	main := filepath.Join(dir, "rust", "src", "main.rs")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	broken := string(src) + "\nfn broken() -> i32 {\n    \"not a number\"\n}\n"
	if err := os.WriteFile(main, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}

	cs := b.session(nil)
	res := call(t, cs, "restart", map[string]any{"process": "rust"})
	msg := text(res)
	if !res.IsError || !strings.Contains(msg, "error[E") || !strings.Contains(msg, fmt.Sprintf("the old run (pid %d) is still serving", old.PID)) {
		t.Fatalf("restart of a broken crate: isError %v, text:\n%s", res.IsError, msg)
	}
	if res.StructuredContent != nil {
		t.Errorf("a failed restart has structured content %v", res.StructuredContent)
	}

	st, _ := callOK[api.StatusOutput](t, cs, "get_status", nil)
	p := st.Processes[0]
	if p.PID != old.PID || p.State != actors.StateRunning || p.Build.State != "failed" || p.Build.Mode != "dev" {
		t.Errorf("after the failed build: %+v", p)
	}
	if body := testkit.Get(url); body != fmt.Sprintf("pid=%d\n", old.PID) {
		t.Errorf("GET %s = %q after the failed build, want the old run", url, body)
	}
	out, _ := callOK[api.SearchOutput](t, cs, "search_build_log", map[string]any{"process": "rust", "pattern": `^error\[E`})
	if out.Matches == 0 {
		t.Errorf("the build log has no error[E line")
	}
}
