package osproc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The launcher execs the app as its own pid: LISTEN_PID names it (with
// --listen only), and the rlimits it was given are the app's.
func TestListenExecSetsListenPIDAndLimitsThenExecs(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := `echo "$$ ${LISTEN_PID-unset} $(ulimit -n)"`
	for _, tc := range []struct {
		name   string
		flags  []string
		listen bool
		nofile string
	}{
		{"listen form", nil, true, ""},
		{"listen and nofile", []string{"--listen", "--nofile=123", "--"}, true, "123"},
		{"nofile only", []string{"--nofile=77", "--"}, false, "77"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append(append([]string{ListenExecArg}, tc.flags...), "sh", "-c", script)
			cmd := exec.Command(self, argv...)
			cmd.Env = append(os.Environ(), "LISTEN_PID=1")
			if !tc.listen {
				cmd.Env = WithoutSocketEnv(os.Environ())
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("launcher: %v", err)
			}
			f := strings.Fields(string(out))
			if len(f) != 3 || f[0] != strconv.Itoa(cmd.Process.Pid) {
				t.Fatalf("output %q, want the launcher's pid %d first", out, cmd.Process.Pid)
			}
			if want := map[bool]string{true: f[0], false: "unset"}[tc.listen]; f[1] != want {
				t.Errorf("LISTEN_PID=%s, want %s", f[1], want)
			}
			if tc.nofile != "" && f[2] != tc.nofile {
				t.Errorf("ulimit -n %s, want %s", f[2], tc.nofile)
			}
		})
	}
}

func TestListenExecWithoutACommandIsUsage(t *testing.T) {
	if code := ListenExec([]string{"--listen", "--"}); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
