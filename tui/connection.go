package tui

import (
	"context"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/api"
)

type connPhase int

const (
	connecting connPhase = iota
	connected
	disconnected
)

// connState is what the Server Status panel says about the connection.
type connState struct {
	state    connPhase
	since    time.Time // when state began
	err      string    // why the last attempt or call failed
	attempt  int       // failed attempts since the connection was lost
	retryIn  time.Duration
	sessions int // sessions opened so far; more than one means reconnected
}

// dial starts the reconnect loop unless one runs: attempts right away, then
// after 0.5 s, 1 s, 2 s, 4 s, 5 s, 5 s … until a session opens.
func (c *Console) dial() {
	if c.dialing || c.ctx.Err() != nil {
		return
	}
	c.dialing = true
	c.wg.Go(func() {
		for attempt := 1; ; attempt++ {
			cs, err := connect(c.ctx, c.url, c.hc)
			if c.ctx.Err() != nil {
				if cs != nil {
					cs.Close()
				}
				return
			}
			if err == nil {
				if !c.post(func() { c.connected(cs) }) {
					cs.Close()
				}
				return
			}
			delay := retryDelay(attempt)
			c.post(func() { c.dialFailed(err, attempt, delay) })
			select {
			case <-time.After(delay):
			case <-c.ctx.Done():
				return
			}
		}
	})
}

func (c *Console) connected(cs *sdk.ClientSession) {
	c.dialing = false
	c.session = cs
	c.conn = connState{state: connected, since: time.Now(), sessions: c.conn.sessions + 1}
	if c.conn.sessions > 1 {
		c.setMessage(levelOK, "reconnected (new session)")
	}
	c.renderServer()
	c.pollStatus()
	c.fetchOutput()
}

func (c *Console) dialFailed(err error, attempt int, retryIn time.Duration) {
	if c.conn.state != disconnected {
		c.conn = connState{state: disconnected, since: time.Now(), sessions: c.conn.sessions}
	}
	c.conn.err, c.conn.attempt, c.conn.retryIn = err.Error(), attempt, retryIn
	c.renderServer()
	c.renderProcs()
}

// lost drops cs after a call through it failed, and dials a new session. A
// bpm that restarted does not know the old session, so a new one is needed
// even when the server is back at once.
func (c *Console) lost(cs *sdk.ClientSession, err error) {
	if c.session != cs {
		return // already replaced
	}
	c.session = nil
	c.wg.Go(func() { cs.Close() })
	c.conn = connState{state: disconnected, since: time.Now(), err: err.Error(), sessions: c.conn.sessions}
	c.renderServer()
	c.renderProcs()
	c.dial()
}

// pollStatus fetches get_status unless a fetch is under way; a call that
// does not get through means the connection is lost.
func (c *Console) pollStatus() {
	cs := c.session
	if cs == nil || c.statusBusy {
		return
	}
	c.statusBusy = true
	c.spawn(func(ctx context.Context) func() {
		var st api.StatusOutput
		_, err := callTool(ctx, cs, "get_status", nil, statusTimeout, &st)
		return func() {
			c.statusBusy = false
			switch {
			case err == nil:
				c.status = &st
				c.renderAll()
			case isToolError(err):
				c.setMessage(levelBad, "get_status: "+err.Error())
			default:
				c.lost(cs, err)
			}
		}
	})
}
