package mcp

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"bpm/api"
	"bpm/testkit"
)

// bigRuns: many writes 3,000 short lines, wide 400 lines of 1,000 bytes.
const bigRuns = `
log_lines = 5000

[process.many]
type = "command"
command = ["sh", "-c", "seq 1 3000; sleep 1000"]

[process.wide]
type = "command"
command = ["sh", "-c", "i=0; while [ $i -lt 400 ]; do printf '%01000d\n' $i; i=$((i+1)); done; echo end; sleep 1000"]
`

func TestSearchDefaultsToTheNewestLinesAndIsCapped(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, bigRuns), Options{})
	b.waitRunning("many", "^3000$", 20*time.Second)
	b.waitRunning("wide", "^end$", 20*time.Second)
	cs := b.session(nil)

	out, txt := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "many"})
	if out.Truncated || len(out.Lines) != defaultTail || out.Lines[0].Text != "2901" || out.Lines[defaultTail-1].Text != "3000" {
		t.Errorf("bare search: truncated %v, %d lines from %q; want the newest %d", out.Truncated, len(out.Lines), texts(out.Lines)[:1], defaultTail)
	}
	if !strings.Contains(firstLine(txt), "3000 lines): newest 100 shown") {
		t.Errorf("header %q", firstLine(txt))
	}
	out, txt = callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "many", "tail": 2500})
	if !out.Truncated || len(out.Lines) >= 2500 || out.Lines[len(out.Lines)-1].Text != "3000" || len(txt) > maxResultBytes+1024 {
		t.Errorf("tail 2500: truncated %v, %d lines, %d bytes; want the newest under %d KB", out.Truncated, len(out.Lines), len(txt), maxResultBytes>>10)
	}
	if !strings.Contains(txt, "selected lines left out") {
		t.Errorf("tail text does not say lines were left out: …%s", txt[max(0, len(txt)-200):])
	}
	out, txt = callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "many", "pattern": "0$"})
	if out.Matches != 300 || out.Lines[len(out.Lines)-1].Text != "3000" || len(txt) > maxResultBytes+1024 {
		t.Errorf("pattern: %d matches, %d shown ending %q", out.Matches, len(out.Lines), out.Lines[len(out.Lines)-1].Text)
	}
	out, txt = callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "wide"})
	if !out.Truncated || len(out.Lines) >= defaultTail || len(txt) > maxResultBytes+1024 || out.Lines[len(out.Lines)-1].Text != "end" {
		t.Errorf("wide: truncated %v, %d lines, %d bytes of text; want the newest under %d KB", out.Truncated, len(out.Lines), len(txt), maxResultBytes>>10)
	}
	out, _ = callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "many", "pattern": "^2999$", "context_lines": 1})
	if out.Truncated || len(out.Lines) != 3 {
		t.Errorf("a small selection of a big run: %d lines, truncated %v", len(out.Lines), out.Truncated)
	}
}

// Clients show the model either the text or the JSON of the structured
// result; both carry the same lines, and the JSON is at most 1.3x the text.
func TestStructuredResultIsCompact(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, bigRuns), Options{})
	b.waitRunning("many", "^3000$", 20*time.Second)
	cs := b.session(nil)
	for _, args := range []map[string]any{
		{"process": "many"},
		{"process": "many", "tail": 3000},
		{"process": "many", "pattern": "7", "context_lines": 1},
	} {
		res := call(t, cs, "search_logs", args)
		data, _ := json.Marshal(res.StructuredContent)
		txt := text(res)
		t.Logf("%v: text %d bytes, JSON %d bytes (%.2fx)", args, len(txt), len(data), float64(len(data))/float64(len(txt)))
		if float64(len(data)) > 1.3*float64(len(txt)) {
			t.Errorf("%v: JSON %d bytes is more than 1.3x the text's %d", args, len(data), len(txt))
		}
		out := decode[api.SearchOutput](t, res)
		for _, l := range out.Lines {
			var b strings.Builder
			writeLine(&b, l)
			if !strings.Contains(txt, b.String()) {
				t.Fatalf("%v: line %+v is not in the text", args, l)
			}
		}
	}
}
