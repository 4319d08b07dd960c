package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// drainer stops an http.Server without dropping a request. Shutdown alone
// is not enough behind a shared socket: a connection accepted just before
// the listener closes has its first request read after shutdown began, and
// net/http closes it unanswered. So: close the listener, wait until no
// connection is new or active, then Shutdown (which closes the idle ones).
type drainer struct {
	busy   atomic.Int64
	states sync.Map // net.Conn → http.ConnState
}

// track is the http.Server.ConnState hook.
func (d *drainer) track(c net.Conn, s http.ConnState) {
	prev, _ := d.states.Load(c)
	wasBusy := prev == http.StateNew || prev == http.StateActive
	isBusy := s == http.StateNew || s == http.StateActive
	if s == http.StateClosed || s == http.StateHijacked {
		d.states.Delete(c)
	} else {
		d.states.Store(c, s)
	}
	switch {
	case isBusy && !wasBusy:
		d.busy.Add(1)
	case wasBusy && !isBusy:
		d.busy.Add(-1)
	}
}

// stop closes ln, waits for served (Serve has returned) and for every busy
// connection to finish, at most grace, then shuts srv down.
func (d *drainer) stop(srv *http.Server, ln net.Listener, served <-chan struct{}, grace time.Duration) error {
	ln.Close()
	<-served
	deadline := time.Now().Add(grace)
	for d.busy.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return srv.Shutdown(ctx)
}
