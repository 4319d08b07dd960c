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
		ConnState:         markIdle,
	}
}

// markIdle records on a LimitListener's connection when it became idle (a
// keep-alive between requests) or that it is busy again, so that a full
// listener can close the connection idle longest for a new client.
func markIdle(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	switch state {
	case http.StateIdle:
		lc.idleSince.Store(time.Now().UnixNano())
	case http.StateActive:
		lc.idleSince.Store(0)
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

// LimitListener returns l holding at most n connections open at once. When
// all n are open, a new connection takes the place of the keep-alive
// connection idle longest (served by an http.Server from NewServer, which
// marks them), since clients that keep connections they do not use must not
// lock others out; with none idle, the new connection is accepted and closed
// at once, so it neither waits in the kernel's backlog nor holds a
// descriptor; its client sees the connection closed (EOF or reset) and may
// retry.
func LimitListener(l net.Listener, n int) net.Listener {
	n = max(1, n)
	return &limitListener{Listener: l, slots: make(chan struct{}, n), gone: make(chan *limitConn, n)}
}

// limitListener counts open connections in a channel used as a semaphore.
// Only Accept's goroutine touches open; closed connections reach it
// through gone.
type limitListener struct {
	net.Listener
	slots chan struct{}
	open  map[*limitConn]bool
	gone  chan *limitConn
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open == nil {
			l.open = map[*limitConn]bool{}
		}
		l.forgetClosed()
		if len(l.slots) == cap(l.slots) {
			l.closeIdlest()
		}
		select {
		case l.slots <- struct{}{}:
			lc := &limitConn{Conn: c, slots: l.slots, gone: l.gone}
			l.open[lc] = true
			return lc, nil
		default:
			// Answering would mean reading the request first, holding the
			// descriptor the cap is there to save.
			c.Close()
		}
	}
}

// forgetClosed drops the connections closed since the last Accept.
func (l *limitListener) forgetClosed() {
	for {
		select {
		case c := <-l.gone:
			delete(l.open, c)
		default:
			return
		}
	}
}

// closeIdlest closes the open connection idle longest, if any is idle,
// freeing its slot.
func (l *limitListener) closeIdlest() {
	var idlest *limitConn
	var since int64
	for c := range l.open {
		if t := c.idleSince.Load(); t != 0 && (idlest == nil || t < since) {
			idlest, since = c, t
		}
	}
	if idlest != nil {
		idlest.Close()
		l.forgetClosed()
	}
}

// limitConn gives its slot back when closed, once, and tells its listener.
type limitConn struct {
	net.Conn
	slots     chan struct{}
	gone      chan *limitConn
	closed    atomic.Bool
	idleSince atomic.Int64 // unix ns it became an idle keep-alive; 0 while new or busy
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.gone <- c
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
