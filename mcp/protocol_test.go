package mcp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/testkit"
)

const oneSleeper = `
[process.app]
type = "command"
command = ["sleep", "1000"]
`

func TestInvalidLogLevelIsInvalidParams(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, oneSleeper), Options{})
	cs := b.session(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cs.SetLoggingLevel(ctx, &sdk.SetLoggingLevelParams{Level: "verbose"})
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != jsonrpc.CodeInvalidParams || !strings.Contains(wire.Message, "warning") {
		t.Fatalf("setLevel verbose: %v, want -32602 listing the valid levels", err)
	}
	if err := cs.SetLoggingLevel(ctx, &sdk.SetLoggingLevelParams{Level: "warning"}); err != nil {
		t.Errorf("setLevel warning: %v", err)
	}
}

// With an event store every SSE event carries an id, which a client sends
// back as Last-Event-ID to resume a stream that dropped.
func TestStreamEventsCarryIDsForResumption(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, oneSleeper), Options{})
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`
	req, _ := http.NewRequest(http.MethodPost, b.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(data), "\nid: ") && !strings.HasPrefix(string(data), "id: ") {
		t.Errorf("initialize stream has no event id:\n%s", data)
	}
}

// rawSession speaks MCP over plain HTTP, to see exactly what is on the wire.
type rawSession struct {
	t   *testing.T
	url string
	id  string
}

func newRawSession(t *testing.T, url string) *rawSession {
	s := &rawSession{t: t, url: url}
	resp := s.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	io.ReadAll(resp.Body)
	resp.Body.Close()
	s.id = resp.Header.Get("Mcp-Session-Id")
	resp = s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	resp.Body.Close()
	return s
}

func (s *rawSession) post(body string) *http.Response {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp
}

// The specification says a cancelled request gets no response.
func TestACancelledRequestGetsNoResponse(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, oneSleeper), Options{})
	b.waitRunning("app", "", 20*time.Second)
	s := newRawSession(t, b.url)
	resp := s.post(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"wait_for","arguments":{"pattern":"never","timeout_seconds":60}}}`)
	defer resp.Body.Close()
	// The stream's first event (with an id, for resuming) says the call is under way.
	r := bufio.NewReader(resp.Body)
	first, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("call stream: %q, %v", first, err)
	}
	body := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(r)
		body <- string(data)
	}()
	// The stream can open before the call is registered, when a cancel
	// would find nothing to cancel: cancel again until the stream ends.
	resend := time.NewTicker(500 * time.Millisecond)
	defer resend.Stop()
	giveUp := time.After(20 * time.Second)
	for done := false; !done; {
		s.post(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"changed my mind"}}`).Body.Close()
		select {
		case got := <-body:
			if strings.Contains(got, `"id":7`) {
				t.Errorf("the cancelled call was answered:\n%s", got)
			}
			done = true
		case <-giveUp:
			t.Fatal("the cancelled call's stream did not end")
		case <-resend.C:
		}
	}
	// The session goes on.
	resp = s.post(`{"jsonrpc":"2.0","id":8,"method":"ping"}`)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(data), `"id":8`) {
		t.Errorf("ping after the cancel: %s", data)
	}
}
