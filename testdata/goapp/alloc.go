package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// allocChunk is how much alloc takes at a time, so that an address-space
// limit is met by a failed allocation and a memory limit by touched pages.
const allocChunk = 16 << 20

// held keeps what alloc took reachable for as long as goapp runs.
var held [][]byte

// alloc takes and touches FIXTURE_ALLOC_MB MiB, 16 MiB at a time, printing
// "alloc <N> MiB" after each chunk and "allocated <N> MiB" at the end. A
// limit met on the way ends goapp as the Go runtime ends any program then.
func alloc() {
	v, ok := os.LookupEnv("FIXTURE_ALLOC_MB")
	if !ok {
		return
	}
	mb, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || mb <= 0 {
		fail("FIXTURE_ALLOC_MB=%q is not a positive number of MiB", v)
	}
	for done := 0; done < mb<<20; done += allocChunk {
		b := make([]byte, allocChunk)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		held = append(held, b)
		fmt.Printf("alloc %d MiB\n", (done+allocChunk)>>20)
	}
	fmt.Printf("allocated %d MiB\n", mb)
}
