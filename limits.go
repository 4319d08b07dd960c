package main

import (
	"fmt"
	"os"

	"bpm/actors/osproc"
	"bpm/config"
)

// prepareLimits readies the cgroups that the processes' [limits] use; a
// cpu_percent this host cannot apply is a config error (exit 2).
func prepareLimits(cfg *config.Config) (*osproc.Cgroups, int) {
	cgroups, problems := osproc.Prepare(cfg)
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "bpm:", p)
	}
	if len(problems) > 0 {
		return nil, 2
	}
	return cgroups, 0
}
