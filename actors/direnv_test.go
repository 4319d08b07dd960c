package actors

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"bpm/testkit"
)

// isolateDirenv points direnv's allow list at a fresh directory, so a test
// neither sees nor changes the user's.
func isolateDirenv(t *testing.T) {
	t.Helper()
	testkit.Need(t, "direnv")
	home := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
}

const envrcProject = `
[process.app]
type = "command"
command = ["sh", "-c", "echo echo=$FROM_ENVRC; exec sleep 1000"]
`

func TestEnvrcVariableReachesTheChild(t *testing.T) {
	isolateDirenv(t)
	dir := testkit.NewProject(t, envrcProject)
	if err := os.WriteFile(filepath.Join(dir, ".envrc"), []byte("export FROM_ENVRC=hello-from-envrc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("direnv", "allow", dir).CombinedOutput(); err != nil {
		t.Fatalf("direnv allow: %v\n%s", err, out)
	}
	h := startHarness(t, dir, nil)
	if !h.cfg.Envrc {
		t.Fatal("config did not see the .envrc")
	}
	h.waitState("app", StateRunning, 20*time.Second)
	testkit.WaitFor(t, 5*time.Second, "the .envrc variable in the child's output", func() bool {
		return h.logHas("app", KindRun, `^echo=hello-from-envrc$`)
	})
}

func TestBlockedEnvrcFailsTheRunWithDirenvsMessage(t *testing.T) {
	isolateDirenv(t)
	dir := testkit.NewProject(t, envrcProject)
	if err := os.WriteFile(filepath.Join(dir, ".envrc"), []byte("export FROM_ENVRC=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, dir, nil)
	testkit.WaitFor(t, 20*time.Second, "the run to fail", func() bool {
		return h.proc("app").Crashes > 0
	})
	testkit.WaitFor(t, 5*time.Second, "direnv's message in the run log", func() bool {
		return h.logHas("app", KindRun, `is blocked`)
	})
	if h.logHas("app", KindRun, `^echo=`) {
		t.Error("the command ran although the .envrc is blocked")
	}
}
