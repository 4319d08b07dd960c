package osproc

import (
	"os"
	"testing"
)

// TestMain lets this test binary stand in for bpm as the guard, where the
// guard tests start it as bpm starts itself when no shell can run the
// guard script, and as the launcher.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ListenExecArg {
		os.Exit(ListenExec(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == GuardArg {
		os.Exit(RunGuard(os.Stdin))
	}
	os.Exit(m.Run())
}
