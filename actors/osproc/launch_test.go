package osproc

import (
	"slices"
	"strings"
	"testing"
)

func TestLaunchArgsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		l    Launch
		args []string
	}{
		{"listen only", Launch{Listen: true}, []string{"--listen", "--"}},
		{"limits", Launch{OpenFiles: 64, AddressSpace: 1 << 30}, []string{"--nofile=64", "--as=1073741824", "--"}},
		{"all", Launch{Listen: true, OpenFiles: 64, AddressSpace: 1 << 20, Cgroup: "/sys/fs/cgroup/x/run-web-3"},
			[]string{"--listen", "--nofile=64", "--as=1048576", "--cgroup=/sys/fs/cgroup/x/run-web-3", "--"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Args(); !slices.Equal(got, tt.args) {
				t.Fatalf("Args = %q, want %q", got, tt.args)
			}
			// The app's own "--" and flags pass through untouched.
			app := []string{"npm", "run", "dev", "--", "--nofile=1"}
			l, argv, err := ParseLaunch(append(tt.l.Args(), app...))
			if err != nil || l != tt.l || !slices.Equal(argv, app) {
				t.Fatalf("ParseLaunch = %+v %q %v, want %+v %q", l, argv, err, tt.l, app)
			}
		})
	}
}

func TestParseLaunchWithoutFlagsIsTheListenForm(t *testing.T) {
	l, argv, err := ParseLaunch([]string{"/app/server", "--port", "1"})
	if err != nil || l != (Launch{Listen: true}) || !slices.Equal(argv, []string{"/app/server", "--port", "1"}) {
		t.Fatalf("ParseLaunch = %+v %q %v, want Listen and the argv unchanged", l, argv, err)
	}
}

func TestParseLaunchErrorsSayWhatIsValid(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"--nofile=0", "--", "x"}, "want a positive integer"},
		{[]string{"--as=lots", "--", "x"}, "want a positive integer"},
		{[]string{"--memory=1", "--", "x"}, "valid: --listen"},
		{[]string{"--nofile=64", "x"}, "valid: --listen"},
		{[]string{"--nofile=64"}, "no -- before the command"},
		{[]string{"--nofile=64", "--"}, "no command after --"},
	}
	for _, tt := range tests {
		_, _, err := ParseLaunch(tt.argv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseLaunch(%q) = %v, want an error with %q", tt.argv, err, tt.want)
		}
	}
}
