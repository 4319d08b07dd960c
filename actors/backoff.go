package actors

import (
	"math"
	"time"
)

// releaseBackoffFactor is how much each consecutive crash stretches the wait.
const releaseBackoffFactor = 1.5

// backoffResetAfter is how long a run must stay up for its crash to count as
// the first of a new series.
const backoffResetAfter = 60 * time.Second

// ReleaseBackoff is the wait before restarting after the n-th consecutive
// crash (n counts from 0): initial × 1.5^n, never more than max.
func ReleaseBackoff(initial, max time.Duration, n int) time.Duration {
	if n < 0 {
		n = 0
	}
	d := float64(initial) * math.Pow(releaseBackoffFactor, float64(n))
	if d >= float64(max) || math.IsInf(d, 1) {
		return max
	}
	return time.Duration(d)
}
