// Package mcp serves bpm's MCP tools (search_logs, search_build_log, restart,
// get_status) over Streamable HTTP. Each tool handler sends one request
// message to the actor tree and awaits the reply with a timeout; no state
// lives here.
package mcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
)

// Path is where the MCP endpoint is served.
const Path = "/mcp"

// defaultTimeout bounds one request to the actors when Options.Timeout is 0.
const defaultTimeout = 10 * time.Second

// Options configure the MCP endpoint.
type Options struct {
	// Token, when set, must come as "Authorization: Bearer TOKEN" on every request.
	Token string
	// Version is reported as the server's version in initialize.
	Version string
	// Timeout bounds each request to the actors (not a restart's build); default 10s.
	Timeout time.Duration
	// SessionIdle closes a session with no request for this long; default 60 min.
	SessionIdle time.Duration
	// MaxSessions caps live sessions: a new one past it closes the one idle
	// longest; default 100.
	MaxSessions int
	// RestartSettle is how long restart watches the new run before it
	// answers (restart_settle_seconds); 0: it answers once the run serves.
	RestartSettle time.Duration
	// BodyTimeout bounds how long a request body may take to arrive after its
	// headers; default 10s.
	BodyTimeout time.Duration
}

// Handler serves the MCP endpoint (see NewHandler).
type Handler struct {
	http.Handler
	sdk      *sdk.Server
	sessions *sessionTable
}

// LiveSessions returns how many MCP sessions are open.
func (h *Handler) LiveSessions() int { return h.sessions.count() }

// server holds what the tool handlers need to reach the actors.
type server struct {
	root       *actor.RootContext
	supervisor *actor.PID
	timeout    time.Duration
	settleFor  time.Duration // Options.RestartSettle
	sessions   *sessionTable // keeps what each session was alerted of
	// The configured processes: their names (the enum of every process
	// parameter) and which ones have a build step; replaced after a reload.
	known atomic.Pointer[processSet]
	sdk   *sdk.Server
}

// processSet is what the tools know of the configured processes.
type processSet struct {
	names    []string
	hasBuild map[string]bool
}

// set returns the processes as last learned.
func (s *server) set() *processSet { return s.known.Load() }

// NewHandler returns the handler serving the MCP endpoint at /mcp (and
// 404 elsewhere). Requests with a non-localhost Origin get 403; with a token
// configured, requests without it get 401. The SDK's DNS-rebinding (Host)
// protection stays on. Sessions idle for opts.SessionIdle are closed, and at
// most opts.MaxSessions live at once (the one idle longest is closed first).
func NewHandler(root *actor.RootContext, supervisor *actor.PID, opts Options) *Handler {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = DefaultSessionIdle
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &server{root: root, supervisor: supervisor, timeout: opts.Timeout, settleFor: opts.RestartSettle}
	s.learnProcesses()
	sessions := newSessionTable(opts.MaxSessions)
	s.sessions = sessions
	srv := sdk.NewServer(&sdk.Implementation{
		Name:    "bpm",
		Title:   "bpm: Background Process Manager",
		Version: opts.Version,
	}, &sdk.ServerOptions{Instructions: instructions})
	s.sdk = srv
	s.addTools()
	srv.AddReceivingMiddleware(sessions.middleware, checkLogLevel, markCancelled)

	mux := http.NewServeMux()
	mux.Handle(Path, sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv },
		&sdk.StreamableHTTPOptions{SessionTimeout: opts.SessionIdle, EventStore: newEventStore()}))
	return &Handler{Handler: bodyDeadline(opts.BodyTimeout, guard(opts.Token, dropCancelled(mux))), sdk: srv, sessions: sessions}
}

// addTools registers every tool, with the process names as last learned;
// after a reload that added or removed processes they are registered again,
// and clients are told the list changed.
func (s *server) addTools() {
	s.addSearchTools(s.sdk)
	s.addRestartTool(s.sdk)
	s.addStatusTool(s.sdk)
	s.addWaitTool(s.sdk)
	s.addLifecycleTools(s.sdk)
}

