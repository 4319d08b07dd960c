package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/api"
	"bpm/testkit"
)

// waitRunning waits until every named process runs, and returns the status.
func waitRunning(t *testing.T, cs *sdk.ClientSession, names ...string) map[string]api.ProcessStatus {
	t.Helper()
	var st map[string]api.ProcessStatus
	testkit.WaitFor(t, 30*time.Second, "running: "+strings.Join(names, ", "), func() bool {
		st = statusOf(t, cs)
		for _, n := range names {
			if st[n].State != "running" {
				return false
			}
		}
		return true
	})
	return st
}

func shProcess(name, text string) string {
	return "[process." + name + "]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"echo " + text + "; exec sleep 1000\"]\n\n"
}

func TestSIGHUPReloadsTheConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, ".mcp-run")
	write := func(doc string) {
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(shProcess("keep", "keep-v1") + shProcess("change", "change-v1") + shProcess("drop", "drop-v1"))
	port := strconv.Itoa(testkit.FreePort(t))
	b := startBPM(t, "--port", port, dir)
	cs := connectMCP(t, port)
	before := waitRunning(t, cs, "keep", "change", "drop")

	write(shProcess("keep", "keep-v1") + shProcess("change", "change-v2") + shProcess("add", "add-v1"))
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	b.waitOutput(t, `\[add\] add-v1`, 20*time.Second)
	b.waitOutput(t, `\[change\] change-v2`, 20*time.Second)
	after := waitRunning(t, cs, "keep", "change", "add")
	if _, ok := after["drop"]; ok {
		t.Errorf("drop is still in get_status: %+v", after["drop"])
	}
	testkit.WaitFor(t, 10*time.Second, "drop's run gone", func() bool { return !testkit.Alive(before["drop"].PID) })
	if after["keep"].PID != before["keep"].PID {
		t.Errorf("unchanged keep was restarted: pid %d → %d", before["keep"].PID, after["keep"].PID)
	}
	if after["change"].PID == before["change"].PID {
		t.Errorf("changed process kept pid %d", before["change"].PID)
	}
	if !strings.Contains(b.stderr.String(), "SIGHUP: config reloaded") {
		t.Errorf("no reload message in bpm's log:\n%s", b.stderr)
	}

	// A bad file changes nothing, and says where it is wrong.
	write(shProcess("keep", "keep-v1") + "[process.change]\ntype = \"ruby\"\n")
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the refusal in bpm's log", func() bool {
		return strings.Contains(b.stderr.String(), "config not reloaded") && strings.Contains(b.stderr.String(), ".mcp-run:6: process.change.type")
	})
	now := waitRunning(t, cs, "keep", "change", "add")
	for _, n := range []string{"keep", "change", "add"} {
		if now[n].PID != after[n].PID {
			t.Errorf("bad reload touched %s: pid %d → %d", n, after[n].PID, now[n].PID)
		}
	}

	// The tool says the same, and after an addition the process parameter
	// lists the new name.
	text, isErr := callToolResult(t, cs, "reload_config", map[string]any{})
	if !isErr || !strings.Contains(text, ".mcp-run:6: process.change.type") || !strings.Contains(text, "nothing was changed") {
		t.Errorf("reload_config with a bad file: isError %v, text %q", isErr, text)
	}
	write(shProcess("keep", "keep-v1") + shProcess("change", "change-v2") + shProcess("add", "add-v1") + shProcess("extra", "extra-v1"))
	text, isErr = callToolResult(t, cs, "reload_config", map[string]any{})
	if isErr || !strings.Contains(text, "added (starting): extra") || !strings.Contains(text, "unchanged: keep, change, add") {
		t.Errorf("reload_config: isError %v, text %q", isErr, text)
	}
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		if tool.Name != "stop" {
			continue
		}
		raw, _ := json.Marshal(tool.InputSchema)
		if !strings.Contains(string(raw), `"extra"`) || strings.Contains(string(raw), `"drop"`) {
			t.Errorf("stop's process enum after the reload: %s", raw)
		}
	}
	waitRunning(t, cs, "extra")
}

// callToolResult calls a tool and returns its text and whether it is a tool error.
func callToolResult(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, ""), res.IsError
}
