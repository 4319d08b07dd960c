package tui

import (
	"strings"
	"testing"

	"bpm/api"
)

func TestLastSegmentIsWhatATerminalShows(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"progress 10%\rprogress 50%\rprogress 100%", "progress 100%"},
		{"abc\r", "abc"},   // back to the start, nothing written over
		{"abc\r\r", "abc"}, // nor twice
		{"progress 10%\rprogress 100%\r", "progress 100%"},
		{"\r", ""},
		{"a\r\rb", "b"},
		{"no carriage return", "no carriage return"},
	} {
		if got := lastSegment(tc.in); got != tc.want {
			t.Errorf("lastSegment(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatLinesNotesWhatIsLeftOut(t *testing.T) {
	long := strings.Repeat("é", maxShownRunes) + strings.Repeat("x", 2000)
	lines := []api.LineOut{{N: 4, Text: "four"}, {N: 5, Text: "a\rb"}, {N: 8, Text: long}}
	got := formatLines(lines, lineFormat{before: 3, gaps: true, terminal: true})
	want := "[gray]… 3 earlier lines left out: more than one answer of bpm holds[-]\n" +
		"[-]four[-:-]\n" +
		"[-]b[-:-]\n" +
		"[gray]… 2 lines left out: longer than 500 characters; / finds them[-]\n" +
		"[-]" + strings.Repeat("é", maxShownRunes) + "[gray] …[2.0 KiB of this line left out[][-][-:-]"
	if got != want {
		t.Errorf("formatLines:\n%q\nwant\n%q", got, want)
	}
	// Outside a tail (a search) a carriage return is drawn, not obeyed.
	if got := formatLines(lines[1:2], lineFormat{}); got != "[-]a␍b[-:-]" {
		t.Errorf("search line %q, want a␍b", got)
	}
}
