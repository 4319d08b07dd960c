package mcp

import (
	"context"
	"fmt"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// logLevels are the levels of logging/setLevel, from RFC 5424 as MCP names them.
var logLevels = []sdk.LoggingLevel{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

// eventStoreBytes bounds what the event store keeps for resuming streams,
// over all sessions; the oldest events go first.
const eventStoreBytes = 4 << 20

// checkLogLevel answers logging/setLevel with an unknown level with
// -32602 (invalid params), as the specification asks, instead of storing it.
func checkLogLevel(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		if method == "logging/setLevel" {
			if p, ok := req.GetParams().(*sdk.SetLoggingLevelParams); ok && !slices.Contains(logLevels, p.Level) {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
					Message: fmt.Sprintf("invalid log level %q; valid: %v", p.Level, logLevels)}
			}
		}
		return next(ctx, method, req)
	}
}

// newEventStore keeps the messages of every stream so that a client whose
// stream dropped (during a long restart) resumes it with Last-Event-ID.
func newEventStore() sdk.EventStore {
	es := sdk.NewMemoryEventStore(nil)
	es.SetMaxBytes(eventStoreBytes)
	return es
}
