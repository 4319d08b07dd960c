package mcp

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits of the HTTP server in front of the MCP endpoint. A request body
// must arrive within DefaultBodyTimeout of its headers (Options.BodyTimeout);
// the headers within ReadHeaderTimeout; a keep-alive connection with no
// request is closed after IdleTimeout.
const (
	DefaultBodyTimeout = 10 * time.Second
	ReadHeaderTimeout  = 10 * time.Second
	IdleTimeout        = 60 * time.Second
	MaxHeaderBytes     = 64 << 10
	// DefaultMaxConns is the most MCP connections open at once, unless the
	// descriptor limit asks for fewer (MaxConns).
	DefaultMaxConns = 512
)

// NewServer returns the http.Server for h with bpm's limits. There is no
// ReadTimeout or WriteTimeout: a restart call's answer and the standalone
// SSE stream stay open for minutes, and a ReadTimeout would cancel their
// requests; slow bodies are cut by the handler instead (Options.BodyTimeout).
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// MaxConns returns how many MCP connections may be open at once:
// DefaultMaxConns, or half the soft RLIMIT_NOFILE when that is less, so the
// other half stays free for children's pipes, builds and bpm itself.
func MaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return DefaultMaxConns
	}
	return connCap(rl.Cur)
}

// connCap is MaxConns for a soft descriptor limit.
func connCap(soft uint64) int {
	return int(max(1, min(DefaultMaxConns, soft/2)))
}

// LimitListener returns l holding at most n connections open at once. A
// connection past the cap is accepted and closed at once, so it neither waits
// in the kernel's backlog nor holds a descriptor; its client sees the
// connection closed (EOF or reset) and may retry.
func LimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, max(1, n))}
}

// limitListener counts open connections in a channel used as a semaphore.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, slots: l.slots}, nil
		default:
			// Answering would mean reading the request first, holding the
			// descriptor the cap is there to save.
			c.Close()
		}
	}
}

// limitConn gives its slot back when closed, once.
type limitConn struct {
	net.Conn
	slots  chan struct{}
	closed atomic.Bool
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		<-c.slots
	}
	return err
}

// bodyDeadline gives a request's body d to arrive, from when its headers are
// read: past it, reading the body fails and the connection is closed, so a
// client that sends half a body cannot hold a descriptor for long. The
// deadline is lifted once the body is read, leaving long answers alone.
func bodyDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
