package osproc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"bpm/config"
)

// acceptWait is how long one probe waits for the run to accept its
// connection before it is closed and tried again at the next interval.
const acceptWait = 200 * time.Millisecond

// errNotAccepted is why a probe's connection does not count: the run being
// checked did not accept it (another run did, or nobody did in time).
var errNotAccepted = errors.New("connection not accepted by the run being checked")

// ReadyProbe is one run's http or tcp ready check.
type ReadyProbe struct {
	rc     *config.Ready
	owner  int
	client *http.Client
}

// NewReadyProbe makes rc's http or tcp check. owner, when not 0, is the pid
// of the run that must itself have accepted the probe.
func NewReadyProbe(rc *config.Ready, owner int) *ReadyProbe {
	p := &ReadyProbe{rc: rc, owner: owner}
	// A fresh connection per probe, never one from a pool, and no proxy: the
	// probe must reach the run's own socket.
	p.client = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: p.dial}}
	return p
}

// Once tries the check one time and reports whether it passed.
func (p *ReadyProbe) Once(ctx context.Context) bool {
	if p.rc.TCP != "" {
		c, err := p.dial(ctx, "tcp", p.rc.TCP)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.rc.HTTP, nil)
	if err != nil {
		return false
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// dial connects to addr and, with an owner, returns the connection only once
// the owner's process tree has accepted it. That is checked before a request
// is sent, while the server certainly holds the connection: after answering
// it may close its side at once, and a closed socket can no longer be traced
// to a process.
func (p *ReadyProbe) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil || p.owner == 0 {
		return c, err
	}
	if !acceptedBy(ctx, c, p.owner, acceptWait) {
		c.Close()
		return nil, errNotAccepted
	}
	return c, nil
}
