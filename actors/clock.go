package actors

import "time"

// Clock is where actors take time from, so timer-driven behaviour (crash
// backoff, the dev-mode idle switch) can be driven by a fake in tests.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once after d, on its own goroutine. f must only send
	// a message to an actor.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call; it reports whether the call was still pending.
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// stopTimer stops t if it is set; a nil Timer is fine.
func stopTimer(t Timer) {
	if t != nil {
		t.Stop()
	}
}
