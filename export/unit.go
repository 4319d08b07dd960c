package export

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// unit is a systemd unit file being written, line by line.
type unit struct {
	b strings.Builder
}

// comment writes text as comment lines, one per line of text.
func (u *unit) comment(format string, args ...any) {
	for _, line := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		u.b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
	}
}

// section starts [name], after a blank line unless it is the file's first line.
func (u *unit) section(name string) {
	if u.b.Len() > 0 {
		u.b.WriteString("\n")
	}
	u.b.WriteString("[" + name + "]\n")
}

// set writes key=value; value is written as given (see the quoting helpers).
func (u *unit) set(key, value string) {
	u.b.WriteString(key + "=" + value + "\n")
}

func (u *unit) bytes() []byte { return []byte(u.b.String()) }

// plain is s for a setting that takes its value verbatim (Description=,
// WorkingDirectory=, ListenStream=): only specifiers are escaped.
func plain(s string) string {
	return strings.NewReplacer("%", "%%", "\n", " ").Replace(s)
}

// execLine is argv as the value of ExecStart= and its kin: each argument a
// word, quoted where it needs it, so that systemd runs argv[0] with argv
// unchanged. systemd expands specifiers (%) in every word but variables ($)
// only in argv, not in the executable path, so the path escapes % alone. A
// path with '$' is written twice, after '@': once as the path, once as
// argv[0] with '$' escaped, since either escaping would break the other.
func execLine(argv []string) string {
	words := make([]string, 0, len(argv)+1)
	if strings.Contains(argv[0], "$") {
		words = append(words, quoteWord("@"+argv[0]))
	} else {
		words, argv = append(words, quoteWord(argv[0])), argv[1:]
	}
	for _, a := range argv {
		words = append(words, quoteWord(strings.ReplaceAll(a, "$", "$$")))
	}
	return strings.Join(words, " ")
}

// envWord is "K=V" as one word of Environment=, which expands specifiers
// but not variables.
func envWord(kv string) string { return quoteWord(kv) }

// quoteWord escapes specifiers in s and returns it bare when systemd reads
// it back as one word unchanged, else in double quotes with C escapes.
func quoteWord(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && s != ";" && !strings.ContainsFunc(s, needsQuote) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

func needsQuote(r rune) bool {
	return unicode.IsSpace(r) || r == '"' || r == '\'' || r == '\\' || r < 0x20 || r == 0x7f || r == utf8.RuneError
}

// seconds formats d as a systemd time span in seconds: "5s", "1.5s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// restartSteps is how many steps take systemd's restart delay from initial
// to max when each step multiplies it by about 1.5, as bpm's backoff does;
// 0 when there is nothing to grow.
func restartSteps(initial, max time.Duration) int {
	if initial <= 0 || max <= initial {
		return 0
	}
	return int(math.Max(1, math.Round(math.Log(float64(max)/float64(initial))/math.Log(1.5))))
}
