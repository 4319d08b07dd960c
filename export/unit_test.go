package export

import (
	"slices"
	"testing"
	"time"

	"bpm/testkit"
)

// Every argument reaches the process as written: systemd reads each quoted
// word back unchanged, specifiers and variable references included.
func TestExecLineQuotesWhatSystemdWouldRead(t *testing.T) {
	for _, tc := range []struct{ arg, word string }{
		{"/srv/app/bin/api", "/srv/app/bin/api"},
		{"--port=8080", "--port=8080"},
		{"", `""`},
		{"two words", `"two words"`},
		{"100%", "100%%"},
		{"%n", "%%n"},
		{"$HOME", "$$HOME"},
		{"${HOME}", "$${HOME}"},
		{`say "hi"`, `"say \"hi\""`},
		{"it's", `"it's"`},
		{`C:\dir`, `"C:\\dir"`},
		{"line\nbreak\ttab", `"line\nbreak\ttab"`},
		{";", `";"`},
		{"bell\a", `"bell\x07"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
		{"grüß", "grüß"},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			line := execLine([]string{"/bin/echo", tc.arg})
			if want := "/bin/echo " + tc.word; line != want {
				t.Errorf("execLine = %s, want %s", line, want)
			}
			argv, err := testkit.ExecArgv(line)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(argv, []string{"/bin/echo", tc.arg}) {
				t.Errorf("read back as %q", argv)
			}
		})
	}
}

// systemd expands specifiers in the executable path but not variables, which
// it expands in argv[0] only: "$$" there stayed "$$" and the path was wrong.
func TestExecLineEscapesOnlySpecifiersInTheExecutable(t *testing.T) {
	for _, tc := range []struct{ exe, line string }{
		{"/srv/app/bin/api", "/srv/app/bin/api x"},
		{"/srv/100%/api", "/srv/100%%/api x"},
		{"/srv/my app/api", `"/srv/my app/api" x`},
		{"/tmp/x/pct%dir$x/bin/app", "@/tmp/x/pct%%dir$x/bin/app /tmp/x/pct%%dir$$x/bin/app x"},
		{"/srv/a${B}$$/api", "@/srv/a${B}$$/api /srv/a$${B}$$$$/api x"},
		{"$app", "@$app $$app x"},
	} {
		t.Run(tc.exe, func(t *testing.T) {
			line := execLine([]string{tc.exe, "x"})
			if line != tc.line {
				t.Errorf("execLine = %s, want %s", line, tc.line)
			}
			path, argv, err := testkit.ExecCommand(line)
			if err != nil {
				t.Fatal(err)
			}
			if path != tc.exe || !slices.Equal(argv, []string{tc.exe, "x"}) {
				t.Errorf("read back as %q running %q", argv, path)
			}
		})
	}
}

func TestEnvWordKeepsDollarsAndEscapesSpecifiers(t *testing.T) {
	for _, kv := range []string{"A=1", "GREETING=hello world", "PRICE=$5 or 100%", `Q="x"`, "EMPTY="} {
		words, err := testkit.EnvWords(envWord(kv))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(words, []string{kv}) {
			t.Errorf("%q: Environment=%s reads back as %q", kv, envWord(kv), words)
		}
	}
}

// bpm's release backoff multiplies by 1.5 per crash; systemd's grows
// geometrically over RestartSteps steps, so the step count that brings
// initial to max at ×1.5 keeps the curve.
func TestRestartStepsFollowTheBackoffCurve(t *testing.T) {
	for _, tc := range []struct {
		initial, max time.Duration
		steps        int
	}{
		{time.Second, 300 * time.Second, 14}, // 1.5^14 = 292
		{time.Second, 1500 * time.Millisecond, 1},
		{2 * time.Second, 2 * time.Second, 0},
		{500 * time.Millisecond, 10 * time.Second, 7},
	} {
		if got := restartSteps(tc.initial, tc.max); got != tc.steps {
			t.Errorf("restartSteps(%v, %v) = %d, want %d", tc.initial, tc.max, got, tc.steps)
		}
	}
}

func TestSecondsIsASystemdTimeSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5s", 1500 * time.Millisecond: "1.5s", 300 * time.Second: "300s", time.Millisecond: "0.001s",
	} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %s, want %s", d, got, want)
		}
	}
}
