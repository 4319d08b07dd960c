package export

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"bpm/testkit"
)

// startProbe runs the ExecStartPost= command of the process "web" of
// mcpRun, as systemd would, and returns the channel its exit arrives on.
func startProbe(t *testing.T, mcpRun string) <-chan error {
	t.Helper()
	_, units := exportSystemd(t, mcpRun, nil)
	argv, err := testkit.ExecArgv(units["shop-web.service"].Last("Service.ExecStartPost"))
	if err != nil || len(argv) == 0 {
		t.Fatalf("ExecStartPost: %q, %v", argv, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return done
}

// stillWaiting fails the test if the probe ends within a moment.
func stillWaiting(t *testing.T, done <-chan error, why string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("the probe ended (%v) %s", err, why)
	case <-time.After(600 * time.Millisecond):
	}
}

// passes waits for the probe to end with status 0.
func passes(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the probe failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the probe did not end within 10s of the app being ready")
	}
}

// The http probe, run as systemd runs it, waits through refused
// connections and non-2xx answers and ends once the app answers 2xx.
func TestHTTPReadyProbeWaitsFor2xx(t *testing.T) {
	testkit.Need(t, "curl")
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	done := startProbe(t, "[process.web]\ntype = \"command\"\ncommand = [\"sleep\", \"1\"]\n"+
		"[process.web.ready]\nhttp = \"http://"+addr+"/health?probe=1\"\n")
	stillWaiting(t, done, "while nothing listened")

	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	var asked atomic.Int32
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && r.URL.RawQuery == "probe=1" {
			asked.Add(1)
		}
		w.WriteHeader(int(status.Load()))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	testkit.WaitFor(t, 10*time.Second, "the probe to ask /health?probe=1", func() bool { return asked.Load() > 0 })
	stillWaiting(t, done, "on 503")
	status.Store(http.StatusNoContent)
	passes(t, done)
}

// The tcp probe (bash's /dev/tcp) waits until the address accepts.
func TestTCPReadyProbeWaitsForAConnection(t *testing.T) {
	testkit.Need(t, "bash")
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	done := startProbe(t, "[process.web]\ntype = \"command\"\ncommand = [\"sleep\", \"1\"]\n"+
		"[process.web.ready]\ntcp = \""+addr+"\"\n")
	stillWaiting(t, done, "while nothing listened")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	passes(t, done)
}
