package api

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// SearchOutput is the structured result of search_logs and search_build_log.
// It carries the same facts as the text, and each line only what varies.
type SearchOutput struct {
	Process   string    `json:"process"`
	Kind      string    `json:"kind" jsonschema:"run or build"`
	Run       RunOut    `json:"run"`
	RunsKept  int       `json:"runs_kept" jsonschema:"how many runs (or builds) are kept; index ranges over them"`
	Matches   int       `json:"matches" jsonschema:"matching lines before head/tail and the cap (0 without a pattern)"`
	AtLeast   bool      `json:"matches_at_least,omitempty" jsonschema:"true when matches is a lower bound: with head or tail (the default with a pattern is the newest 1000 lines) the search stops once it has the lines"`
	Selected  int       `json:"selected" jsonschema:"lines selected by pattern, context, stream, since and head/tail, before the cap"`
	Truncated bool      `json:"truncated" jsonschema:"true when the cap left selected lines out"`
	Lines     []LineOut `json:"lines" jsonschema:"oldest first"`
}

// RunOut identifies the run or build a SearchOutput is about.
type RunOut struct {
	Index      int       `json:"index" jsonschema:"-1 newest, -2 the one before …"`
	PID        int       `json:"pid"`
	StartedAt  time.Time `json:"started_at"`
	TotalLines int       `json:"total_lines" jsonschema:"lines it has written, dropped ones included"`
	Previous   bool      `json:"previous_session,omitempty" jsonschema:"read back from log_dir: a run of an earlier bpm session"`
}

// LineOut is one selected line. On the wire it is an array:
// [n, "HH:MM:SS.mmm", text] with a fourth element "E" (stderr), "*" (a
// match) or "E*" (both) when either holds. The time is UTC.
type LineOut struct {
	N      int
	Clock  string // HH:MM:SS.mmm, UTC
	Stderr bool
	Match  bool
	Text   string
}

// LineSchema describes LineOut's wire form, for output schemas (the
// reflected schema of the struct would not match MarshalJSON).
func LineSchema() *jsonschema.Schema {
	lo, hi := 3, 4
	return &jsonschema.Schema{
		Type:        "array",
		Description: `[n, "HH:MM:SS.mmm" (UTC), text] and, when set, a fourth element: "E" stderr, "*" match, "E*" both`,
		MinItems:    &lo,
		MaxItems:    &hi,
	}
}

func (l LineOut) flags() string {
	f := ""
	if l.Stderr {
		f += "E"
	}
	if l.Match {
		f += "*"
	}
	return f
}

// MarshalJSON writes the line as [n, clock, text] or [n, clock, text, flags].
func (l LineOut) MarshalJSON() ([]byte, error) {
	if f := l.flags(); f != "" {
		return json.Marshal([]any{l.N, l.Clock, l.Text, f})
	}
	return json.Marshal([]any{l.N, l.Clock, l.Text})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *LineOut) UnmarshalJSON(data []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		return err
	}
	if len(parts) < 3 || len(parts) > 4 {
		return fmt.Errorf("a line has 3 or 4 elements, not %d", len(parts))
	}
	var flags string
	for i, dst := range []any{&l.N, &l.Clock, &l.Text} {
		if err := json.Unmarshal(parts[i], dst); err != nil {
			return err
		}
	}
	if len(parts) == 4 {
		if err := json.Unmarshal(parts[3], &flags); err != nil {
			return err
		}
	}
	l.Stderr, l.Match = false, false
	for _, c := range flags {
		l.Stderr = l.Stderr || c == 'E'
		l.Match = l.Match || c == '*'
	}
	return nil
}

// Time is when line l of o was written: its clock on the day the run
// started, or a later day when the clock went past midnight.
func (o SearchOutput) Time(l LineOut) time.Time {
	c, err := time.Parse(ClockLayout, l.Clock)
	if err != nil {
		return time.Time{}
	}
	start := o.Run.StartedAt.UTC()
	t := time.Date(start.Year(), start.Month(), start.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), time.UTC)
	for t.Before(start.Truncate(time.Millisecond)) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}
