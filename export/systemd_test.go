package export

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"bpm/config"
	"bpm/testkit"
)

// exportSystemd loads mcpRun as a project and exports it with sd (nil: the
// defaults); rust and go artifacts are not needed by the projects here.
func exportSystemd(t *testing.T, mcpRun string, sd *Systemd) (*Result, map[string]testkit.Unit) {
	t.Helper()
	cfg, err := config.Load(testkit.NewProject(t, mcpRun))
	if err != nil {
		t.Fatal(err)
	}
	if sd == nil {
		sd = &Systemd{}
	}
	if err := sd.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	res, err := sd.Export(&Project{Config: cfg, Prefix: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]testkit.Unit{}
	for _, f := range res.Files {
		units[f.Name] = testkit.ParseUnit(f.Data)
	}
	return res, units
}

// writeFiles writes res's files into a new temp dir and returns their paths.
func writeFiles(t *testing.T, res *Result) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, f := range res.Files {
		paths = append(paths, filepath.Join(dir, f.Name))
		testkit.WriteFile(t, paths[len(paths)-1], string(f.Data))
	}
	return paths
}

// everything uses each key the exporter maps, with values that need quoting.
const everything = `
[process.db]
type = "command"
command = ["sleep", "1000"]
stop_signal = "SIGINT"
stop_timeout_seconds = 12.5

[process.db.ready]
tcp = "127.0.0.1:5433"
timeout_seconds = 20

[process.api]
type = "command"
command = ["sleep", "1000", "--flag=$HOME 100%", "two words"]
env = { GREETING = "hello world", PRICE = "$5 or 100%" }
listen = "127.0.0.1:18080"
depends_on = ["db"]
restart_with_dependencies = true

[process.api.ready]
http = "http://127.0.0.1:18080/health?x=1&y=%20"

[process.api.limits]
open_files = 4096
memory_mb = 512
cpu_percent = 150

[process.worker]
type = "command"
command = ["sleep", "1000"]
depends_on = ["db", "api"]

[process.worker.ready]
log = "worker (up|ready)"

[process.worker.health]
http = "http://127.0.0.1:18081/healthz"
`

// The Must-show check: what the exporter writes is what systemd accepts,
// for a system manager and for a user manager.
func TestExportedUnitsPassSystemdAnalyzeVerify(t *testing.T) {
	testkit.Need(t, "systemd-analyze")
	for _, user := range []bool{false, true} {
		res, _ := exportSystemd(t, everything, &Systemd{user: user, version: localSystemdVersion()})
		testkit.VerifyUnits(t, user, writeFiles(t, res)...)
	}
}

// A tester's project in /tmp/x/pct%dir$x: ExecStart= named the executable
// with "$$", which systemd does not unescape in the path ("is not executable").
func TestAProjectDirWithDollarAndPercentVerifies(t *testing.T) {
	testkit.Need(t, "systemd-analyze")
	dir := filepath.Join(t.TempDir(), "pct%dir$x${y}")
	app := filepath.Join(dir, "bin", "app")
	if err := os.MkdirAll(filepath.Dir(app), 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, app, "#!/bin/sh\nexec sleep 1000\n")
	if err := os.Chmod(app, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, ".mcp-run"), "[process.a]\ntype = \"command\"\ncommand = [\"./bin/app\", \"$1\"]\n")
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Systemd{}).Export(&Project{Config: cfg, Prefix: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.VerifyUnits(t, false, writeFiles(t, res)...)
	line := testkit.ParseUnit(res.Files[0].Data).Last("Service.ExecStart")
	path, argv, err := testkit.ExecCommand(line)
	if err != nil || path != app || !slices.Equal(argv, []string{app, "$1"}) {
		t.Errorf("ExecStart=%s runs %q with %q (%v), want %s with argv %q", line, path, argv, err, app, []string{app, "$1"})
	}
}

// bpm accepts any env name without '=' or NUL; systemd ignores an
// Environment= name that is not letters, digits and '_' (not starting with a
// digit), saying only "Invalid environment assignment, ignoring" in its log.
func TestEnvNamesSystemdRejectsAreWarnedNotExported(t *testing.T) {
	res, units := exportSystemd(t, "[process.a]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\n"+
		"[process.a.env]\n\"my-var\" = \"1\"\n\"A B\" = \"2\"\n\"1X\" = \"3\"\n\"é\" = \"4\"\n"+
		"\"X.Y\" = \"5\"\nOK_1 = \"6\"\n_u = \"7\"\nX1 = \"8\"\n", nil)
	var env []string
	for _, v := range units["shop-a.service"]["Service.Environment"] {
		words, err := testkit.EnvWords(v)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, words...)
	}
	if want := []string{"OK_1=6", "X1=8", "_u=7"}; !slices.Equal(env, want) {
		t.Errorf("Environment %q, want %q", env, want)
	}
	svc := fileData(res, "shop-a.service")
	for _, name := range []string{"my-var", "A B", "1X", "é", "X.Y"} {
		if !hasWarning(res, fmt.Sprintf("process a: env %q is not a variable name systemd accepts", name)) {
			t.Errorf("no warning about %q in\n%s", name, strings.Join(res.Warnings, "\n"))
		}
		if !strings.Contains(svc, fmt.Sprintf("# env %q: not set", name)) {
			t.Errorf("no comment about %q in\n%s", name, svc)
		}
	}
	testkit.VerifyUnits(t, false, writeFiles(t, res)...)
}

