package actors

import (
	"flag"
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
	flag.Parse()
	if !flagGiven("test.parallel") {
		// Most of these tests wait (on backoffs, timeouts, children that
		// sleep) rather than compute: four at a time instead of one per core
		// keep the package's wall time down on a 2-core machine. -parallel
		// given on the command line wins.
		flag.Set("test.parallel", "4")
	}
	os.Exit(m.Run())
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
