package mcp

import (
	"context"
	"fmt"
	"strconv"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
)

// What one search call returns at most; the rest is left out and the text
// says so. A model's context is the scarce resource: about 40 KB of text.
const (
	maxResultLines = 1000
	maxResultBytes = 40 << 10
	// defaultTail is how many of the newest lines a search without
	// pattern, head or tail returns.
	defaultTail = 100
)

// textSize is how many bytes line l takes in the text: time, stream, number,
// marker, the text and the newline.
func textSize(l actors.Line) int {
	n := len(api.ClockLayout) + 1 + len(strconv.Itoa(l.N)) + 2 + len(l.Text) + 1
	if l.Stream == actors.Stderr {
		n += 2
	}
	return n
}

type searchInput struct {
	Process      string `json:"process,omitempty" jsonschema:"name of the process; may be omitted when only one is configured"`
	Pattern      string `json:"pattern,omitempty" jsonschema:"RE2 regular expression matched against each line, at most 4096 bytes; (?i) at its start makes it case-insensitive; empty selects every line"`
	ContextLines int    `json:"context_lines,omitempty" range:"0,1000" jsonschema:"lines of context before and after each match (0 to 1000)"`
	Head         int    `json:"head,omitempty" range:"0,100000" jsonschema:"keep only the first N selected lines (0 to 100000; 0 keeps all)"`
	Tail         int    `json:"tail,omitempty" range:"0,100000" jsonschema:"keep only the last N selected lines (0 to 100000; 0 keeps all); wins over head"`
	Index        *int   `json:"index,omitempty" range:"-10000,10000" jsonschema:"which run: -1 newest (default), -2 the one before …; 0 oldest kept, 1 next …"`
	Stream       string `json:"stream,omitempty" enum:"stdout,stderr" jsonschema:"only the lines of this stream: stdout or stderr (default both)"`
	Since        string `json:"since,omitempty" jsonschema:"only lines written at or after this RFC 3339 time (2026-11-25T21:55:00Z), or \"restart\": since the process's current run started"`
}

const searchHelp = `Without pattern, head or tail: the newest 100 lines. With a pattern: the matching lines (and context_lines around them), the newest ones if there are too many. ` +
	`Order: stream and since, then match, then context, then head/tail. ` +
	`Each line reads "HH:MM:SS.mmm [E] N: text" (UTC time, E for stderr, N the line number in the run; " * " instead of ": " marks a match; "--" separates groups). ` +
	`At most about 40 KB of text per call; the header line says how many lines were selected and shown. ` +
	`The structured result holds the same lines as [n, "HH:MM:SS.mmm", text, flags?].`

func (s *server) addSearchTools(srv *sdk.Server) {
	readOnly := &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)}
	addTool(s, srv, &sdk.Tool{
		Name:        "search_logs",
		Title:       "Search a process's output",
		Description: "Search the output (stdout and stderr) of one run of a managed process. " + searchHelp,
		Annotations: readOnly,
	}, s.searchHandler(actors.KindRun))
	addTool(s, srv, &sdk.Tool{
		Name:        "search_build_log",
		Title:       "Search a process's build output",
		Description: "Search the output of one build of a managed process (cargo, go build or the configured build command). " + searchHelp,
		Annotations: readOnly,
	}, s.searchHandler(actors.KindBuild))
}

func (s *server) searchHandler(kind actors.LogKind) toolFunc[searchInput, api.SearchOutput] {
	return func(ctx context.Context, req *sdk.CallToolRequest, in searchInput) (string, api.SearchOutput, error) {
		s.readActivity(req)
		if kind == actors.KindBuild {
			if err := s.noBuildStep(s.resolve(in.Process)); err != nil {
				return "", api.SearchOutput{}, err
			}
		}
		q, err := s.searchQuery(ctx, kind, in)
		if err != nil {
			return "", api.SearchOutput{}, err
		}
		r, err := ask[actors.SearchReply](ctx, s, actors.LogSearchRequest{Process: in.Process, SearchRequest: q}, s.timeout)
		if err == nil && r.Err != nil && r.Runs == 0 && r.Process != "" && kind == actors.KindRun {
			r.Err = s.noRunsYet(ctx, r.Process, r.Err)
		}
		if err == nil {
			err = r.Err
		}
		if err != nil {
			return "", api.SearchOutput{}, err
		}
		out := searchResult(r.Process, q, r)
		return searchText(q, out), out, nil
	}
}

