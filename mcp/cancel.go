package mcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The go-sdk answers every request, also one the client cancelled with
// notifications/cancelled, which the specification says not to answer. The
// answer to a tool call cancelled that way is replaced with a result marked
// with cancelMark in its _meta (markCancelled), and dropCancelled keeps such
// answers off the wire. The mark
// holds a random part, so no other result (a log line quoting it is
// escaped inside a JSON string anyway) can carry it.
var cancelMark = "bpm-cancelled-" + randomHex()

// cancelledMarkBytes is how the mark appears in an encoded answer.
var cancelledMarkBytes = []byte(`"` + cancelMark + `":true`)

// cancelledErrorBytes is the go-sdk's own answer to a request cancelled
// before it reached a handler (the cancel came first, which a loaded machine
// makes likely): its jsonrpc2 layer answers context.Canceled without going
// through markCancelled. A request's context ends with that bare error when
// the client cancelled it (a failed write ends it with a cause of its own,
// and after a closed session nobody reads the answer), so it is dropped too.
var cancelledErrorBytes = []byte(`,"error":{"code":0,"message":"context canceled"}}`)

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cancelledByClient reports whether ctx ended because the client cancelled
// the request (rather than the session closing or a deadline).
func cancelledByClient(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled) && context.Cause(ctx) == context.Canceled
}

// markCancelled replaces the answer to a tools/call the client cancelled
// (a tool's error, or the go-sdk's own when the cancel came first) with one
// marked cancelled, which dropCancelled keeps off the wire.
func markCancelled(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		res, err := next(ctx, method, req)
		if method == "tools/call" && cancelledByClient(ctx) {
			return cancelledResult(), nil
		}
		return res, err
	}
}

// cancelledResult is the answer of a request the client cancelled; it is
// never sent (dropCancelled).
func cancelledResult() *sdk.CallToolResult {
	res := &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "cancelled"}}, IsError: true}
	res.Meta = sdk.Meta{cancelMark: true}
	return res
}

// dropCancelled drops the SSE events of responses marked cancelled (and the
// go-sdk's context.Canceled errors), on the
// POST that carried the call and on a GET that resumes its stream from the
// event store.
func dropCancelled(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&cancelFilter{ResponseWriter: w}, r)
	})
}

// cancelFilter passes every write through but those of a cancelled answer.
// The go-sdk writes each SSE event in one Write.
type cancelFilter struct {
	http.ResponseWriter
}

func (f *cancelFilter) Write(p []byte) (int, error) {
	if bytes.Contains(p, cancelledMarkBytes) || bytes.Contains(p, cancelledErrorBytes) {
		return len(p), nil
	}
	return f.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (Flush, deadlines).
func (f *cancelFilter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
