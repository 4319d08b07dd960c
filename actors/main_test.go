package actors

import (
	"os"
	"testing"

	"bpm/actors/osproc"
)

// TestMain lets this test binary stand in for bpm as the socket hand-off
// launcher and as the guard, as Start runs them from its own executable.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == osproc.ListenExecArg {
		os.Exit(osproc.ListenExec(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == osproc.GuardArg {
		os.Exit(osproc.RunGuard(os.Stdin))
	}
	os.Exit(m.Run())
}
