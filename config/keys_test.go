package config

import (
	"strings"
	"testing"
)

func TestScanKeysLines(t *testing.T) {
	doc := `# comment
mcp_port = 1
process.a.type = "go"

[process.b]
type = "npm"
command = [
  "npm",
  "start",
]
ready = { log = "x", timeout_seconds = 1 }

[process.b.env]
"QUOTED.KEY" = "v"

[process.c.ready]
tcp = ":80"
`
	x, err := scanKeys([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		line int
	}{
		{"mcp_port", 2},
		{"process", 3},
		{"process.a", 3},
		{"process.a.type", 3},
		{"process.b", 5},
		{"process.b.command", 7},
		{"process.b.ready", 11},
		{"process.b.ready.timeout_seconds", 11},
		{"process.b.env", 13},
		{"process.c", 16},
		{"process.c.ready.tcp", 17},
		{"process.nope", 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := x.line(strings.Split(tt.path, ".")...); got != tt.line {
				t.Errorf("line = %d, want %d", got, tt.line)
			}
		})
	}
	if got := x.line("process", "b", "env", "QUOTED.KEY"); got != 14 {
		t.Errorf("quoted key with a dot: line = %d, want 14", got)
	}
}

func TestScanKeysSyntaxError(t *testing.T) {
	x, err := scanKeys([]byte("a = 1\nb = = 2\n"))
	if err == nil {
		t.Fatal("no error for a syntax error")
	}
	if got := x.line("a"); got != 1 {
		t.Errorf("keys before the error: line(a) = %d, want 1", got)
	}
}
