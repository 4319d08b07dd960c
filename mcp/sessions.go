package mcp

import (
	"context"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Defaults for Options.SessionIdle and Options.MaxSessions, the same as
// config's mcp_session_idle_minutes and mcp_max_sessions.
const (
	DefaultSessionIdle = 60 * time.Minute
	DefaultMaxSessions = 100
)

// sessionTable knows every live MCP session and when it was last used, so
// that a session past the cap closes the one idle longest. The table lives
// in one goroutine (run); everything else talks to it through inbox.
type sessionTable struct {
	max   int
	inbox chan any
}

// Messages to the session table. A session is known from its initialize
// until it closes, whoever closes it (the client's DELETE, the SDK's idle
// timeout, or an eviction here).
type (
	sessionOpened struct{ ss *sdk.ServerSession }
	sessionBegan  struct{ id string } // a request of the session is being handled
	sessionEnded  struct{ id string } // and is answered
	sessionClosed struct{ id string }
	sessionCount  struct{ reply chan<- int }
)

// sessionEntry is one live session.
type sessionEntry struct {
	ss     *sdk.ServerSession
	opened time.Time
	last   time.Time // when a request of it last began or ended
	busy   int       // its requests being handled now
	marks  alertMarks
}

// newSessionTable starts the goroutine owning the table.
func newSessionTable(max int) *sessionTable {
	t := &sessionTable{max: max, inbox: make(chan any, 64)}
	go t.run()
	return t
}

func (t *sessionTable) run() {
	live := make(map[string]*sessionEntry)
	for msg := range t.inbox {
		switch m := msg.(type) {
		case sessionOpened:
			id := m.ss.ID()
			if e, ok := live[id]; ok {
				e.last = time.Now()
				continue
			}
			live[id] = &sessionEntry{ss: m.ss, opened: time.Now(), last: time.Now()}
			go func() {
				m.ss.Wait()
				t.inbox <- sessionClosed{id}
			}()
			if len(live) > t.max {
				t.evict(live, id)
			}
		case sessionBegan:
			if e, ok := live[m.id]; ok {
				e.last, e.busy = time.Now(), e.busy+1
			}
		case sessionEnded:
			// A request that began before its session's initialize ended
			// was not counted.
			if e, ok := live[m.id]; ok && e.busy > 0 {
				e.last, e.busy = time.Now(), e.busy-1
			}
		case sessionClosed:
			delete(live, m.id)
		case sessionCount:
			m.reply <- len(live)
		case alertsCheck:
			var lines []string
			if e, ok := live[m.id]; ok {
				lines = newAlerts(&e.marks, e.opened, m)
			}
			m.reply <- lines
		}
	}
}

// evict closes the session idle longest, other than keep. A session with a
// request under way (a restart waiting for its build) goes only when every
// other one is busy too.
func (t *sessionTable) evict(live map[string]*sessionEntry, keep string) {
	var victim string
	for id, e := range live {
		if id == keep {
			continue
		}
		if v := live[victim]; victim == "" || idler(e, v) {
			victim = id
		}
	}
	if victim == "" {
		return
	}
	ss := live[victim].ss
	delete(live, victim)
	// Close waits for the session's requests to end; the table must not.
	go ss.Close()
}

// idler reports whether a should be evicted before b.
func idler(a, b *sessionEntry) bool {
	if (a.busy == 0) != (b.busy == 0) {
		return a.busy == 0
	}
	return a.last.Before(b.last)
}

// count returns the number of live sessions, as the table's goroutine sees it.
func (t *sessionTable) count() int {
	reply := make(chan int, 1)
	t.inbox <- sessionCount{reply}
	return <-reply
}

// alerts returns the alert lines of c's session, as the table's goroutine
// (which keeps what each session was told) computes them.
func (t *sessionTable) alerts(c alertsCheck) []string {
	reply := make(chan []string, 1)
	c.reply = reply
	t.inbox <- c
	return <-reply
}

// middleware tells the table about every session that initializes and
// every request it makes.
func (t *sessionTable) middleware(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		ss, ok := req.GetSession().(*sdk.ServerSession)
		if !ok || ss.ID() == "" {
			return next(ctx, method, req)
		}
		if method == "initialize" {
			res, err := next(ctx, method, req)
			if err == nil {
				t.inbox <- sessionOpened{ss}
			}
			return res, err
		}
		t.inbox <- sessionBegan{ss.ID()}
		defer func() { t.inbox <- sessionEnded{ss.ID()} }()
		return next(ctx, method, req)
	}
}
