package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

// dependencyDownCode is the exit code when FIXTURE_REQUIRE_TCP refuses.
const dependencyDownCode = 5

// requireTCP connects to FIXTURE_REQUIRE_TCP, if set, and exits 5 when
// nothing accepts there: an app that cannot start without its database.
func requireTCP() {
	addr, ok := os.LookupEnv("FIXTURE_REQUIRE_TCP")
	if !ok {
		return
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "goapp error: dependency %s is down: %v\n", addr, err)
		os.Exit(dependencyDownCode)
	}
	c.Close()
	fmt.Printf("goapp dependency %s is up\n", addr)
}
