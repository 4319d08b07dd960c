package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/config"
	"bpm/testkit"
)

// bpmServer is a real actor tree on a temp project with the MCP handler
// served on a loopback socket.
type bpmServer struct {
	t      *testing.T
	dir    string
	system *actor.ActorSystem
	sup    *actor.PID
	http   *httptest.Server
	url    string // the MCP endpoint
}

// startBPM loads dir's .mcp-run, starts the actor tree and serves NewHandler
// on 127.0.0.1. Everything is stopped when the test ends.
func startBPM(t *testing.T, dir string, opts Options) *bpmServer {
	t.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	b := &bpmServer{t: t, dir: dir, system: actors.NewSystem()}
	b.sup, err = actors.Start(b.system, actors.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	b.http = httptest.NewServer(NewHandler(b.system.Root, b.sup, opts))
	b.url = b.http.URL + Path
	t.Cleanup(func() {
		// Sessions are closed by now (cleanups run last-registered first);
		// cut whatever stream is left so Close does not wait on it.
		b.http.CloseClientConnections()
		b.http.Close()
		if _, err := actors.Ask[actors.StopReply](b.system.Root, b.sup, actors.StopRequest{}, time.Minute); err != nil {
			t.Errorf("stop: %v", err)
		}
		b.system.Shutdown()
	})
	return b
}

// status asks the actors directly (not through MCP, so it is no activity).
func (b *bpmServer) status() actors.StatusReply {
	b.t.Helper()
	st, err := actors.Ask[actors.StatusReply](b.system.Root, b.sup, actors.StatusRequest{}, 10*time.Second)
	if err != nil {
		b.t.Fatal(err)
	}
	if st.Err != nil {
		b.t.Fatal(st.Err)
	}
	return st
}

func (b *bpmServer) proc(name string) actors.ProcessStatus {
	b.t.Helper()
	for _, p := range b.status().Processes {
		if p.Name == name {
			return p
		}
	}
	b.t.Fatalf("no process %q in status", name)
	return actors.ProcessStatus{}
}

// waitRunning waits until name runs and, unless pattern is empty, has
// written a line matching it.
func (b *bpmServer) waitRunning(name, pattern string, within time.Duration) actors.ProcessStatus {
	b.t.Helper()
	var st actors.ProcessStatus
	testkit.WaitFor(b.t, within, name+" running with output "+pattern, func() bool {
		st = b.proc(name)
		if st.State != actors.StateRunning || pattern == "" {
			return st.State == actors.StateRunning
		}
		r, err := actors.Ask[actors.SearchReply](b.system.Root, b.sup, actors.LogSearchRequest{Process: name,
			SearchRequest: actors.SearchRequest{Kind: actors.KindRun, Pattern: pattern, Index: -1}}, 10*time.Second)
		return err == nil && r.Err == nil && r.Matches > 0
	})
	return st
}

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	header http.Header
	next   http.RoundTripper
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.header {
		r.Header[k] = v
	}
	return h.next.RoundTrip(r)
}

// connect opens an MCP client session to b with the go-sdk client; header
// is added to every request.
func (b *bpmServer) connect(opts *sdk.ClientOptions, header http.Header) (*sdk.ClientSession, error) {
	client := sdk.NewClient(&sdk.Implementation{Name: "bpm-test", Version: "0"}, opts)
	hc := &http.Client{Transport: headerTransport{header: header, next: http.DefaultTransport}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: b.url, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		return nil, err
	}
	b.t.Cleanup(func() { cs.Close() })
	return cs, nil
}

// session is connect that fails the test on error.
func (b *bpmServer) session(opts *sdk.ClientOptions) *sdk.ClientSession {
	b.t.Helper()
	cs, err := b.connect(opts, nil)
	if err != nil {
		b.t.Fatalf("connect: %v", err)
	}
	return cs
}

// call calls a tool and fails the test on a protocol error; a tool error
// (isError) is returned as a result.
func call(t *testing.T, cs *sdk.ClientSession, name string, args any) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s %v: protocol error: %v", name, args, err)
	}
	return res
}

// callOK calls a tool, fails the test on a tool error, and decodes the
// structured result.
func callOK[T any](t *testing.T, cs *sdk.ClientSession, name string, args any) (T, string) {
	t.Helper()
	res := call(t, cs, name, args)
	if res.IsError {
		t.Fatalf("%s %v: tool error: %s", name, args, text(res))
	}
	return decode[T](t, res), text(res)
}

// decode decodes a result's structured content into T.
func decode[T any](t *testing.T, res *sdk.CallToolResult) T {
	t.Helper()
	var out T
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("structured content %s: %v", data, err)
	}
	return out
}

// text joins the text content of a result.
func text(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}
