//go:build e2e

package bench

import (
	"fmt"
	"slices"
	"time"
)

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianDur is median for durations.
func medianDur(ds []time.Duration) time.Duration {
	return percentile(ds, 50)
}

// percentile p (0..100) of ds, nearest rank; 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// ms formats d in milliseconds, with more digits below 10 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// secs formats v seconds.
func secs(v float64) string { return fmt.Sprintf("%.2f s", v) }

// mb formats bytes in MB (10^6), as the targets are written.
func mb(v int64) string { return fmt.Sprintf("%.1f MB", float64(v)/1e6) }

// ratio formats a/b as "1.23x".
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// each formats the single values a median came from: " (1.1, 1.2, 1.3)".
func each(xs []float64, format string) string {
	s := " ("
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf(format, x)
	}
	return s + ")"
}
