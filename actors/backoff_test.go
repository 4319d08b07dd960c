package actors

import (
	"testing"
	"time"
)

func TestReleaseBackoff(t *testing.T) {
	t.Parallel()
	s := time.Second
	tests := []struct {
		n    int
		want time.Duration
	}{
		{-1, s},
		{0, s},
		{1, 1500 * time.Millisecond},
		{2, 2250 * time.Millisecond},
		{3, 3375 * time.Millisecond},
		{10, time.Duration(57.6650390625 * float64(s))},
		{14, 291929260253}, // 1.5^14 s, just under the cap
		{15, 300 * s},
		{1000, 300 * s},
	}
	for _, tt := range tests {
		if got := ReleaseBackoff(s, 300*s, tt.n); got != tt.want {
			t.Errorf("ReleaseBackoff(1s, 300s, %d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}
