package osproc

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bpm/config"
	"bpm/testkit"
)

// statusServer answers GET /NNN with status NNN, and /slow after 2 s.
func statusServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProbeHTTPPassesOn2xxOnly(t *testing.T) {
	srv := statusServer(t)
	client := HealthDialer{}.Client()
	for _, tc := range []struct {
		path, err string
	}{
		{"/200", ""},
		{"/204", ""},
		{"/500", "GET " + srv.URL + "/500: 500 Internal Server Error"},
		{"/301", "GET " + srv.URL + "/301: 301 Moved Permanently"},
		{"/slow", "GET " + srv.URL + "/slow: no answer within 200ms"},
	} {
		t.Run(tc.path[1:], func(t *testing.T) {
			err := ProbeHTTP(context.Background(), client, srv.URL+tc.path, 200*time.Millisecond)
			if got := errText(err); got != tc.err {
				t.Errorf("got %q, want %q", got, tc.err)
			}
		})
	}
}

func TestProbeTCPPassesOnceAConnectionIsAccepted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := ProbeTCP(context.Background(), HealthDialer{}, l.Addr().String(), time.Second); err != nil {
		t.Errorf("a listening port: %v", err)
	}
	closed := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	err = ProbeTCP(context.Background(), HealthDialer{}, closed, time.Second)
	if want := "tcp " + closed + ": connect: connection refused"; errText(err) != want {
		t.Errorf("a closed port: %q, want %q", errText(err), want)
	}
}

// An exec probe fails with its exit and last output line, and one that
// hangs is killed at its timeout with everything it started.
func TestProbeExecSaysWhyAndKillsWhatItStarted(t *testing.T) {
	dir := t.TempDir()
	fail := []string{"sh", "-c", "echo first; echo last line >&2; exit 4"}
	err := ProbeExec(context.Background(), fail, dir, nil, 5*time.Second, nil)
	if want := `exec sh -c "echo first; echo last line >&2; exit 4": exit code 4: last line`; errText(err) != want {
		t.Errorf("failing probe: %q, want %q", errText(err), want)
	}
	if err := ProbeExec(context.Background(), []string{"true"}, dir, nil, 5*time.Second, nil); err != nil {
		t.Errorf("passing probe: %v", err)
	}
	pidFile := filepath.Join(dir, "pid")
	hang := []string{"sh", "-c", "sleep 1000 & echo $! > pid; wait"}
	start := time.Now()
	err = ProbeExec(context.Background(), hang, dir, nil, 300*time.Millisecond, nil)
	if want := `exec sh -c "sleep 1000 & echo $! > pid; wait": no exit within 300ms, killed`; errText(err) != want {
		t.Errorf("hanging probe: %q, want %q", errText(err), want)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the hanging probe took %s to end, want about its 300ms timeout", took)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	testkit.WaitFor(t, 10*time.Second, "the probe's background child to be killed", func() bool { return !testkit.Alive(child) })
}

func TestReadyProbeOncePassesOn2xxOrAConnection(t *testing.T) {
	srv := statusServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	closed := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	for _, tc := range []struct {
		name string
		rc   config.Ready
		want bool
	}{
		{"http 200", config.Ready{HTTP: srv.URL + "/200"}, true},
		{"http 503", config.Ready{HTTP: srv.URL + "/503"}, false},
		{"http closed", config.Ready{HTTP: "http://" + closed + "/"}, false},
		{"tcp open", config.Ready{TCP: host}, true},
		{"tcp closed", config.Ready{TCP: closed}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewReadyProbe(&tc.rc, 0).Once(context.Background()); got != tc.want {
				t.Errorf("Once = %v, want %v", got, tc.want)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
