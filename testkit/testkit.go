// Package testkit holds what bpm's tests in several packages share: fixture
// projects on disk, free loopback ports, polling with a deadline, and looks
// at live processes. It is imported only by tests.
package testkit

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RepoPath is the absolute path of rel, relative to the repository root.
func RepoPath(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", rel)
}

// CopyDir copies the repository directory rel (a fixture or an example)
// into dst, leaving out build output (target, node_modules, .bpm).
func CopyDir(t testing.TB, rel, dst string) {
	t.Helper()
	src := RepoPath(rel)
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		name := info.Name()
		if info.IsDir() && (name == "target" || name == "node_modules" || name == ".bpm") {
			return filepath.SkipDir
		}
		r, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, r)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", rel, err)
	}
}

// NewProject returns a new temp dir whose .mcp-run is mcpRun.
func NewProject(t testing.TB, mcpRun string) string {
	t.Helper()
	dir := t.TempDir()
	WriteFile(t, filepath.Join(dir, ".mcp-run"), mcpRun)
	return dir
}

// WriteFile writes content to path or fails the test.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Need skips the test when a tool is missing outside CI, and fails it in CI,
// where .ci/run installs every tool the tests use.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI: %v", tool, err)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// FreePort returns a loopback port nobody listens on right now, for a
// server the test starts next. It is drawn at random below the kernel's
// ephemeral range: a port from that range (what port 0 gives) can be taken
// by any outgoing connection of a test running beside this one before the
// server binds it.
func FreePort(t testing.TB) int {
	t.Helper()
	low, high := 20000, ephemeralStart()-1
	for range 200 {
		port := low + rand.IntN(high-low+1)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			l.Close()
			return port
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ephemeralStart is the first port of the kernel's ephemeral range (Linux's
// default where it cannot be read).
func ephemeralStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 21000 {
				return n
			}
		}
	}
	return 32768
}

// WaitFor polls cond every 20 ms until it holds, failing the test after within.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

// Get fetches url and returns the body, or "" when the request failed.
func Get(url string) string {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// Alive reports whether pid is a live process (a zombie is not).
func Alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// ChildrenWithArg lists the live children of ppid that have arg among their
// command-line arguments.
func ChildrenWithArg(ppid int, arg string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(ppid) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if slices.Contains(strings.Split(string(cmdline), "\x00"), arg) && Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// BuildFixture builds the Go fixture testdata/NAME (a module of its own)
// into a temp dir of t and returns the executable.
func BuildFixture(t testing.TB, name string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", exe, ".")
	cmd.Dir = RepoPath(filepath.Join("testdata", name))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building fixture %s: %v\n%s", name, err, out)
	}
	return exe
}