func TestAProcessWithListenGetsASocketUnit(t *testing.T) {
	for _, tc := range []struct{ listen, stream string }{
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"[::1]:9000", "[::1]:9000"},
		{":8080", "8080"},
		{"0.0.0.0:80", "0.0.0.0:80"},
		{"localhost:8081", "127.0.0.1:8081"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			_, units := exportSystemd(t, "[process.web]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\nlisten = \""+tc.listen+"\"\n", nil)
			sock, ok := units["shop-web.socket"]
			if !ok {
				t.Fatalf("no shop-web.socket among %v", keys(units))
			}
			if got := sock["Socket.ListenStream"]; !slices.Equal(got, []string{tc.stream}) {
				t.Errorf("ListenStream=%q, want %q", got, tc.stream)
			}
			if got := sock.Last("Socket.FileDescriptorName"); got != "web" {
				t.Errorf("FileDescriptorName=%q, want web (LISTEN_FDNAMES as bpm sets it)", got)
			}
			svc := units["shop-web.service"]
			for _, key := range []string{"Unit.Requires", "Unit.After"} {
				if !slices.Contains(svc[key], "shop-web.socket") {
					t.Errorf("%s=%q lacks shop-web.socket", key, svc[key])
				}
			}
			if wants := units["shop.target"].Last("Unit.Wants"); !strings.Contains(wants, "shop-web.socket") {
				t.Errorf("target Wants=%q lacks the socket", wants)
			}
		})
	}
}

func TestDependsOnBecomesRequiresAndAfter(t *testing.T) {
	res, units := exportSystemd(t, everything, nil)
	for name, deps := range map[string][]string{"api": {"shop-db.service"}, "worker": {"shop-db.service", "shop-api.service"}} {
		svc := units["shop-"+name+".service"]
		for _, key := range []string{"Unit.Requires", "Unit.After"} {
			var got []string
			for _, v := range svc[key] {
				got = append(got, strings.Fields(v)...)
			}
			for _, d := range deps {
				if !slices.Contains(got, d) {
					t.Errorf("%s: %s=%q lacks %s", name, key, svc[key], d)
				}
			}
		}
	}
	if _, ok := units["shop-db.service"]["Unit.Requires"]; ok {
		t.Errorf("db depends on nothing, yet Requires=%q", units["shop-db.service"]["Unit.Requires"])
	}
	// worker follows its dependencies' restarts under systemd, unlike under
	// bpm without restart_with_dependencies: that is said; api opted in.
	if !hasWarning(res, "process worker: systemd restarts it whenever db or api restarts") {
		t.Errorf("no warning about worker's restarts in %q", res.Warnings)
	}
	if hasWarning(res, "process api: systemd restarts it") {
		t.Errorf("api has restart_with_dependencies, yet warned: %q", res.Warnings)
	}
}

