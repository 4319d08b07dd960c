package osproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// probeOutputMax bounds the output an exec probe keeps for its error.
const probeOutputMax = 4 << 10

// probeWaitDelay bounds how long an exec probe whose leader exited waits for
// a descendant that still holds its output pipe; its group is killed after.
const probeWaitDelay = 100 * time.Millisecond

// ErrOtherRun marks a probe that another run of the process answered (on
// the shared `listen` socket, during a hand-off): it neither passes nor fails.
var ErrOtherRun = errors.New("accepted by another run on the shared socket")

// HealthDialer connects a probe; with an Owner (a run with `listen`, probed
// on the shared socket's port) the connection counts only once the owner's
// process tree has accepted it, as for ready checks (sockowner.go).
type HealthDialer struct{ Owner int }

func (d HealthDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil || d.Owner == 0 {
		return c, err
	}
	within := time.Second
	if dl, ok := ctx.Deadline(); ok {
		within = time.Until(dl)
	}
	switch acceptOwner(ctx, c, d.Owner, within) {
	case acceptedByTree:
		return c, nil
	case acceptedByOther:
		c.Close()
		return nil, ErrOtherRun
	default:
		c.Close()
		return nil, fmt.Errorf("connection not accepted by pid %d", d.Owner)
	}
}

// Client makes every http probe on a fresh connection and never through a
// proxy: it must reach the run's own socket.
func (d HealthDialer) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: d.dial}}
}

// ProbeHTTP passes when a GET of rawURL answers 2xx within timeout.
func ProbeHTTP(ctx context.Context, client *http.Client, rawURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, ErrOtherRun) {
			return ErrOtherRun
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("GET %s: no answer within %s", rawURL, timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
	return nil
}

// ProbeTCP passes when a connection to addr is accepted within timeout.
func ProbeTCP(ctx context.Context, d HealthDialer, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.dial(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, ErrOtherRun) {
			return ErrOtherRun
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("tcp %s: no connection within %s", addr, timeout)
		}
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return fmt.Errorf("tcp %s: %w", addr, err)
	}
	c.Close()
	return nil
}

// ProbeExec passes when argv exits 0 within timeout. It runs in dir with
// env, in its own process group (registered with guard, and dying with
// bpm), which is killed when the probe ends with every descendant of the
// probe (Guard.Release), so nothing it started lives on.
func ProbeExec(ctx context.Context, argv []string, dir string, env []string, timeout time.Duration, guard *Guard) error {
	name := "exec " + quoteArgv(argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	if env == nil {
		env = os.Environ()
	}
	token := NewToken()
	cmd.Dir, cmd.Env = dir, append(env[:len(env):len(env)], TokenEnv+"="+token)
	out := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = probeWaitDelay
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	pid := cmd.Process.Pid
	guard.Add(pid, token)
	defer guard.Remove(pid)
	defer SignalGroup(pid, syscall.SIGKILL)
	defer guard.Release(pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, exec.ErrWaitDelay) {
			return nil
		}
		return fmt.Errorf("%s: %s%s", name, ExitFrom(cmd.ProcessState, err), out.lastLine())
	case <-t.C:
		_ = SignalGroup(pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s: no exit within %s, killed%s", name, timeout, out.lastLine())
	case <-ctx.Done():
		_ = SignalGroup(pid, syscall.SIGKILL)
		<-done
		return ctx.Err()
	}
}

// quoteArgv shows argv as a shell would read it: `sh -c "test -e x"`.
func quoteArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`") {
			parts[i] = strconv.Quote(a)
		}
	}
	return strings.Join(parts, " ")
}

// tailBuffer keeps the last probeOutputMax bytes written to it. exec.Cmd
// writes it from one goroutine, and Wait returns after that one is done.
type tailBuffer struct{ b []byte }

// Write keeps the tail of p.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - probeOutputMax; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

// lastLine is ": LINE" for the last non-empty output line (at most 200
// bytes), or "" when there was none.
func (t *tailBuffer) lastLine() string {
	lines := bytes.Split(bytes.TrimSpace(t.b), []byte("\n"))
	last := strings.ToValidUTF8(string(bytes.TrimSpace(lines[len(lines)-1])), "?")
	if last == "" {
		return ""
	}
	if len(last) > 200 {
		last = strings.ToValidUTF8(last[:200], "") + "…"
	}
	return ": " + last
}