const instructions = `bpm keeps this project's processes built and running.
get_status shows every process, its state, recent events, and the last stderr lines of one that crashed.
search_logs and search_build_log grep a run's or a build's output (newest 100 lines by default; RE2 pattern, context, head/tail, stream, since, index -1 newest, -2 previous).
restart rebuilds a process in dev mode while the old run keeps serving, swaps, and watches the new run for a few seconds; a failed build returns the compiler errors and keeps the old run. With wait false it returns at once; follow it with wait_for.
wait_for waits for a state or a new matching line.
stop keeps a process down (no crash restart) until start or restart; start brings it back; both and restart take "all" (dependency order). reload_config applies an edited .mcp-run.
A result begins with [alert] lines when something happened since your previous call that it does not report (a crash, a failed build).`

// learnProcesses asks the supervisor which processes are configured. Without
// an answer the tools still work; their schemas just list no names.
func (s *server) learnProcesses() {
	set := &processSet{hasBuild: map[string]bool{}}
	defer s.known.Store(set)
	st, err := actors.Ask[actors.StatusReply](s.root, s.supervisor, actors.StatusRequest{}, s.timeout)
	if err != nil {
		return
	}
	for _, p := range st.Processes {
		set.names = append(set.names, p.Name)
		set.hasBuild[p.Name] = p.HasBuild
	}
}

// Listen binds host:port for the MCP endpoint. The error names the address,
// and says so when the port is already in use.
func Listen(host string, port int) (net.Listener, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen on %s: port %d is already in use (another bpm?); stop it or choose another port with --port or mcp_port: %w", addr, port, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

// activity tells the mode clock a tool was called, so dev mode lasts.
func (s *server) activity() {
	s.root.Send(s.supervisor, actors.ActivityRequest{})
}

// readActivity is activity for a read-only tool: every client's call counts
// except bpm's own console, which polls get_status and the logs every second
// and would otherwise keep dev mode alive for as long as it is open.
func (s *server) readActivity(req *sdk.CallToolRequest) {
	if req != nil && req.Session != nil {
		if p := req.Session.InitializeParams(); p != nil && p.ClientInfo != nil && p.ClientInfo.Name == api.ConsoleClientName {
			return
		}
	}
	s.activity()
}

// answer is a reply from the actors, or why none came.
type answer struct {
	msg any
	err error
}

// request sends msg to the supervisor and delivers its reply (or the
// timeout) on the returned channel. cancel releases the wait early.
func (s *server) request(msg any, timeout time.Duration) (replies <-chan answer, cancel func()) {
	f := s.root.RequestFuture(s.supervisor, msg, timeout)
	ch := make(chan answer, 1)
	go func() {
		res, err := f.Result()
		ch <- answer{res, err}
	}()
	// Cancelling only stops the caller's wait: the goroutine above ends when
	// the reply or the timeout comes. Stopping the future instead races with
	// an actor's late reply into it.
	return ch, func() {}
}

// ask sends msg to the supervisor and waits up to timeout, or until ctx
// ends, for a reply of type T.
func ask[T any](ctx context.Context, s *server, msg any, timeout time.Duration) (T, error) {
	var zero T
	replies, cancel := s.request(msg, timeout)
	select {
	case a := <-replies:
		return reply[T](a)
	case <-ctx.Done():
		cancel()
		return zero, fmt.Errorf("request cancelled: %w", ctx.Err())
	}
}

// reply converts an answer to T.
func reply[T any](a answer) (T, error) {
	var zero T
	if a.err != nil {
		return zero, fmt.Errorf("no answer from bpm's actors: %w", a.err)
	}
	v, ok := a.msg.(T)
	if !ok {
		return zero, fmt.Errorf("unexpected answer %T from bpm's actors", a.msg)
	}
	return v, nil
}

// textResult is a tool result whose content is text.
func textResult(text string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}}
}

// utc returns t in UTC, or nil when t is zero (shown as null).
func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func ptr[T any](v T) *T { return &v }
