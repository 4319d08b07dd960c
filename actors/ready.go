package actors

import (
	"context"
	"time"

	"bpm/actors/osproc"
	"bpm/config"
)

// probeInterval is how often an http or tcp ready check is tried.
const probeInterval = 100 * time.Millisecond

// probeReady tries rc's http or tcp check every probeInterval until it
// passes, then calls ready once. Closing cancel ends it early. owner, when
// not 0, is the pid of the run that must itself have accepted the probe.
func probeReady(rc *config.Ready, owner int, cancel <-chan struct{}, ready func()) {
	ctx, stop := untilClosed(cancel)
	defer stop()
	p := osproc.NewReadyProbe(rc, owner)
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		if p.Once(ctx) {
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

// untilClosed returns a context that ends when cancel is closed or stop is
// called: the probes' goroutines end with their run's watchers.
func untilClosed(cancel <-chan struct{}) (ctx context.Context, stop context.CancelFunc) {
	ctx, stop = context.WithCancel(context.Background())
	go func() {
		select {
		case <-cancel:
			stop()
		case <-ctx.Done():
		}
	}()
	return ctx, stop
}
