package tui

import (
	"fmt"
	"regexp"
	"strings"

	"bpm/api"
)

// maxShownRunes is how much of one log line the console draws: a longer
// line is cut there with a note of what was left out, so one huge line
// (bpm keeps up to 64 KiB of it) does not push every other line off the
// panel. search_logs returns the whole line.
const maxShownRunes = 500

// shortLine matches the lines the console draws whole (see fetchLines).
var shortLine = fmt.Sprintf(`^.{0,%d}$`, maxShownRunes)

// lineFormat says how formatLines shows a line.
type lineFormat struct {
	time   bool             // prefix the time
	number bool             // prefix the line number
	re     *regexp.Regexp   // highlight its matches
	run    api.SearchOutput // the lines' result, which dates their clock times
	// terminal draws a line holding carriage returns as a terminal leaves
	// it: its last segment (a progress line). Otherwise each \r is drawn as
	// ␍, so a search shows the whole line and its matches.
	terminal bool
	// before is how many lines before the first one were left out; gaps
	// notes lines left out between two shown (line numbers not
	// consecutive): both when a line-numbered tail came in pieces.
	before int
	gaps   bool
}

// formatLines renders log lines with colour tags: stderr red, matches of re
// on yellow, and grey notes of the lines and parts of lines left out.
func formatLines(lines []api.LineOut, f lineFormat) string {
	var b strings.Builder
	if f.before > 0 {
		b.WriteString(earlierNote(f.before) + "\n")
	}
	for i, l := range lines {
		if f.gaps && i > 0 && l.N > lines[i-1].N+1 {
			b.WriteString(longNote(l.N-lines[i-1].N-1) + "\n")
		}
		if f.number {
			fmt.Fprintf(&b, "[gray]%5d[-] ", l.N)
		}
		if f.time {
			fmt.Fprintf(&b, "[gray]%s[-] ", clock(f.run.Time(l)))
		}
		color := "-"
		if l.Stderr {
			color = "red"
		}
		text := l.Text
		if f.terminal {
			text = lastSegment(text)
		}
		b.WriteString("[" + color + "]")
		b.WriteString(highlight(text, f.re, color))
		b.WriteString("[-:-]\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// Notes of what formatLines left out, in the words of bpm's search_logs.
func earlierNote(n int) string {
	return "[gray]… " + plural(n, "earlier line", "earlier lines") + " left out: more than one answer of bpm holds[-]"
}

func longNote(n int) string {
	return fmt.Sprintf("[gray]… %s left out: longer than %d characters; / finds them[-]", plural(n, "line", "lines"), maxShownRunes)
}

// lastSegment is what a terminal shows of a line written with carriage
// returns (progress 10%\rprogress 50%\rprogress 100%): the text after the
// last \r. A trailing \r moves the cursor back without writing over
// anything, so empty segments at the end are skipped: "abc\r" shows "abc".
// Where a shorter segment follows a longer one, a terminal would still
// show the longer one's tail; progress writers pad or clear the line, so
// the console shows the last segment alone.
func lastSegment(text string) string {
	text = strings.TrimRight(text, "\r")
	if i := strings.LastIndexByte(text, '\r'); i >= 0 {
		return text[i+1:]
	}
	return text
}

// cutAt is the byte offset where text is cut for drawing (len(text) when
// it is drawn whole).
func cutAt(text string) int {
	n := 0
	for i := range text {
		if n == maxShownRunes {
			return i
		}
		n++
	}
	return len(text)
}

// highlight escapes text, cuts it at maxShownRunes with a note of what was
// left out, and puts the matches of re on a yellow background.
func highlight(text string, re *regexp.Regexp, color string) string {
	cut := cutAt(text)
	var b strings.Builder
	at := 0
	if re != nil {
		for _, m := range re.FindAllStringIndex(text, -1) {
			if m[0] == m[1] || m[0] >= cut {
				continue
			}
			end := min(m[1], cut)
			b.WriteString(show(text[at:m[0]]))
			b.WriteString("[black:yellow]" + show(text[m[0]:end]) + "[" + color + ":-]")
			at = end
		}
	}
	b.WriteString(show(text[at:cut]))
	if rest := text[cut:]; rest != "" {
		fmt.Fprintf(&b, "[gray] …[%s of this line left out[][%s]", size(len(rest)), color)
	}
	return b.String()
}

// show escapes s for drawing: no colour tags, and a carriage return that
// is left as ␍ rather than breaking the line.
func show(s string) string {
	return escape(strings.ReplaceAll(s, "\r", "␍"))
}

// size is n bytes for people: 812 bytes, 63.5 KiB.
func size(n int) string {
	if n < 1024 {
		return plural(n, "byte", "bytes")
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}

// fetchLines calls a search tool for a tail (search_logs or
// search_build_log with args.Tail). bpm caps an answer at about 40 KB,
// newest lines first, and sends the newest line whole: one line of 64 KiB
// fills an answer by itself, and every line before it would be left out.
// When the answer left earlier lines out, a second call fetches the tail of
// the lines the console draws whole (up to maxShownRunes), and the earlier
// of those take their place. What is left out even so (the long lines among
// them, or more than the second answer holds) is noted by formatLines.
func fetchLines(call func(args searchArgs) (api.SearchOutput, error), args searchArgs) (api.SearchOutput, error) {
	r, err := call(args)
	if err != nil || !r.Truncated || len(r.Lines) == 0 || len(r.Lines) >= r.Selected {
		return r, err
	}
	args.Pattern = shortLine
	short, err := call(args)
	if err != nil || short.Run.PID != r.Run.PID || !short.Run.StartedAt.Equal(r.Run.StartedAt) {
		return r, nil // a new run or build meanwhile: the next refresh shows it
	}
	first, from := r.Lines[0].N, windowStart(r)
	var lines []api.LineOut
	for _, l := range short.Lines {
		if l.N >= from && l.N < first {
			l.Match = false
			lines = append(lines, l)
		}
	}
	r.Lines = append(lines, r.Lines...)
	return r, nil
}

// windowStart is the number of the first line a tail result r selected:
// its lines are numbered without gaps up to the newest.
func windowStart(r api.SearchOutput) int {
	if len(r.Lines) == 0 {
		return 0
	}
	return r.Lines[len(r.Lines)-1].N - r.Selected + 1
}
