package tui

import (
	"errors"
	"regexp"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/api"
)

func TestRetryDelayDoublesFromHalfASecondToFive(t *testing.T) {
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := retryDelay(i + 1); got != w {
			t.Errorf("attempt %d: %s, want %s", i+1, got, w)
		}
	}
	if got := retryDelay(1000); got != retryMax {
		t.Errorf("attempt 1000: %s, want %s", got, retryMax)
	}
}

func TestIconPerState(t *testing.T) {
	for _, tc := range []struct{ state, icon string }{
		{"running", "▶"},
		{"building", "■"}, {"starting", "■"}, {"stopping", "■"}, {"backoff", "■"}, {"", "■"}, {"some_new_state", "■"},
		{"crashed", "✗"}, {"build_failed", "✗"},
		{"crash_loop", "↻"}, {"waiting", "…"}, {"stopped", "□"},
	} {
		if got := icon(tc.state); got != tc.icon {
			t.Errorf("icon(%q) = %s, want %s", tc.state, got, tc.icon)
		}
	}
}

func TestParseArgs(t *testing.T) {
	env := func(token string) func(string) string {
		return func(k string) string {
			if k == "BPM_MCP_TOKEN" {
				return token
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name             string
		args             []string
		env              string
		wantURL, wantTok string
		wantErr          bool
	}{
		{"defaults", nil, "", DefaultURL, "", false},
		{"env token", nil, "fromenv", DefaultURL, "fromenv", false},
		{"flag wins over env", []string{"--token", "flag"}, "fromenv", DefaultURL, "flag", false},
		{"url", []string{"http://127.0.0.1:4000/mcp"}, "", "http://127.0.0.1:4000/mcp", "", false},
		{"flag and url", []string{"-token=x", "http://localhost:1/mcp"}, "", "http://localhost:1/mcp", "x", false},
		{"two urls", []string{"http://a/mcp", "http://b/mcp"}, "", "", "", true},
		{"not http", []string{"127.0.0.1:3001"}, "", "", "", true},
		{"unknown flag", []string{"--port", "1"}, "", "", "", true},
		{"help", []string{"-h"}, "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, tok, err := parseArgs(tc.args, env(tc.env))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if url != tc.wantURL || tok != tc.wantTok {
				t.Errorf("got %q %q, want %q %q", url, tok, tc.wantURL, tc.wantTok)
			}
		})
	}
}

func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {1400 * time.Millisecond, "1s"}, {59 * time.Second, "59s"},
		{192 * time.Second, "3m12s"}, {2*time.Hour + 3*time.Minute, "2h03m"}, {76 * time.Hour, "3d4h"},
	} {
		if got := human(tc.d); got != tc.want {
			t.Errorf("human(%s) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

func TestFormatLinesEscapesTagsAndColoursStderr(t *testing.T) {
	lines := []api.LineOut{
		{N: 1, Text: "a [red]b[-] c"},
		{N: 2, Stderr: true, Text: "oops: [x]"},
	}
	got := formatLines(lines, lineFormat{number: true, re: regexp.MustCompile(`o+`)})
	want := "[gray]    1[-] [-]a [red[]b[-[] c[-:-]\n" +
		"[gray]    2[-] [red][black:yellow]oo[red:-]ps: [x[][-:-]"
	if got != want {
		t.Errorf("formatLines:\n%q\nwant\n%q", got, want)
	}
}

func TestExplainSaysAnOlderBpmLacksATool(t *testing.T) {
	err := explain(errors.New(`calling "tools/call": unknown tool "stop"`))
	if want := `unknown tool "stop": this bpm is older than the console; restart it with a newer bpm`; err.Error() != want {
		t.Errorf("explain: %q, want %q", err, want)
	}
}

func TestResultTextDropsAlerts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[alert] 10:00:00.000 web crashed: exit 1\n[alert] 10:00:01.000 api build failed: x\n\nbuild broken failed\nerror: y\n", "build broken failed\nerror: y"},
		{"stopped web; it stays stopped", "stopped web; it stays stopped"},
		{"a line that mentions [alert] later", "a line that mentions [alert] later"},
	} {
		res := &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: tc.in}}}
		if got := resultText(res); got != tc.want {
			t.Errorf("resultText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
