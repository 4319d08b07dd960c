package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/api"
)

// How the console reaches bpm: each call is bounded so a hung server shows as
// disconnected instead of freezing the panels; a restart waits as long as the
// server does (a cold release build can take many minutes).
const (
	dialTimeout    = 5 * time.Second
	statusTimeout  = 5 * time.Second
	searchTimeout  = 10 * time.Second
	restartTimeout = 31 * time.Minute
)

// Reconnect backoff: the first retry after retryMin, doubling up to retryMax.
const (
	retryMin = 500 * time.Millisecond
	retryMax = 5 * time.Second
)

// retryDelay is how long to wait after the nth failed attempt (n from 1).
func retryDelay(n int) time.Duration {
	d := retryMin
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// bearer adds "Authorization: Bearer TOKEN" to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// newHTTPClient is the console's own HTTP client, with the token when set.
// It has its own connection pool, so idle connections to a bpm that went
// away are not reused by anything else.
func newHTTPClient(token string) *http.Client {
	var rt http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()
	if token != "" {
		rt = bearer{token: token, next: rt}
	}
	return &http.Client{Transport: rt}
}

// connect opens a new MCP session. The console needs no server-initiated
// messages, so the standalone SSE stream stays off, and the SDK's own
// retries are off: the console's reconnect loop decides when to try again.
func connect(ctx context.Context, url string, hc *http.Client) (*sdk.ClientSession, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: api.ConsoleClientName, Title: "bpm operator console", Version: "dev"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{
		Endpoint:             url,
		HTTPClient:           hc,
		MaxRetries:           -1,
		DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		return nil, explain(err)
	}
	return cs, nil
}

// explain rewrites the errors an operator can act on.
func explain(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Unauthorized") || strings.Contains(msg, "401"):
		return errors.New("unauthorized (401): pass bpm's mcp_token with --token or BPM_MCP_TOKEN")
	case strings.Contains(msg, "connection refused"):
		return errors.New("connection refused (is bpm running?)")
	case strings.Contains(msg, "unknown tool"):
		return fmt.Errorf("%s: this bpm is older than the console; restart it with a newer bpm", msg[strings.Index(msg, "unknown tool"):])
	}
	return err
}

// toolError is a tool result with isError: the server answered, the input
// was not valid or the action failed. Its text says why.
type toolError struct{ text string }

func (e *toolError) Error() string { return e.text }

// isToolError reports whether err came from the tool, not from the connection.
func isToolError(err error) bool {
	var te *toolError
	return errors.As(err, &te)
}

// callTool calls a tool, decodes its structured result into out (when out is
// not nil) and returns its text. A tool error is a *toolError; any other error
// means the call did not get through.
func callTool(ctx context.Context, cs *sdk.ClientSession, name string, args any, timeout time.Duration, out any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, explain(err))
	}
	text := resultText(res)
	if res.IsError {
		return "", &toolError{text: text}
	}
	if out != nil {
		data, err := json.Marshal(res.StructuredContent)
		if err == nil {
			err = json.Unmarshal(data, out)
		}
		if err != nil {
			return "", fmt.Errorf("%s: unexpected result (is this bpm?): %w", name, err)
		}
	}
	return text, nil
}

// resultText is a result's text without the alert lines it may begin with:
// they tell an agent what happened since its previous call, which the
// console's panels show already.
func resultText(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	text := strings.Join(parts, "\n")
	for strings.HasPrefix(text, "[alert] ") {
		_, text, _ = strings.Cut(text, "\n")
	}
	return strings.TrimRight(strings.TrimLeft(text, "\n"), "\n")
}

// searchArgs is the input of search_logs and search_build_log.
type searchArgs struct {
	Process string `json:"process"`
	Pattern string `json:"pattern,omitempty"`
	Tail    int    `json:"tail,omitempty"`
}
