package mcp

import (
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
