package actors

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"bpm/config"
)

// probeInterval is how often an http or tcp ready check is tried.
const probeInterval = 100 * time.Millisecond

// acceptWait is how long one probe waits for the run to accept its
// connection before it is closed and tried again at the next interval.
const acceptWait = 200 * time.Millisecond

// errNotAccepted is why a probe's connection does not count: the run being
// checked did not accept it (another run did, or nobody did in time).
var errNotAccepted = errors.New("connection not accepted by the run being checked")

// probeReady tries rc's http or tcp check every probeInterval until it
// passes, then calls ready once. Closing cancel ends it early. owner, when
// not 0, is the pid of the run that must itself have accepted the probe.
func probeReady(rc *config.Ready, owner int, cancel <-chan struct{}, ready func()) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		select {
		case <-cancel:
			stop()
		case <-ctx.Done():
		}
	}()
	p := &prober{rc: rc, owner: owner}
	// A fresh connection per probe, never one from a pool, and no proxy: the
	// probe must reach the run's own socket.
	p.client = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: p.dial}}
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		if p.once(ctx) {
			ready()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// prober is one run's http or tcp ready check.
type prober struct {
	rc     *config.Ready
	owner  int
	client *http.Client
}

// once tries the check one time.
func (p *prober) once(ctx context.Context) bool {
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
func (p *prober) dial(ctx context.Context, network, addr string) (net.Conn, error) {
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
