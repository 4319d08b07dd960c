package actors

import (
	"os"
	"testing"
)

// TestMain lets this test binary stand in for bpm as the socket hand-off
// launcher (Options.Launcher = this binary + ListenExecArg).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ListenExecArg {
		os.Exit(ListenExec(os.Args[2:]))
	}
	os.Exit(m.Run())
}
