package mcp

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"bpm/actors"
	"bpm/api"
)

// searchText is the text content: a header line, the lines as
// "HH:MM:SS.mmm [E] N: text" (" * " for a match, "--" between groups), and
// a note when lines were left out.
func searchText(q actors.SearchRequest, out api.SearchOutput) string {
	var b strings.Builder
	b.Grow(len(out.Lines) * 48)
	b.WriteString(searchHeader(q, out))
	b.WriteByte('\n')
	for i, l := range out.Lines {
		if i > 0 && l.N != out.Lines[i-1].N+1 {
			b.WriteString("--\n")
		}
		writeLine(&b, l)
	}
	if out.Truncated {
		fmt.Fprintf(&b, "[%s left out (a result holds about %d KB); narrow with pattern, stream or since, or page with head, tail or index]\n",
			plural(out.Selected-len(out.Lines), "selected line", "selected lines"), maxResultBytes>>10)
	}
	return b.String()
}

// writeLine writes one line as the text shows it.
func writeLine(b *strings.Builder, l api.LineOut) {
	b.WriteString(l.Clock)
	b.WriteByte(' ')
	if l.Stderr {
		b.WriteString("E ")
	}
	b.WriteString(strconv.Itoa(l.N))
	if l.Match {
		b.WriteString(" * ")
	} else {
		b.WriteString(": ")
	}
	b.WriteString(l.Text)
	b.WriteByte('\n')
}

// searchHeader names the run and says what was selected and shown.
func searchHeader(q actors.SearchRequest, out api.SearchOutput) string {
	head := fmt.Sprintf("%s %s %d (pid %d, started %s, %s%s)", out.Process, out.Kind, out.Run.Index,
		out.Run.PID, out.Run.StartedAt.Format(time.RFC3339), plural(out.Run.TotalLines, "line", "lines"), previousNote(out.Run))
	var filters []string
	if q.Stream != "" {
		filters = append(filters, q.Stream)
	}
	if !q.Since.IsZero() {
		filters = append(filters, "since "+q.Since.UTC().Format(time.RFC3339))
	}
	if len(filters) > 0 {
		head += " " + strings.Join(filters, ", ")
	}
	shown := len(out.Lines)
	switch {
	case q.Pattern != "":
		atLeast := ""
		if out.AtLeast {
			atLeast = "at least "
		}
		return fmt.Sprintf("%s: %s%s, %d shown", head, atLeast, plural(out.Matches, "match", "matches"), shown)
	case q.Head > 0:
		return fmt.Sprintf("%s: first %d shown", head, shown)
	case shown == out.Run.TotalLines, len(filters) > 0 && !out.Truncated && shown < q.Tail:
		return fmt.Sprintf("%s: all %d shown", head, shown)
	}
	return fmt.Sprintf("%s: newest %d shown", head, shown)
}

// previousNote marks a run read back from log_dir.
func previousNote(r api.RunOut) string {
	if r.Previous {
		return ", previous bpm session"
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
