package mcp

import (
	"context"
	"fmt"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
	"bpm/config"
)

// restartTimeout bounds one restart: a cold cargo build can take many minutes.
const restartTimeout = 30 * time.Minute

// progressEvery is how often a restart with a progress token looks for new
// build output to forward.
const progressEvery = 300 * time.Millisecond

// progressTail bounds the build lines fetched per poll; more new lines than
// this between two polls are reported as skipped.
const progressTail = 1000

type restartInput struct {
	Process string `json:"process,omitempty" all:"true" jsonschema:"name of the process, or \"all\" (in dependency order: each once what it depends on has restarted); may be omitted when only one is configured"`
	Wait    *bool  `json:"wait,omitempty" jsonschema:"true (default): return when the new run serves and has stayed up for the settle window; false: return at once while the build goes on (for clients with short request timeouts; then use wait_for)"`
}

func (s *server) addRestartTool(srv *sdk.Server) {
	addTool(s, srv, &sdk.Tool{
		Name:  "restart",
		Title: "Rebuild and restart a process",
		Description: "Rebuild a process in dev mode (bpm switches to dev mode) while the old run keeps serving, then stop the old run and start the new one. " +
			"Returns when the new run serves and has stayed up for a few seconds (restart_settle_seconds), with its first lines; a crash in that window is an error carrying the last lines and when bpm retries. " +
			"If the build fails the old run keeps serving and the result is an error carrying the compiler's error lines. " +
			"With wait false it returns at once and the build goes on: follow it with wait_for. " +
			"With a progress token, build output is streamed as progress notifications.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: false, DestructiveHint: ptr(false), IdempotentHint: false, OpenWorldHint: ptr(false)},
	}, s.restart)
}

func (s *server) restart(ctx context.Context, req *sdk.CallToolRequest, in restartInput) (string, api.RestartOutput, error) {
	s.activity()
	// A long build must not count as idle time.
	defer s.activity()
	began := time.Now()
	if in.Process == actors.All {
		return s.restartAll(ctx, in)
	}
	replies, cancel := s.request(actors.RestartRequest{Process: in.Process}, restartTimeout)
	if in.Wait != nil && !*in.Wait {
		return s.restartBegun(ctx, in, began)
	}

	var p *progress
	var tick <-chan time.Time
	if token := req.Params.GetProgressToken(); token != nil {
		p = &progress{s: s, req: req, token: token, process: in.Process, since: began}
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			p.forward(ctx)
		case a := <-replies:
			if p != nil {
				p.forward(ctx)
			}
			r, err := reply[actors.RestartReply](a)
			if err == nil {
				err = r.Err
			}
			if err != nil {
				return "", api.RestartOutput{}, err
			}
			return s.settle(ctx, r)
		case <-ctx.Done():
			cancel()
			return "", api.RestartOutput{}, fmt.Errorf("restart call cancelled (the build and swap go on; see get_status): %w", ctx.Err())
		}
	}
}

// progress forwards the output of the build a restart started, line by
// line, as progress notifications.
type progress struct {
	s       *server
	req     *sdk.CallToolRequest
	token   any
	process string
	since   time.Time // builds that started before the call are not ours

	build int     // build id being followed
	last  int     // number of the last line sent
	sent  float64 // notifications sent: the progress counter
}

// forward sends the lines of the newest build that are new since the last call.
func (p *progress) forward(ctx context.Context) {
	q := actors.SearchRequest{Kind: actors.KindBuild, Index: -1, Tail: progressTail}
	r, err := ask[actors.SearchReply](ctx, p.s, actors.LogSearchRequest{Process: p.process, SearchRequest: q}, p.s.timeout)
	if err != nil || r.Err != nil || r.Run.StartedAt.Before(p.since) {
		return // no build of ours yet (or none at all: npm)
	}
	if r.Run.ID != p.build {
		p.build, p.last = r.Run.ID, 0
	}
	for _, l := range r.Lines {
		if l.N <= p.last {
			continue
		}
		text := l.Text
		if skipped := l.N - p.last - 1; skipped > 0 {
			text = fmt.Sprintf("[%d build lines skipped]\n%s", skipped, text)
		}
		p.last = l.N
		p.sent++
		// A client that went away just misses the rest; the restart goes on.
		_ = p.req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{
			ProgressToken: p.token,
			Progress:      p.sent,
			Message:       text,
		})
	}
}

// restartAll restarts every process; with wait false it returns at once.
func (s *server) restartAll(ctx context.Context, in restartInput) (string, api.RestartOutput, error) {
	replies, _ := s.request(actors.RestartRequest{Process: actors.All}, restartTimeout)
	if in.Wait != nil && !*in.Wait {
		return "restart of every process begun (dev builds run now while the old runs keep serving); get_status or wait_for shows how it went.",
			api.RestartOutput{Process: actors.All, Mode: config.Dev, Pending: true}, nil
	}
	var a answer
	select {
	case a = <-replies:
	case <-ctx.Done():
		return "", api.RestartOutput{}, fmt.Errorf("restart call cancelled (the builds and swaps go on; see get_status): %w", ctx.Err())
	}
	r, err := reply[actors.BatchReply](a)
	if err != nil {
		return "", api.RestartOutput{}, err
	}
	text, out, err := batchResult("restarted", r)
	return text, api.RestartOutput{Process: actors.All, Mode: config.Dev, Results: out.Results}, err
}
