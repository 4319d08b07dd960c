package api

import (
	"encoding/json"
	"testing"
	"time"
)

func TestLineOutWireFormRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		line LineOut
		wire string
	}{
		{LineOut{N: 1, Clock: "10:00:00.000", Text: "hi"}, `[1,"10:00:00.000","hi"]`},
		{LineOut{N: 2, Clock: "10:00:00.001", Text: "err", Stderr: true}, `[2,"10:00:00.001","err","E"]`},
		{LineOut{N: 3, Clock: "10:00:00.002", Text: "m", Match: true}, `[3,"10:00:00.002","m","*"]`},
		{LineOut{N: 4, Clock: "10:00:00.003", Text: "both", Stderr: true, Match: true}, `[4,"10:00:00.003","both","E*"]`},
	} {
		t.Run(tc.wire, func(t *testing.T) {
			data, err := json.Marshal(tc.line)
			if err != nil || string(data) != tc.wire {
				t.Fatalf("marshal: %s, %v; want %s", data, err, tc.wire)
			}
			var back LineOut
			if err := json.Unmarshal(data, &back); err != nil || back != tc.line {
				t.Fatalf("unmarshal: %+v, %v; want %+v", back, err, tc.line)
			}
		})
	}
}

func TestLineOutRejectsOtherShapes(t *testing.T) {
	for _, wire := range []string{`[1,"10:00:00.000"]`, `[1,"x","y","E","extra"]`, `{"n":1}`, `["1","x","y"]`} {
		var l LineOut
		if err := json.Unmarshal([]byte(wire), &l); err == nil {
			t.Errorf("%s decoded as %+v; want an error", wire, l)
		}
	}
}

func TestTimeDatesTheClockFromTheRunStart(t *testing.T) {
	start := time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC)
	o := SearchOutput{Run: RunOut{StartedAt: start}}
	for _, tc := range []struct {
		clock string
		want  time.Time
	}{
		{"23:59:30.500", time.Date(2025, 3, 1, 23, 59, 30, 500e6, time.UTC)},
		{"00:00:05.000", time.Date(2025, 3, 2, 0, 0, 5, 0, time.UTC)}, // past midnight
		{"garbage", time.Time{}},
	} {
		if got := o.Time(LineOut{Clock: tc.clock}); !got.Equal(tc.want) {
			t.Errorf("Time(%s) = %v, want %v", tc.clock, got, tc.want)
		}
	}
}
