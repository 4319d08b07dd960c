package mcp

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bpm/testkit"
)

const (
	initialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	ping        = `{"jsonrpc":"2.0","id":2,"method":"ping"}`
)

// serveHandler serves a handler made with opts, on a real actor tree, and
// returns it with its endpoint's URL.
func serveHandler(t *testing.T, mcpRun string, opts Options) (*Handler, string) {
	t.Helper()
	b := startBPM(t, testkit.NewProject(t, mcpRun), Options{})
	h := NewHandler(b.system.Root, b.sup, opts)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return h, srv.URL + Path
}

// post sends one JSON-RPC message, in session id unless id is empty, and
// returns the status and the session id the answer names.
func post(c *http.Client, url, id, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if id != "" {
		req.Header.Set("Mcp-Session-Id", id)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), nil
}

// openSession initializes a session with raw HTTP and returns its id.
func openSession(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	code, id, err := post(c, url, "", initialize)
	if err != nil || code != http.StatusOK || id == "" {
		t.Fatalf("initialize: status %d, session %q, %v", code, id, err)
	}
	if code, _, err := post(c, url, id, initialized); err != nil || code != http.StatusAccepted {
		t.Fatalf("initialized: status %d, %v", code, err)
	}
	return id
}

// pingStatus pings session id and returns the HTTP status.
func pingStatus(t *testing.T, c *http.Client, url, id string) int {
	t.Helper()
	code, _, err := post(c, url, id, ping)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	return code
}

func TestSessionPastTheCapClosesTheLongestIdle(t *testing.T) {
	t.Parallel()
	h, url := serveHandler(t, sleeper, Options{MaxSessions: 3})
	c := &http.Client{Timeout: 10 * time.Second}
	a, b, d := openSession(t, c, url), openSession(t, c, url), openSession(t, c, url)
	// b is now the one idle longest.
	for _, id := range []string{a, d} {
		if code := pingStatus(t, c, url, id); code != http.StatusOK {
			t.Fatalf("ping before the cap: %d", code)
		}
	}
	e := openSession(t, c, url)
	if n := h.LiveSessions(); n != 3 {
		t.Errorf("%d live sessions after a 4th, want the cap of 3", n)
	}
	testkit.WaitFor(t, 5*time.Second, "the longest idle session to answer 404", func() bool {
		return pingStatus(t, c, url, b) == http.StatusNotFound
	})
	for name, id := range map[string]string{"first": a, "third": d, "new": e} {
		if code := pingStatus(t, c, url, id); code != http.StatusOK {
			t.Errorf("the %s session answers %d after the eviction, want 200", name, code)
		}
	}
}

func TestIdleSessionIsClosed(t *testing.T) {
	t.Parallel()
	h, url := serveHandler(t, sleeper, Options{SessionIdle: 300 * time.Millisecond})
	c := &http.Client{Timeout: 10 * time.Second}
	old := openSession(t, c, url)
	testkit.WaitFor(t, 5*time.Second, "the idle session to close", func() bool { return h.LiveSessions() == 0 })
	// The go-sdk forgets the session's id just after it closes it: a ping in
	// between still finds it. Once closed, no ping keeps it.
	testkit.WaitFor(t, 5*time.Second, "the closed session to answer 404", func() bool {
		return pingStatus(t, c, url, old) == http.StatusNotFound
	})
	fresh := openSession(t, c, url)
	if code := pingStatus(t, c, url, fresh); code != http.StatusOK {
		t.Errorf("a new session answers %d, want 200", code)
	}
}

// Regression: 20,000 sessions that clients never closed took bpm from 20 MB
// to 285 MB; only the cap's worth may stay open.
func TestAbandonedSessionsStayAtTheCap(t *testing.T) {
	t.Parallel()
	h, url := serveHandler(t, sleeper, Options{})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	const sessions, workers = 1000, 8
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= sessions {
				// An initialize alone opens a session, as a client that
				// dies right after connecting leaves it.
				code, _, err := post(c, url, "", initialize)
				if err != nil || code != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d sessions failed to open", n, sessions)
	}
	if n := h.LiveSessions(); n != DefaultMaxSessions {
		t.Errorf("%d live sessions, want the cap of %d", n, DefaultMaxSessions)
	}
	// The SDK's own table is what holds the memory; evicted sessions leave
	// it as their Close ends.
	testkit.WaitFor(t, 10*time.Second, "the SDK to hold only the cap's sessions", func() bool {
		n := 0
		for range h.sdk.Sessions() {
			n++
		}
		return n <= DefaultMaxSessions
	})
}

func TestConnectionsPastTheCapAreRefusedAtOnce(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	go srv.Serve(LimitListener(l, 2))
	t.Cleanup(func() { srv.Close() })
	addr := l.Addr().String()

	var held []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
		defer conn.Close()
	}
	// Held connections are accepted in turn; wait until both are.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, err := io.ReadAll(extra)
	extra.Close()
	if ne, ok := err.(net.Error); len(answer) > 0 || ok && ne.Timeout() {
		t.Fatalf("a 3rd connection past a cap of 2 got %q (%v), want it closed at once", answer, err)
	}
	held[0].Close()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	testkit.WaitFor(t, 5*time.Second, "a request once a slot is free", func() bool {
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestConnCapLeavesHalfTheDescriptors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		soft uint64
		want int
	}{{1, 1}, {64, 32}, {256, 128}, {1024, 512}, {1 << 20, DefaultMaxConns}} {
		if got := connCap(tc.soft); got != tc.want {
			t.Errorf("connCap(%d) = %d, want %d", tc.soft, got, tc.want)
		}
	}
}

// Regression: connections holding half-sent bodies kept their descriptors
// for ever. The body has BodyTimeout to arrive; an answer that takes longer
// (a restart waiting for its build) is not cut.
func TestHalfSentBodyIsCutButLongAnswersAreNot(t *testing.T) {
	t.Parallel()
	const slowBuild = `
[process.app]
type = "command"
build = ["sleep", "1"]
command = ["sleep", "1000"]
`
	_, url := serveHandler(t, slowBuild, Options{BodyTimeout: 300 * time.Millisecond})
	host := strings.TrimPrefix(strings.TrimSuffix(url, Path), "http://")

	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := initialize[:len(initialize)/2]
	io.WriteString(conn, "POST /mcp HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/json\r\n"+
		"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n"+half)
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("the connection with half a body is still open after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("the connection was closed after %s, before the body timeout", took)
	}

	b := &bpmServer{t: t, url: url}
	cs := b.session(nil)
	res := call(t, cs, "restart", map[string]any{"process": "app"})
	if res.IsError {
		t.Fatalf("a restart longer than the body timeout failed: %s", text(res))
	}
}

// Clients that keep idle keep-alive connections cannot lock a new client
// out: at the cap, the connection idle longest makes room.
func TestIdleKeepAlivesMakeRoomAtTheCap(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	go srv.Serve(LimitListener(l, 2))
	t.Cleanup(func() { srv.Close() })
	url := "http://" + l.Addr().String() + "/"
	get := func(c *http.Client) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return err
	}
	// Two clients, each holding its keep-alive connection, idle.
	for range 2 {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
		if err := get(c); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.CloseIdleConnections)
	}
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if err := get(fresh); err != nil {
		t.Fatalf("a new client while two idle keep-alives hold the cap of 2: %v", err)
	}
}
