package testkit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Unit is a parsed systemd unit file: "Section.Key" → its values in order.
type Unit map[string][]string

// ParseUnit reads a unit file's settings; comments and blank lines are skipped.
func ParseUnit(data []byte) Unit {
	u := Unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	return u
}

// Last is the value of key that systemd uses (the last), or "".
func (u Unit) Last(key string) string {
	if v := u[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// ExecCommand splits the value of ExecStart= (or another Exec setting) into
// the executable systemd runs and the argv it passes: words, double quotes
// with C escapes, "%%" for '%'. systemd expands variables in argv but not in
// the executable, so "$$" is '$' in argv, while a '$' in the first word is
// itself; with the '@' prefix the second word is argv[0]. A specifier, a
// variable reference, or a '$' in an executable that is also argv[0] (where
// systemd would expand it) is an error: the exporter never writes one.
func ExecCommand(value string) (path string, argv []string, err error) {
	words, err := systemdWords(value)
	if err != nil {
		return "", nil, err
	}
	if len(words) == 0 {
		return "", nil, fmt.Errorf("no command in %q", value)
	}
	first, argv := words[0], words
	switch {
	case strings.HasPrefix(first, "@"):
		first, argv = first[1:], words[1:]
	case strings.Contains(first, "$"):
		return "", nil, fmt.Errorf("executable %q is also argv[0], where systemd expands variables: write @PATH ARGV0", first)
	}
	if len(argv) == 0 {
		return "", nil, fmt.Errorf("no argv[0] after @ in %q", value)
	}
	if path, err = unescapeSigns(first, false); err != nil {
		return "", nil, err
	}
	// Without '@', argv[0] is the first word, which holds no '$'.
	argv = slices.Clone(argv)
	for i, w := range argv {
		if argv[i], err = unescapeSigns(w, true); err != nil {
			return "", nil, err
		}
	}
	return path, argv, nil
}

// ExecArgv is the argv of ExecCommand, for a value whose executable is
// argv[0], as every Exec setting the exporter writes is; else an error.
func ExecArgv(value string) ([]string, error) {
	path, argv, err := ExecCommand(value)
	if err == nil && path != argv[0] {
		err = fmt.Errorf("executable %q differs from argv[0] %q", path, argv[0])
	}
	return argv, err
}

// EnvWords splits the value of Environment= into its "K=V" words.
func EnvWords(value string) ([]string, error) {
	words, err := systemdWords(value)
	for i := 0; err == nil && i < len(words); i++ {
		words[i], err = unescapeSigns(words[i], false)
	}
	return words, err
}

// systemdWords splits value into words, quotes removed and C escapes
// applied, with specifiers and variables left for unescapeSigns.
func systemdWords(value string) ([]string, error) {
	var words []string
	for i := 0; ; {
		for i < len(value) && (value[i] == ' ' || value[i] == '\t') {
			i++
		}
		if i == len(value) {
			return words, nil
		}
		var w strings.Builder
		quoted := false
		for i < len(value) && (quoted || (value[i] != ' ' && value[i] != '\t')) {
			switch c := value[i]; {
			case c == '"':
				quoted = !quoted
				i++
			case c == '\\':
				n, err := unescape(value[i:], &w)
				if err != nil {
					return nil, err
				}
				i += n
			default:
				w.WriteByte(c)
				i++
			}
		}
		if quoted {
			return nil, fmt.Errorf("unterminated quote in %q", value)
		}
		words = append(words, w.String())
	}
}

// unescape reads one C escape at the start of s into w and returns its length.
func unescape(s string, w *strings.Builder) (int, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("a lone backslash ends %q", s)
	}
	switch s[1] {
	case '\\', '"', '\'':
		w.WriteByte(s[1])
	case 'n':
		w.WriteByte('\n')
	case 't':
		w.WriteByte('\t')
	case 'x':
		if len(s) < 4 {
			return 0, fmt.Errorf("short \\x escape in %q", s)
		}
		b, err := strconv.ParseUint(s[2:4], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("bad \\x escape in %q", s)
		}
		w.WriteByte(byte(b))
		return 4, nil
	default:
		return 0, fmt.Errorf("unexpected escape \\%c", s[1])
	}
	return 2, nil
}

// unescapeSigns turns "%%" into '%' and, for exec, "$$" into '$'.
func unescapeSigns(s string, exec bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || (exec && c == '$') {
			if i+1 == len(s) || s[i+1] != c {
				return "", fmt.Errorf("unescaped %c in %q", c, s)
			}
			i++
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// VerifyUnits runs `systemd-analyze verify` on the unit files (a user
// manager's with user) and fails the test on any complaint: a non-zero exit
// or any output. It needs systemd-analyze (see Need).
func VerifyUnits(t testing.TB, user bool, files ...string) {
	t.Helper()
	Need(t, "systemd-analyze")
	args := []string{"verify", "--man=no"}
	cmd := exec.Command("systemd-analyze")
	if user {
		args = append(args, "--user")
		runtime := t.TempDir() // the user manager wants a runtime dir
		if err := os.Chmod(runtime, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtime)
	}
	cmd.Args = append(append(cmd.Args, args...), files...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
}