func TestServiceCarriesTheRunAsBPMRunsIt(t *testing.T) {
	_, units := exportSystemd(t, everything, &Systemd{version: 256})
	api, db := units["shop-api.service"], units["shop-db.service"]
	argv, err := testkit.ExecArgv(api.Last("Service.ExecStart"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sleep", "1000", "--flag=$HOME 100%", "two words"}; !filepath.IsAbs(argv[0]) ||
		filepath.Base(argv[0]) != "sleep" || !slices.Equal(argv[1:], want[1:]) {
		t.Errorf("ExecStart argv %q, want an absolute sleep and %q", argv, want[1:])
	}
	var env []string
	for _, v := range api["Service.Environment"] {
		words, err := testkit.EnvWords(v)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, words...)
	}
	if want := []string{"GREETING=hello world", "PRICE=$5 or 100%"}; !slices.Equal(env, want) {
		t.Errorf("Environment %q, want %q", env, want)
	}
	for key, want := range map[string]string{
		"Service.Type": "exec", "Service.Restart": "on-failure", "Service.RestartSec": "1s",
		"Service.RestartSteps": "14", "Service.RestartMaxDelaySec": "300s", "Service.KillMode": "control-group",
		"Service.KillSignal": "SIGTERM", "Service.TimeoutStopSec": "5s", "Service.TimeoutStartSec": "30s",
		"Service.LimitNOFILE": "4096", "Service.MemoryMax": "512M", "Service.CPUQuota": "150%",
		"Unit.PartOf": "shop.target", "Unit.StartLimitIntervalSec": "0",
	} {
		if got := api.Last(key); got != want {
			t.Errorf("api %s=%q, want %q", key, got, want)
		}
	}
	for key, want := range map[string]string{"Service.KillSignal": "SIGINT", "Service.TimeoutStopSec": "12.5s", "Service.TimeoutStartSec": "20s"} {
		if got := db.Last(key); got != want {
			t.Errorf("db %s=%q, want %q", key, got, want)
		}
	}
	if dir := api.Last("Service.WorkingDirectory"); !filepath.IsAbs(dir) {
		t.Errorf("WorkingDirectory=%q, want the project's absolute dir", dir)
	}
}

// systemd before 254 has no growing restart delay: the keys become a
// comment and a warning instead of a unit that older systemd complains about.
func TestRestartStepsOnlyForSystemd254AndLater(t *testing.T) {
	const one = "[process.a]\ntype = \"command\"\ncommand = [\"sleep\", \"1\"]\n"
	res, units := exportSystemd(t, one, &Systemd{version: 252})
	if v, ok := units["shop-a.service"]["Service.RestartSteps"]; ok {
		t.Errorf("systemd 252 got RestartSteps=%q", v)
	}
	if !strings.Contains(string(res.Files[0].Data), "# RestartSteps=14") || !hasWarning(res, "systemd 252 restarts every 1s") {
		t.Errorf("no comment or warning for systemd 252:\n%s\n%q", res.Files[0].Data, res.Warnings)
	}
	res, units = exportSystemd(t, one, &Systemd{version: 254})
	if got := units["shop-a.service"].Last("Service.RestartSteps"); got != "14" || hasWarning(res, "RestartSteps") {
		t.Errorf("systemd 254: RestartSteps=%q, warnings %q", got, res.Warnings)
	}
}

// Nothing bpm does is dropped silently: what systemd cannot express is a
// warning, and a comment in the unit it concerns.
func TestWhatSystemdCannotDoIsWarned(t *testing.T) {
	res, _ := exportSystemd(t, everything, nil)
	for _, want := range []string{
		"systemd does not build", "no rollback", "no dev and release modes", "no MCP tools",
		"systemctl restart stops the old run before it starts the new one",
		`process worker: its ready check on the log ("worker (up|ready)") has no systemd form`,
		"process worker: systemd has no liveness probe",
	} {
		if !hasWarning(res, want) {
			t.Errorf("no warning %q in\n%s", want, strings.Join(res.Warnings, "\n"))
		}
	}
	worker := fileData(res, "shop-worker.service")
	for _, want := range []string{"# [process.worker.ready] log =", "# [process.worker.health] http 2xx from http://127.0.0.1:18081/healthz every 10s, 3 failures"} {
		if !strings.Contains(worker, want) {
			t.Errorf("shop-worker.service lacks the comment %q:\n%s", want, worker)
		}
	}
}

func TestNotifyMakesTypeNotify(t *testing.T) {
	res, units := exportSystemd(t, everything, &Systemd{notify: "worker, db"})
	for _, name := range []string{"worker", "db"} {
		if got := units["shop-"+name+".service"].Last("Service.Type"); got != "notify" {
			t.Errorf("%s: Type=%q, want notify", name, got)
		}
	}
	if _, ok := units["shop-db.service"]["Service.ExecStartPost"]; ok {
		t.Error("db sends READY=1, yet has a probe")
	}
	if hasWarning(res, "process worker: its ready check on the log") {
		t.Error("worker sends READY=1, yet its log check is warned about")
	}
	cfg, err := config.Load(testkit.NewProject(t, everything))
	if err != nil {
		t.Fatal(err)
	}
	err = (&Systemd{notify: "web"}).Validate(cfg)
	if err == nil || !strings.Contains(err.Error(), `unknown process "web"; known: db, api, worker`) {
		t.Errorf("--notify web: %v", err)
	}
}

func TestUserUnitsHaveNoUserAndAreWantedByDefaultTarget(t *testing.T) {
	_, units := exportSystemd(t, everything, &Systemd{user: true})
	if u, ok := units["shop-db.service"]["Service.User"]; ok {
		t.Errorf("a user manager's unit with User=%q", u)
	}
	if got := units["shop.target"].Last("Install.WantedBy"); got != "default.target" {
		t.Errorf("WantedBy=%q, want default.target", got)
	}
	_, units = exportSystemd(t, everything, nil)
	if got := units["shop.target"].Last("Install.WantedBy"); got != "multi-user.target" {
		t.Errorf("system units: WantedBy=%q, want multi-user.target", got)
	}
	if units["shop-db.service"].Last("Service.User") == "" {
		t.Error("a system unit without User=")
	}
}

func hasWarning(res *Result, part string) bool {
	return slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, part) })
}