// searchQuery turns the input into a request to the logbuffer: the default
// tail, the cap, and since resolved to a time.
func (s *server) searchQuery(ctx context.Context, kind actors.LogKind, in searchInput) (actors.SearchRequest, error) {
	index := -1
	if in.Index != nil {
		index = *in.Index
	}
	q := actors.SearchRequest{Kind: kind, Pattern: in.Pattern, ContextLines: in.ContextLines,
		Head: in.Head, Tail: in.Tail, Index: index, Limit: maxResultLines, Stream: in.Stream}
	switch {
	case q.Head > 0 || q.Tail > 0:
	case q.Pattern == "":
		q.Tail = defaultTail
	default:
		// The newest matches, when there are more than fit.
		q.Tail = maxResultLines
	}
	since, err := s.since(ctx, in)
	q.Since = since
	return q, err
}

// since resolves the since parameter: an RFC 3339 time, or "restart" for
// the start of the process's current run.
func (s *server) since(ctx context.Context, in searchInput) (time.Time, error) {
	switch in.Since {
	case "":
		return time.Time{}, nil
	case "restart":
		st, err := ask[actors.StatusReply](ctx, s, actors.StatusRequest{}, s.timeout)
		if err != nil {
			return time.Time{}, err
		}
		name := s.resolve(in.Process)
		for _, p := range st.Processes {
			if p.Name == name && !p.StartedAt.IsZero() {
				return p.StartedAt, nil
			}
		}
		return time.Time{}, fmt.Errorf("since \"restart\": %s has no current run (see get_status); give an RFC 3339 time instead", name)
	}
	t, err := time.Parse(time.RFC3339Nano, in.Since)
	if err != nil {
		return time.Time{}, fmt.Errorf("since must be an RFC 3339 time such as 2026-11-25T21:55:00Z, or \"restart\"; got %q", in.Since)
	}
	return t, nil
}

// searchResult turns a reply into the tool's structured output, applying
// the byte cap: the first lines with head, else the newest.
func searchResult(name string, q actors.SearchRequest, r actors.SearchReply) api.SearchOutput {
	lines, truncated := capLines(r.Lines, q.Tail > 0)
	out := api.SearchOutput{
		Process: name,
		Kind:    q.Kind.String(),
		Run: api.RunOut{
			Index:      r.Run.Index - r.Runs,
			PID:        r.Run.PID,
			StartedAt:  r.Run.StartedAt.UTC(),
			TotalLines: r.Run.Lines,
			Previous:   r.Run.Previous,
		},
		RunsKept:  r.Runs,
		Matches:   r.Matches,
		AtLeast:   r.MatchesAtLeast,
		Selected:  r.Selected,
		Truncated: truncated || r.Selected > len(r.Lines),
		Lines:     make([]api.LineOut, len(lines)),
	}
	for i, l := range lines {
		out.Lines[i] = api.LineOut{N: l.N, Clock: l.Time.UTC().Format(api.ClockLayout), Stderr: l.Stream == actors.Stderr,
			Match: l.Match, Text: l.Text}
	}
	return out
}

// capLines keeps at most maxResultLines lines and about maxResultBytes of
// text: the last ones when fromEnd, else the first.
func capLines(lines []actors.Line, fromEnd bool) (kept []actors.Line, truncated bool) {
	n, size := 0, 0
	for n < len(lines) && n < maxResultLines {
		i := n
		if fromEnd {
			i = len(lines) - 1 - n
		}
		size += textSize(lines[i])
		if size > maxResultBytes && n > 0 {
			break
		}
		n++
	}
	if n == len(lines) {
		return lines, false
	}
	if fromEnd {
		return lines[len(lines)-n:], true
	}
	return lines[:n], true
}
