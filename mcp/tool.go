package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
)

// toolFunc is a tool's handler: the decoded arguments in, the text and the
// structured result out; an error becomes a tool error (isError) carrying its text.
type toolFunc[In, Out any] func(ctx context.Context, req *sdk.CallToolRequest, in In) (string, Out, error)

// intRange is the valid range of an integer parameter, from its `range:"lo,hi"` tag.
type intRange struct{ lo, hi int }

// params describes a tool's parameters: their JSON names, and the ranges of
// the integer ones.
type params struct {
	names  []string
	ranges map[string]intRange
	enums  map[string][]string // from `enum:"a,b"` tags
	all    bool                // the process parameter also takes "all" (`all:"true"`)
}

// addTool registers t with an input schema derived from In in which every
// parameter may be null (null means not given), integers carry their range,
// and `process` lists the configured names. The arguments are decoded here,
// so bad input gets a message naming the parameter and what is valid.
func addTool[In, Out any](s *server, srv *sdk.Server, t *sdk.Tool, h toolFunc[In, Out]) {
	in, ps := inputSchema[In](s.set().names)
	out, err := jsonschema.For[Out](outputSchemaOptions)
	if err != nil {
		panic(fmt.Sprintf("tool %s: output schema: %v", t.Name, err))
	}
	out.Properties["alerts"] = &jsonschema.Schema{Type: "array", Items: &jsonschema.Schema{Type: "string"},
		Description: "what happened since this session's previous call that this result does not report (crashes, failed builds, mode switches); absent when nothing did"}
	tt := *t
	tt.InputSchema, tt.OutputSchema = in, out
	srv.AddTool(&tt, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		args, err := decodeArgs[In](req.Params.Arguments, ps)
		if err != nil {
			return toolError(s.alerts(ctx, req, nil), err), nil
		}
		text, res, err := h(ctx, req, args)
		alerts := s.alerts(ctx, req, args)
		if err != nil {
			return toolError(alerts, err), nil
		}
		var structured any = res
		if len(alerts) > 0 {
			text, structured = alertText(alerts)+text, withAlerts(res, alerts)
		}
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}, StructuredContent: structured}, nil
	})
}

// toolError is a tool error whose text is the alerts, then err's.
func toolError(alerts []string, err error) *sdk.CallToolResult {
	var res sdk.CallToolResult
	res.SetError(err)
	if len(alerts) > 0 {
		res.Content = []sdk.Content{&sdk.TextContent{Text: alertText(alerts) + err.Error()}}
	}
	return &res
}

// alertText is the alert lines and a blank line, as a result begins.
func alertText(alerts []string) string {
	return strings.Join(alerts, "\n") + "\n\n"
}

// inputSchema is In's schema with nullable parameters, integer ranges and
// the process names as an enum.
func inputSchema[In any](names []string) (*jsonschema.Schema, params) {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("input schema of %T: %v", *new(In), err))
	}
	ps := paramsOf(reflect.TypeFor[In]())
	for name, prop := range schema.Properties {
		if prop.Type != "" {
			prop.Types, prop.Type = []string{prop.Type}, ""
		}
		if !slices.Contains(prop.Types, "null") {
			prop.Types = append(prop.Types, "null")
		}
		if r, ok := ps.ranges[name]; ok {
			prop.Types = []string{"integer", "null"}
			prop.Minimum, prop.Maximum = ptr(float64(r.lo)), ptr(float64(r.hi))
		}
		if e, ok := ps.enums[name]; ok {
			prop.Enum = []any{nil}
			for _, v := range e {
				prop.Enum = append(prop.Enum, v)
			}
		}
		if name == "process" && len(names) > 0 {
			prop.Enum = []any{nil}
			for _, n := range names {
				prop.Enum = append(prop.Enum, n)
			}
			if ps.all {
				prop.Enum = append(prop.Enum, actors.All)
			}
		}
	}
	return schema, ps
}

// paramsOf reads the JSON names and `range` tags of a struct's fields.
func paramsOf(t reflect.Type) params {
	ps := params{ranges: map[string]intRange{}, enums: map[string][]string{}}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		ps.names = append(ps.names, name)
		if name == "process" && f.Tag.Get("all") == "true" {
			ps.all = true
		}
		if tag, ok := f.Tag.Lookup("enum"); ok {
			ps.enums[name] = strings.Split(tag, ",")
		}
		if tag, ok := f.Tag.Lookup("range"); ok {
			lo, hi, _ := strings.Cut(tag, ",")
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				panic(fmt.Sprintf("%s.%s: bad range tag %q", t, f.Name, tag))
			}
			ps.ranges[name] = intRange{l, h}
		}
	}
	slices.Sort(ps.names)
	return ps
}

// decodeArgs decodes a call's arguments into In: a null parameter is one
// not given; an unknown parameter, a wrong type or an integer out of its
// range is an error saying what is valid.
func decodeArgs[In any](raw json.RawMessage, ps params) (In, error) {
	var in In
	var args map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &args); err != nil {
			return in, fmt.Errorf("arguments must be a JSON object with the parameters %s", strings.Join(ps.names, ", "))
		}
	}
	for name, v := range args {
		if string(v) == "null" {
			delete(args, name)
			continue
		}
		if !slices.Contains(ps.names, name) {
			return in, fmt.Errorf("unknown parameter %q; valid: %s", name, strings.Join(ps.names, ", "))
		}
	}
	for name, v := range args {
		if err := decodeField(&in, name, v, ps); err != nil {
			return in, err
		}
	}
	return in, nil
}

// decodeField decodes one parameter into its field of in, checking its range.
func decodeField[In any](in *In, name string, v json.RawMessage, ps params) error {
	one, err := json.Marshal(map[string]json.RawMessage{name: v})
	if err != nil {
		return err
	}
	r, ranged := ps.ranges[name]
	err = json.Unmarshal(one, in)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil && !ranged:
		return nil
	case err == nil:
		var n int
		if json.Unmarshal(v, &n) == nil && n >= r.lo && n <= r.hi {
			return nil
		}
		return rangeError(name, r, string(v))
	case ranged:
		return rangeError(name, r, string(v))
	case errors.As(err, &typeErr):
		return fmt.Errorf("%s must be %s; got %s", name, jsonType(typeErr.Type), clip(string(v)))
	}
	return fmt.Errorf("%s: %w", name, err)
}

func rangeError(name string, r intRange, got string) error {
	return fmt.Errorf("%s must be an integer from %d to %d; got %s", name, r.lo, r.hi, clip(got))
}

// clip shortens a value quoted back in an error message.
func clip(v string) string {
	if len(v) > 60 {
		return v[:60] + "…"
	}
	return v
}

// jsonType names a Go type as JSON Schema does, with an article.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return t.Kind().String()
}