func fileData(res *Result, name string) string {
	for _, f := range res.Files {
		if f.Name == name {
			return string(f.Data)
		}
	}
	return ""
}

func keys(m map[string]testkit.Unit) []string {
	var k []string
	for name := range m {
		k = append(k, name)
	}
	slices.Sort(k)
	return k
}

// A command found in PATH is written with its absolute path; found outside
// systemd's PATH, its directory leads the unit's PATH (node beside npm). A
// relative path is relative to dir.
func TestCommandsGetAbsoluteExecutables(t *testing.T) {
	bin := t.TempDir()
	testkit.WriteFile(t, filepath.Join(bin, "myserver"), "#!/bin/sh\nexec sleep 1000\n")
	if err := os.Chmod(filepath.Join(bin, "myserver"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(filepath.ListSeparator)+os.Getenv("PATH"))
	res, units := exportSystemd(t, "[process.a]\ntype = \"command\"\ncommand = [\"myserver\", \"-v\"]\n"+
		"[process.b]\ntype = \"command\"\ncommand = [\"./run.sh\"]\n", nil)
	a, b := units["shop-a.service"], units["shop-b.service"]
	if got, want := a.Last("Service.ExecStart"), filepath.Join(bin, "myserver")+" -v"; got != want {
		t.Errorf("ExecStart=%s, want %s", got, want)
	}
	if got, want := a.Last("Service.Environment"), "PATH="+bin+":"+defaultPath; got != want {
		t.Errorf("Environment=%s, want %s", got, want)
	}
	if got, want := b.Last("Service.ExecStart"), filepath.Join(b.Last("Service.WorkingDirectory"), "run.sh"); got != want {
		t.Errorf("ExecStart=%s, want %s", got, want)
	}
	if _, ok := b["Service.Environment"]; ok {
		t.Errorf("b has Environment=%q", b["Service.Environment"])
	}
	if hasWarning(res, "not on this machine's PATH") {
		t.Errorf("warned: %q", res.Warnings)
	}
}
