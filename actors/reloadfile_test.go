//go:build unix

package actors

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// A FIFO put where .mcp-run was used to hold a reload (and the supervisor,
// which read the file in its Receive) for ever; an oversized file held it
// for minutes. Both are refused at once, and status and the processes are
// untouched.
func TestReloadOfAFIFOOrAnOversizedFileIsRefusedAndControlAnswers(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
command = ["sh", "-c", "echo up; exec sleep 1000"]
`)
	h := startHarness(t, dir, nil)
	pid := h.waitState("app", StateRunning, 30*time.Second).PID
	file := filepath.Join(dir, ".mcp-run")

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(file, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	r, err := Ask[ReloadReply](h.system.Root, h.sup, ReloadRequest{}, 30*time.Second)
	if err != nil || r.Err == nil || !strings.Contains(r.Err.Error(), "not a regular file (a named pipe)") {
		t.Fatalf("reload of a FIFO: %v %v", err, r.Err)
	}
	if st := h.proc("app"); st.State != StateRunning || st.PID != pid {
		t.Errorf("after the refused reload: %s pid %d, want running pid %d", st.State, st.PID, pid)
	}

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	big := "[process.app]\ntype = \"command\"\ncommand = [\"true\"]\n# " + strings.Repeat("x", 300<<10) + "\n"
	testkit.WriteFile(t, file, big)
	r, err = Ask[ReloadReply](h.system.Root, h.sup, ReloadRequest{}, 30*time.Second)
	if err != nil || r.Err == nil || !strings.Contains(r.Err.Error(), "over the limit of 262144") {
		t.Fatalf("reload of %d bytes: %v %v", len(big), err, r.Err)
	}
	if st := h.proc("app"); st.State != StateRunning || st.PID != pid {
		t.Errorf("after the refused reload: %s pid %d, want running pid %d", st.State, st.PID, pid)
	}
}
