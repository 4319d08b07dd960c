package mcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
)

// What one search call returns at most; the rest is left out and the text
// says so. Tail keeps the newest lines, otherwise the first are kept.
const (
	maxResultLines = 2000
	maxResultBytes = 256 << 10
)

// lineOverhead approximates what FormatLines adds to a line's text (number,
// marker, newline) when the byte cap is counted.
const lineOverhead = 12

type searchInput struct {
	Process      string `json:"process,omitempty" jsonschema:"name of the process; may be omitted when only one is configured"`
	Pattern      string `json:"pattern,omitempty" jsonschema:"RE2 regular expression matched against each line, at most 4096 bytes; empty selects every line"`
	ContextLines int    `json:"context_lines,omitempty" range:"0,1000" jsonschema:"lines of context before and after each match (0 to 1000)"`
	Head         int    `json:"head,omitempty" range:"0,100000" jsonschema:"keep only the first N selected lines (0 to 100000; 0 keeps all)"`
	Tail         int    `json:"tail,omitempty" range:"0,100000" jsonschema:"keep only the last N selected lines (0 to 100000; 0 keeps all); wins over head"`
	Index        *int   `json:"index,omitempty" range:"-10000,10000" jsonschema:"which run: -1 newest (default), -2 the one before …; 0 oldest kept, 1 next …"`
}

// SearchOutput is the structured result of search_logs and search_build_log.
type SearchOutput struct {
	Process   string    `json:"process"`
	Kind      string    `json:"kind" jsonschema:"run or build"`
	Run       RunOut    `json:"run"`
	RunsKept  int       `json:"runs_kept" jsonschema:"how many runs (or builds) are kept; index ranges over them"`
	Matches   int       `json:"matches" jsonschema:"matching lines before head/tail and the cap"`
	AtLeast   bool      `json:"matches_at_least,omitempty" jsonschema:"true when matches is a lower bound: with head or tail the search stops once it has the lines"`
	Truncated bool      `json:"truncated" jsonschema:"true when the result cap left selected lines out"`
	Lines     []LineOut `json:"lines"`
}

// RunOut identifies the run or build a SearchOutput is about.
type RunOut struct {
	Index      int       `json:"index" jsonschema:"-1 newest, -2 the one before …"`
	PID        int       `json:"pid"`
	StartedAt  time.Time `json:"started_at"`
	TotalLines int       `json:"total_lines" jsonschema:"lines it has written, dropped ones included"`
}

// LineOut is one selected line.
type LineOut struct {
	N      int       `json:"n" jsonschema:"line number, from 1 at the start of the run"`
	Time   time.Time `json:"time"`
	Stream string    `json:"stream" jsonschema:"stdout or stderr"`
	Text   string    `json:"text"`
	Match  bool      `json:"match"`
}

const searchHelp = `Results are grep -C style: line number, " * " for a match or "   " for context, then the text; "--" separates groups. ` +
	`Order: match, then context, then head/tail. The first line of the text says which run and how many lines matched; with tail (or head) the search runs from the newest (or oldest) line and stops once it has them, so the count is then "at least". ` +
	`At most 2000 lines and 256 KiB are returned per call (the newest with tail, else the first).`

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

func (s *server) searchHandler(kind actors.LogKind) toolFunc[searchInput, SearchOutput] {
	return func(ctx context.Context, req *sdk.CallToolRequest, in searchInput) (string, SearchOutput, error) {
		s.readActivity(req)
		index := -1
		if in.Index != nil {
			index = *in.Index
		}
		q := actors.SearchRequest{Kind: kind, Pattern: in.Pattern, ContextLines: in.ContextLines,
			Head: in.Head, Tail: in.Tail, Index: index, Limit: maxResultLines}
		if kind == actors.KindBuild {
			if err := s.noBuildStep(s.resolve(in.Process)); err != nil {
				return "", SearchOutput{}, err
			}
		}
		r, err := ask[actors.SearchReply](ctx, s, actors.LogSearchRequest{Process: in.Process, SearchRequest: q}, s.timeout)
		if err == nil && r.Err != nil && r.Runs == 0 && r.Process != "" && kind == actors.KindRun {
			r.Err = s.noRunsYet(ctx, r.Process, r.Err)
		}
		if err == nil {
			err = r.Err
		}
		if err != nil {
			return "", SearchOutput{}, err
		}
		out := searchResult(r.Process, q, r)
		return searchText(q, out, r.Selected), out, nil
	}
}

// searchResult turns a reply into the tool's structured output, applying the cap.
func searchResult(name string, q actors.SearchRequest, r actors.SearchReply) SearchOutput {
	lines, truncated := capLines(r.Lines, q.Tail > 0)
	truncated = truncated || r.Selected > len(r.Lines)
	out := SearchOutput{
		Process: name,
		Kind:    q.Kind.String(),
		Run: RunOut{
			Index:      r.Run.Index - r.Runs,
			PID:        r.Run.PID,
			StartedAt:  r.Run.StartedAt.UTC(),
			TotalLines: r.Run.Lines,
		},
		RunsKept:  r.Runs,
		Matches:   r.Matches,
		AtLeast:   r.MatchesAtLeast,
		Truncated: truncated,
		Lines:     make([]LineOut, len(lines)),
	}
	for i, l := range lines {
		out.Lines[i] = LineOut{N: l.N, Time: l.Time.UTC(), Stream: l.Stream, Text: l.Text, Match: l.Match}
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
		size += len(lines[i].Text) + lineOverhead
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

// searchText is the text content: a header line, then the lines grep -C
// style, then a note when the cap left some of the selected lines out.
func searchText(q actors.SearchRequest, out SearchOutput, selected int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %d (pid %d, started %s): ", out.Process, out.Kind, out.Run.Index,
		out.Run.PID, out.Run.StartedAt.Format(time.RFC3339))
	natural := out.Run.TotalLines
	if q.Pattern != "" {
		natural = out.Matches
		if out.AtLeast {
			b.WriteString("at least ")
		}
		fmt.Fprintf(&b, "%s of %s", plural(out.Matches, "match", "matches"), plural(out.Run.TotalLines, "line", "lines"))
	} else {
		b.WriteString(plural(out.Run.TotalLines, "line", "lines"))
	}
	if shown := len(out.Lines); shown != natural {
		fmt.Fprintf(&b, ", %d shown", shown)
	}
	b.WriteByte('\n')
	lines := make([]actors.Line, len(out.Lines))
	for i, l := range out.Lines {
		lines[i] = actors.Line{N: l.N, Text: l.Text, Match: l.Match}
	}
	b.WriteString(actors.FormatLines(lines))
	if out.Truncated {
		which := "first"
		if q.Tail > 0 {
			which = "last"
		}
		fmt.Fprintf(&b, "[truncated: only the %s %d of %d selected lines are shown (a call returns at most %d lines and %d KiB); narrow it with pattern, head, tail or index]\n",
			which, len(out.Lines), selected, maxResultLines, maxResultBytes>>10)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
