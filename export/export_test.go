package export

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultPrefixIsAUnitName(t *testing.T) {
	for dir, want := range map[string]string{
		"/srv/hello": "hello", "/home/me/My App!": "My-App", "/srv/api@v2": "api-v2", "/": "bpm", "/srv/.hidden": "hidden",
	} {
		if got := DefaultPrefix(dir); got != want {
			t.Errorf("DefaultPrefix(%q) = %q, want %q", dir, got, want)
		}
	}
}

func TestParseSaysWhatIsValid(t *testing.T) {
	req, err := Parse([]string{"systemd", "--out", "-", "--name", "shop", "--user", "--notify", "a,b", "proj"})
	if err != nil {
		t.Fatal(err)
	}
	sd := req.Exporter.(*Systemd)
	if req.Out != "-" || req.Prefix != "shop" || !sd.user || sd.notify != "a,b" || len(req.Dirs) != 1 {
		t.Errorf("parsed %+v, %+v", req, sd)
	}
	if req, _ := Parse([]string{"systemd"}); req.Out != "systemd" || len(req.Dirs) != 0 {
		t.Errorf("defaults: out %q, dirs %q", req.Out, req.Dirs)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"nomad"}, `unknown export format "nomad"; valid: systemd`},
		{nil, "missing the export format; valid: systemd"},
		{[]string{"--out", "x"}, "missing the export format"},
		{[]string{"systemd", "a", "b"}, "at most one PROJECT_DIR"},
		{[]string{"systemd", "--out", ""}, `--out is empty; valid: a directory, or "-"`},
		{[]string{"systemd", "--name", "web@1"}, `--name "web@1": valid:`},
	} {
		_, err := Parse(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", tc.args, err, tc.says)
		}
		if unknown := errors.Is(err, ErrUnknownFormat); unknown != (tc.args != nil && tc.args[0] == "nomad") {
			t.Errorf("Parse(%q): errors.Is(ErrUnknownFormat) = %v", tc.args, unknown)
		}
	}
}
