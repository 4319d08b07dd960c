// Command goapp is bpm's Go test fixture: no dependencies, behaviour chosen by
// environment variables (see testdata/README.md). On SIGTERM it shuts its HTTP
// server down gracefully (in-flight requests finish) and exits 0.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	exitAfterCode   = 3 // FIXTURE_EXIT_AFTER_MS elapsed
	setupFailedCode = 4 // bad FIXTURE_* value, unusable listener or child
)

func main() {
	pid := os.Getpid()
	fmt.Printf("goapp started pid=%d mode=%s\n", pid, mode())
	fmt.Fprintln(os.Stderr, "goapp stderr hello")
	if v, ok := os.LookupEnv("FIXTURE_ECHO"); ok {
		fmt.Printf("echo=%s\n", v)
	}
	requireTCP()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()

	if !acceptDelay(ctx) {
		fmt.Println("goapp SIGTERM: shutting down")
		fmt.Println("goapp stopped")
		return
	}
	var srv *http.Server
	var served <-chan struct{}
	ln := listener(pid)
	d := &drainer{}
	if ln != nil {
		srv, served = serve(ln, d, pid, envMs("FIXTURE_DELAY_MS"))
	}
	if os.Getenv("FIXTURE_SPAWN_CHILD") == "1" {
		spawnChild()
	}
	alloc()
	if d := envMs("FIXTURE_TICK_MS"); d > 0 {
		go tick(d)
	}
	var exitAfter <-chan time.Time
	if d := envMs("FIXTURE_EXIT_AFTER_MS"); d > 0 {
		exitAfter = time.After(d)
	}

	select {
	case <-exitAfter:
		fmt.Printf("goapp exiting code=%d\n", exitAfterCode)
		os.Exit(exitAfterCode)
	case <-ctx.Done():
	}
	fmt.Println("goapp SIGTERM: shutting down")
	if srv != nil {
		if err := d.stop(srv, ln, served, 10*time.Second); err != nil {
			fail("shutdown: %v", err)
		}
	}
	fmt.Println("goapp stopped")
}

// mode reports "release" for a -trimpath build (bpm's release build) and "debug" otherwise.
func mode() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-trimpath" && s.Value == "true" {
				return "release"
			}
		}
	}
	return "debug"
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "goapp: "+format+"\n", args...)
	os.Exit(setupFailedCode)
}

func envMs(key string) time.Duration {
	v, ok := os.LookupEnv(key)
	if !ok {
		return 0
	}
	ms, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || ms <= 0 {
		fail("%s=%q is not a positive number of milliseconds", key, v)
	}
	return time.Duration(ms) * time.Millisecond
}

// acceptDelay waits FIXTURE_ACCEPT_AFTER_MS before the listener is taken,
// leaving fd 3 untouched meanwhile; false when SIGTERM came first.
func acceptDelay(ctx context.Context) bool {
	d := envMs("FIXTURE_ACCEPT_AFTER_MS")
	if d == 0 {
		return true
	}
	fmt.Printf("goapp accepting after %s\n", d)
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// listener takes the inherited fd 3 when LISTEN_FDS=1 (systemd socket activation),
// else binds FIXTURE_LISTEN, else returns nil.
func listener(pid int) net.Listener {
	if os.Getenv("LISTEN_FDS") == "1" {
		// systemd semantics: the fds are meant for LISTEN_PID only.
		if p, ok := os.LookupEnv("LISTEN_PID"); ok && p != strconv.Itoa(pid) {
			fail("LISTEN_PID=%s is not my pid %d; refusing fd 3", p, pid)
		}
		fmt.Printf("goapp inherited fd 3 LISTEN_PID=%s LISTEN_FDNAMES=%s\n", os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDNAMES"))
		f := os.NewFile(3, "listener")
		ln, err := net.FileListener(f)
		if err != nil {
			fail("inherited fd 3: %v", err)
		}
		f.Close() // FileListener holds its own dup
		return ln
	}
	addr, ok := os.LookupEnv("FIXTURE_LISTEN")
	if !ok {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen %s: %v", addr, err)
	}
	return ln
}

// serve answers every request with 200 and "pid=<pid>\n" after delay.
func serve(ln net.Listener, d *drainer, pid int, delay time.Duration) (*http.Server, <-chan struct{}) {
	body := fmt.Sprintf("pid=%d\n", pid)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, body)
	}), ConnState: d.track}
	srv.Handler = withHealth(srv.Handler)
	fmt.Printf("goapp listening addr=%s\n", ln.Addr())
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			fail("serve: %v", err)
		}
	}()
	return srv, served
}

// spawnChild starts a grandchild in goapp's own process group and leaves it
// running, so tests can check that stopping goapp leaves no descendant behind.
func spawnChild() {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		fail("spawn child: %v", err)
	}
	fmt.Printf("child pid=%d\n", cmd.Process.Pid)
	go cmd.Wait() // reap it if it dies first
}

func tick(d time.Duration) {
	t := time.NewTicker(d)
	for n := 1; ; n++ {
		<-t.C
		fmt.Printf("tick %d\n", n)
	}
}
