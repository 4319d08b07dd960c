package actors

import (
	"os"
	"testing"
)

// TestMain lets this test binary stand in for bpm as the socket hand-off
// launcher and as the guard, as Start runs them from its own executable.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ListenExecArg {
		os.Exit(ListenExec(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == GuardArg {
		os.Exit(RunGuard(os.Stdin))
	}
	os.Exit(m.Run())
}
