package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/api"
	"bpm/testkit"
)

// stormConfig is one shape of the storm's project: slot a under one of two
// names, b always, and c (which may depend on a) present or not.
type stormConfig struct {
	aName    string
	withC    bool
	cNeedsA  bool
	aWindow  int
	marks    [3]string
	restWind int
}

func (c stormConfig) doc() string {
	doc := stubborn(c.aName, c.marks[0], c.aWindow) + stubborn("b", c.marks[1], c.restWind)
	if c.withC {
		cDoc := stubborn("c", c.marks[2], c.restWind)
		if c.cNeedsA {
			cDoc = strings.Replace(cDoc, "type = ", "depends_on = [\""+c.aName+"\"]\ntype = ", 1)
		}
		doc += cDoc
	}
	return doc
}

// stormSeed is BPM_STORM_SEED, or a fixed seed so that CI runs the same
// sequence of calls every time.
func stormSeed(t *testing.T) uint64 {
	if s := os.Getenv("BPM_STORM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("BPM_STORM_SEED=%q: want an unsigned integer", s)
		}
		return n
	}
	return 16
}

// A minute of several clients mixing reloads that rename a process (one
// that ignores SIGTERM) or add and remove another, with restarts, stops,
// starts and status calls, by name, by stale name and with "all": bpm never
// panics, answers every call, never runs a process twice, and afterwards
// runs each configured process once and stops cleanly.
func TestStormOfRenamesRestartsStopsAndStarts(t *testing.T) {
	t.Parallel()
	seed := stormSeed(t)
	length := time.Minute
	if s := os.Getenv("BPM_STORM_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("BPM_STORM_SECONDS=%q: want a whole number of seconds", s)
		}
		length = time.Duration(n) * time.Second
	}
	t.Logf("storm seed %d (BPM_STORM_SEED=%d to run the same calls again), %s", seed, seed, length)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("storm failed with seed %d: BPM_STORM_SEED=%d go test -run TestStorm .", seed, seed)
		}
	})

	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	marks := [3]string{"bpm-storm-a-" + nonce, "bpm-storm-b-" + nonce, "bpm-storm-c-" + nonce}
	copyWatch(t, marks[:]...)
	dir := t.TempDir()
	file := filepath.Join(dir, ".mcp-run")
	first := stormConfig{aName: "a1", withC: true, aWindow: 2, restWind: 1, marks: marks}
	writeAtomically(t, file, first.doc())
	port := strconv.Itoa(testkit.FreePort(t))
	b := startBPM(t, "--port", port, dir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bpm's log:\n%s", b.stderr)
		}
	})
	waitRunning(t, connectMCP(t, port), "a1", "b", "c")

	const clients = 4
	var calls, toolErrors atomic.Int64
	errs := make(chan error, clients)
	end := time.Now().Add(length)
	for i := range clients {
		cs := connectMCP(t, port)
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		go func() {
			errs <- stormClient(rng, cs, file, first, end, &calls, &toolErrors)
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Errorf("a client: %v", err)
		}
	}
	noBug(t, b)
	if t.Failed() {
		return
	}
	t.Logf("%d calls answered (%d of them tool errors)", calls.Load(), toolErrors.Load())

	// Calm: the last config, everything started, each process runs once.
	cs := connectMCP(t, port)
	writeAtomically(t, file, first.doc())
	if text, isErr := callToolResult(t, cs, "reload_config", map[string]any{}); isErr {
		t.Fatalf("reload_config after the storm: %s", text)
	}
	var st map[string]api.ProcessStatus
	testkit.WaitFor(t, 90*time.Second, "a1, b and c running after start all", func() bool {
		callToolResult(t, cs, "start", map[string]any{"process": "all"})
		st = statusOf(t, cs)
		return st["a1"].State == "running" && st["b"].State == "running" && st["c"].State == "running"
	})
	if _, ok := st["a2"]; ok {
		t.Errorf("a2 is still listed: %+v", st["a2"])
	}
	testkit.WaitFor(t, 30*time.Second, "one run of each process", func() bool {
		for i, name := range []string{"a1", "b", "c"} {
			if pids := withMarker(marks[i]); len(pids) != 1 || pids[0] != st[name].PID {
				return false
			}
		}
		return true
	})
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t, time.Minute); code != 0 {
		t.Errorf("bpm exited %d on SIGTERM", code)
	}
	noBug(t, b)
	for _, m := range marks {
		if pids := withMarker(m); len(pids) > 0 {
			t.Errorf("left running after bpm stopped: %v", pids)
		}
	}
}

// stormClient makes random calls until end; an error is a call that was
// not answered (a tool error is an answer).
func stormClient(rng *rand.Rand, cs *sdk.ClientSession, file string, cfg stormConfig, end time.Time, calls, toolErrors *atomic.Int64) error {
	names := []string{"a1", "a2", "b", "c", "all"}
	for time.Now().Before(end) {
		var name string
		args := map[string]any{}
		switch r := rng.IntN(100); {
		case r < 20:
			cfg.aName = []string{"a1", "a2"}[rng.IntN(2)]
			cfg.withC = rng.IntN(3) > 0
			cfg.cNeedsA = rng.IntN(2) == 0
			if err := writeFile(file, cfg.doc()); err != nil {
				return err
			}
			name = "reload_config"
		case r < 40:
			name = "restart"
			args["process"] = names[rng.IntN(len(names))]
		case r < 55:
			name = "stop"
			args["process"] = names[rng.IntN(len(names))]
		case r < 75:
			name = "start"
			args["process"] = names[rng.IntN(len(names))]
		default:
			name = "get_status"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
		cancel()
		if err != nil {
			return fmt.Errorf("%s %v was not answered: %w", name, args, err)
		}
		calls.Add(1)
		if res.IsError {
			toolErrors.Add(1)
		}
	}
	return nil
}

// writeFile replaces file with doc in one rename (writeAtomically for a
// goroutine that is not the test's).
func writeFile(file, doc string) error {
	tmp := fmt.Sprintf("%s.tmp%d-%d", file, os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
