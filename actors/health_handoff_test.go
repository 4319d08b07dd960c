package actors

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bpm/testkit"
)

func TestHealthProbesFollowTheListenHandoff(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	dir, port := goappProject(t, bin, `http = "http://127.0.0.1:PORT/"`, 20, 1, "FIXTURE_HEALTH_FILE=health")
	appendHealth(t, dir, fmt.Sprintf("http = \"http://127.0.0.1:%d/health\"\ninterval_seconds = 0.1\nfailures = 2", port))
	h := startHarness(t, dir, nil)
	old := h.waitState("app", StateRunning, 30*time.Second)
	r := h.restart("app")
	if r.Err != nil || r.PID == old.PID {
		t.Fatalf("restart: %+v", r)
	}
	healthy := func() int {
		return h.search("app", SearchRequest{Kind: KindRun, Pattern: `^health 200$`, Index: -1}).Matches
	}
	testkit.WaitFor(t, 10*time.Second, "the new run probed", func() bool { return healthy() >= 3 })

	testkit.WriteFile(t, filepath.Join(dir, "health"), "fail")
	var st ProcessStatus
	testkit.WaitFor(t, 10*time.Second, "event health_failed", func() bool {
		st = h.proc("app")
		return eventMessage(st, "health_failed") != ""
	})
	if got := eventMessage(st, "health_failed"); !strings.HasPrefix(got, fmt.Sprintf("pid %d: 2 probes failed in a row: ", r.PID)) {
		t.Errorf("health_failed = %q, want it about the new run %d", got, r.PID)
	}
}

// Regression: during a hand-off both runs accept on the shared socket, so
// the old run's probes may reach the new run; a new run failing them must
// not get the serving old run killed.
func TestHealthFailureOfStartingNewRunDoesNotKillOldRun(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	// Only a run with FIXTURE_ECHO=ready becomes ready.
	dir, port := goappProject(t, bin, `log = "^echo=ready$"`, 5, 1, "FIXTURE_HEALTH_FILE=health", "FIXTURE_ECHO=ready")
	appendHealth(t, dir, fmt.Sprintf("http = \"http://127.0.0.1:%d/health\"\ninterval_seconds = 0.05\nfailures = 1", port))
	testkit.WriteFile(t, filepath.Join(dir, "bad"), "fail")
	h := startHarness(t, dir, nil)
	old := h.waitState("app", StateRunning, 30*time.Second)

	setNext(t, dir, bin, "FIXTURE_HEALTH_FILE=bad")
	// The test's own requests show that the new run took connections
	// during the hand-off, as bpm's probes would have.
	stop, answers := make(chan struct{}), make(chan int, 1)
	go func() {
		bad := 0
		for {
			select {
			case <-stop:
				answers <- bad
				return
			case <-time.After(20 * time.Millisecond):
			}
			if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port)); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusInternalServerError {
					bad++
				}
			}
		}
	}()
	r := h.restart("app")
	close(stop)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "rolled back") {
		t.Fatalf("restart: %+v, want a rollback (the new run is never ready)", r)
	}
	if bad := <-answers; bad == 0 {
		t.Fatalf("the new run answered none of the test's requests during the hand-off; the test proves nothing")
	}
	// The old run is still probed after the rollback, and stays up.
	probed := func() int {
		return h.search("app", SearchRequest{Kind: KindRun, Pattern: `^health 200$`, Index: -2}).Matches
	}
	n := probed()
	var st ProcessStatus
	testkit.WaitFor(t, 10*time.Second, "the old run probed again, or a crash", func() bool {
		st = h.proc("app")
		return st.Crashes > 0 || probed() >= n+10
	})
	if st.PID != old.PID || st.State != StateRunning || st.Crashes != 0 || eventMessage(st, "health_failed") != "" {
		t.Errorf("pid %d (old %d) state %s crashes %d health_failed %q: want the old run serving untouched",
			st.PID, old.PID, st.State, st.Crashes, eventMessage(st, "health_failed"))
	}
}

// appendHealth adds a [process.app.health] table with lines to dir's config.
func appendHealth(t *testing.T, dir, lines string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, ".mcp-run"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "\n[process.app.health]\n%s\n", lines); err != nil {
		t.Fatal(err)
	}
}
