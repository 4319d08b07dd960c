package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// exported runs `bpm export systemd --out - ARGS…` and returns the files it
// printed (name → content) and its stderr, failing unless it exits 0.
func exported(t *testing.T, args ...string) (map[string]string, string) {
	t.Helper()
	cmd := exec.Command(bpmBin, append([]string{"export", "systemd", "--out", "-"}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bpm export systemd %v: %v\n%s", args, err, stderr.String())
	}
	files := map[string]string{}
	parts := regexp.MustCompile(`(?m)^==> (\S+) <==\n`).Split(stdout.String(), -1)
	names := regexp.MustCompile(`(?m)^==> (\S+) <==\n`).FindAllStringSubmatch(stdout.String(), -1)
	if len(parts) != len(names)+1 || parts[0] != "" {
		t.Fatalf("stdout is not files after ==> NAME <== markers:\n%s", stdout.String())
	}
	for i, m := range names {
		files[m[1]] = strings.TrimSuffix(parts[i+1], "\n\n") + "\n"
	}
	return files, stderr.String()
}

// verified writes files into a temp dir and checks them with systemd-analyze verify.
func verified(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for name, data := range files {
		paths = append(paths, filepath.Join(dir, name))
		testkit.WriteFile(t, paths[len(paths)-1], data)
	}
	testkit.VerifyUnits(t, false, paths...)
}

// socketActivated runs a service's ExecStart as systemd would with its
// socket unit: under systemd-socket-activate listening on ListenStream=,
// named FileDescriptorName=, in WorkingDirectory= with Environment= and env.
// Like systemd, systemd-socket-activate passes on a clean environment.
func socketActivated(t *testing.T, service, socket string, env ...string) *bpmProcess {
	t.Helper()
	testkit.Need(t, "systemd-socket-activate")
	svc, sock := testkit.ParseUnit([]byte(service)), testkit.ParseUnit([]byte(socket))
	argv, err := testkit.ExecArgv(svc.Last("Service.ExecStart"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-l", sock.Last("Socket.ListenStream"), "--fdname=" + sock.Last("Socket.FileDescriptorName")}
	for _, v := range svc["Service.Environment"] {
		words, err := testkit.EnvWords(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range words {
			args = append(args, "-E", kv)
		}
	}
	for _, kv := range env {
		args = append(args, "-E", kv)
	}
	cmd := exec.Command("systemd-socket-activate", append(args, argv...)...)
	cmd.Dir = svc.Last("Service.WorkingDirectory")
	return startCmd(t, cmd)
}

// The Must-show proof that an app needs no change to leave bpm: the exported
// ExecStart of a `listen` process, run as systemd runs it with the exported
// socket unit, serves HTTP on the socket systemd hands it, as the process
// systemd started (LISTEN_PID), with the release build and the env.
// With an .envrc the ExecStart goes through direnv exec, which execs the app
// in its place, so LISTEN_PID still names the app. The rust fixture runs the
// executable cargo's artifact messages named.
func TestExportedListenProcessServesUnderSocketActivation(t *testing.T) {
	t.Run("go", func(t *testing.T) { servesUnderSocketActivation(t, "goapp", false) })
	t.Run("go+direnv", func(t *testing.T) { servesUnderSocketActivation(t, "goapp", true) })
	t.Run("rust", func(t *testing.T) { servesUnderSocketActivation(t, "rustapp", false) })
}

func servesUnderSocketActivation(t *testing.T, fixture string, envrc bool) {
	typ := map[string]string{"goapp": "go", "rustapp": "rust"}[fixture]
	testkit.Need(t, map[string]string{"go": "go", "rust": "cargo"}[typ])
	dir := t.TempDir()
	testkit.CopyDir(t, "testdata/"+fixture, filepath.Join(dir, "app"))
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	testkit.WriteFile(t, filepath.Join(dir, ".mcp-run"), "[process.app]\ntype = \""+typ+"\"\ndir = \"app\"\n"+
		"listen = \""+addr+"\"\nenv = { FIXTURE_ECHO = \"a $HOME 100% \\\"quoted\\\" word\" }\n")
	var env []string // what the units' user has: its direnv allow list
	if envrc {
		testkit.Need(t, "direnv")
		home := t.TempDir()
		env = []string{"XDG_DATA_HOME=" + filepath.Join(home, "data"), "XDG_CONFIG_HOME=" + filepath.Join(home, "config")}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		testkit.WriteFile(t, filepath.Join(dir, ".envrc"), "export FIXTURE_ECHO=\"$FIXTURE_ECHO via-envrc\"\n")
		if out, err := exec.Command("direnv", "allow", dir).CombinedOutput(); err != nil {
			t.Fatalf("direnv allow: %v\n%s", err, out)
		}
	}
	files, stderr := exported(t, "--name", "demo", dir)
	execStart := testkit.ParseUnit([]byte(files["demo-app.service"])).Last("Service.ExecStart")
	if viaDirenv := strings.Contains(execStart, "/direnv exec "+dir+" "); viaDirenv != envrc {
		t.Errorf("ExecStart=%s: through direnv %v, want %v", execStart, viaDirenv, envrc)
	}
	built := map[string]string{"go": filepath.Join(dir, ".bpm", "app"), "rust": filepath.Join(dir, "app", "target", "release", "rustapp")}[typ]
	if !strings.HasSuffix(execStart, " "+built) && execStart != built {
		t.Errorf("ExecStart=%s, want the release build %s", execStart, built)
	}
	for _, name := range []string{"demo-app.service", "demo-app.socket", "demo.target"} {
		if files[name] == "" {
			t.Fatalf("no %s among the exported files (stderr:\n%s)", name, stderr)
		}
	}
	verified(t, files)
	if got := testkit.ParseUnit([]byte(files["demo-app.socket"])).Last("Socket.ListenStream"); got != addr {
		t.Errorf("ListenStream=%s, want the configured %s", got, addr)
	}

	// systemd-socket-activate starts the app on the first connection, which
	// waits in the socket's backlog meanwhile.
	app := socketActivated(t, files["demo-app.service"], files["demo-app.socket"], env...)
	pid := strconv.Itoa(app.cmd.Process.Pid)
	var body string
	testkit.WaitFor(t, 30*time.Second, "an answer on "+addr, func() bool {
		body = testkit.Get("http://" + addr + "/")
		return body != ""
	})
	if body != "pid="+pid+"\n" {
		t.Errorf("GET http://%s/ = %q, want pid=%s", addr, body, pid)
	}
	app.waitOutput(t, fixture+` started pid=`+pid+` mode=release\n`, 10*time.Second)
	echo := `echo=a \$HOME 100% "quoted" word\n`
	if envrc {
		echo = `echo=a \$HOME 100% "quoted" word via-envrc\n`
	}
	app.waitOutput(t, echo, 10*time.Second)
	if fixture != "goapp" {
		// rustapp installs its SIGTERM handler after it serves, with no line
		// to wait for; the graceful stop is checked with goapp.
		return
	}
	app.waitOutput(t, `goapp inherited fd 3 LISTEN_PID=`+pid+` LISTEN_FDNAMES=app\n`, 10*time.Second)
	app.cmd.Process.Signal(syscall.SIGTERM)
	if code := app.wait(t, 30*time.Second); code != 0 {
		t.Errorf("the app exited %d on KillSignal=SIGTERM, want 0", code)
	}
}

// The demo project, exported whole (docs/operations.md shows it): its units
// verify, and its server answers on the socket systemd would hold.
func TestExportOfTheHelloExampleVerifiesAndServes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "hello")
	testkit.CopyDir(t, "examples/hello", dir)
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	mcpRun, err := os.ReadFile(filepath.Join(dir, ".mcp-run"))
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, ".mcp-run"), strings.Replace(string(mcpRun), "127.0.0.1:8080", addr, 1))
	files, stderr := exported(t, dir)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	if want := []string{"hello-hello.service", "hello-hello.socket", "hello.target"}; !slices.Equal(names, want) {
		t.Fatalf("exported %q, want %q", names, want)
	}
	verified(t, files)
	for _, w := range []string{"bpm: building hello (release): go build -trimpath", "warning: systemd does not build", "warning: no MCP tools"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	// The first connection starts the app (systemd-socket-activate waits for it).
	app := socketActivated(t, files["hello-hello.service"], files["hello-hello.socket"])
	testkit.WaitFor(t, 30*time.Second, "hello to answer on "+addr, func() bool {
		return strings.HasPrefix(testkit.Get("http://"+addr+"/"), "Hello from bpm's demo: pid "+strconv.Itoa(app.cmd.Process.Pid))
	})
}

func TestExportExitCodes(t *testing.T) {
	t.Parallel()
	broken := t.TempDir()
	testkit.CopyDir(t, "testdata/goapp", broken)
	testkit.WriteFile(t, filepath.Join(broken, "broken.go"), "package main\n\nfunc broken() { undefinedName() }\n")
	testkit.WriteFile(t, filepath.Join(broken, ".mcp-run"), "[process.app]\ntype = \"go\"\n")
	out := filepath.Join(t.TempDir(), "units")
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"export", "docker-compose", "."}, 2, `unknown export format "docker-compose"; valid: systemd`},
		{[]string{"export"}, 2, "missing the export format; valid: systemd"},
		{[]string{"export", "systemd", "a", "b"}, 2, "usage:"},
		{[]string{"export", "systemd", "--bogus", "."}, 2, "usage:"},
		{[]string{"export", "systemd", "--name", "a/b", broken}, 2, `--name "a/b": valid: letters, digits`},
		{[]string{"export", "systemd", "--notify", "web", broken}, 2, `--notify: unknown process "web"; known: app`},
		{[]string{"export", "systemd", "--out", out, broken}, 1, "build app failed"},
		{[]string{"systemd", "--bogus"}, 2, "usage:"},
	} {
		code, stderr := runBPM(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.says) {
			t.Errorf("bpm %q: exit %d, want %d saying %q; stderr:\n%s", tc.args, code, tc.code, tc.says, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed build still wrote %s (%v)", out, err)
	}
}

// `bpm systemd` prints a unit that systemd accepts and that runs this bpm on
// the project, with KillMode=mixed so that bpm stops its processes itself,
// SIGHUP for systemctl reload, and no Delegate= without cgroup limits.
func TestSystemdPrintsAUnitRunningBPM(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, "[process.a]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\nstop_timeout_seconds = 20\n")
	for _, user := range []bool{false, true} {
		args := []string{"systemd", dir}
		if user {
			args = []string{"systemd", "--user", dir}
		}
		cmd := exec.Command(bpmBin, args...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bpm %v: %v", args, err)
		}
		path := filepath.Join(t.TempDir(), "bpm-x.service")
		testkit.WriteFile(t, path, string(out))
		testkit.VerifyUnits(t, user, path)
		u := testkit.ParseUnit(out)
		argv, err := testkit.ExecArgv(u.Last("Service.ExecStart"))
		if err != nil || !slices.Equal(argv, []string{bpmBin, dir}) {
			t.Errorf("ExecStart argv %q (%v), want %q", argv, err, []string{bpmBin, dir})
		}
		want := map[string]string{"Service.Type": "simple", "Service.KillMode": "mixed", "Service.Restart": "on-failure",
			"Service.WorkingDirectory": dir, "Service.RestartPreventExitStatus": "2", "Install.WantedBy": "multi-user.target",
			"Service.ExecReload": "/bin/kill -HUP $MAINPID", "Service.Delegate": ""}
		if user {
			want["Install.WantedBy"] = "default.target"
		}
		for key, v := range want {
			if got := u.Last(key); got != v {
				t.Errorf("bpm %v: %s=%q, want %q", args, key, got, v)
			}
		}
		if stop, _ := strconv.ParseFloat(strings.TrimSuffix(u.Last("Service.TimeoutStopSec"), "s"), 64); stop < 20+30 {
			t.Errorf("TimeoutStopSec=%s does not cover the 20 s stop timeout and bpm's margin", u.Last("Service.TimeoutStopSec"))
		}
		if _, ok := u["Service.User"]; ok == user {
			t.Errorf("bpm %v: User= present: %v", args, ok)
		}
	}
}

// Without --out the units go to ./systemd/, named with --name's prefix.
func TestExportWritesIntoSystemdDirByDefault(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, "[process.a]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\n")
	cwd := t.TempDir()
	cmd := exec.Command(bpmBin, "export", "systemd", "--name", "shop", dir)
	cmd.Dir = cwd
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	entries, err := os.ReadDir(filepath.Join(cwd, "systemd"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"shop-a.service", "shop.target"}; !slices.Equal(names, want) {
		t.Errorf("./systemd holds %q, want %q", names, want)
	}
}
