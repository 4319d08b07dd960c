package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const planDoc = `[process.core]
type = "rust"
args = ["serve", "--port", "80"]

[process.multi]
type = "rust"
bin = "worker"

[process.api]
type = "go"
package = "./cmd/api"
args = ["-v"]

[process.web]
type = "npm"
dir = "web"
command = ["npm", "run", "dev"]

[process.tool]
type = "command"
command = ["./tool", "--name", "two words", ""]
build = ["make"]
build_release = ["make", "release"]

[process.devonly]
type = "command"
command = ["./x"]
build = ["make", "x"]

[process.relonly]
type = "command"
command = ["./y"]
build_release = ["make", "y"]

[process.nobuild]
type = "command"
command = ["sleep", "1000"]
`

func TestArgv(t *testing.T) {
	for _, envrc := range []bool{false, true} {
		dir := project(t, planDoc, "web")
		if envrc {
			if err := os.WriteFile(filepath.Join(dir, ".envrc"), []byte("export A=1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c := mustLoad(t, dir)
		goOut := filepath.Join(dir, ".bpm", "api")
		if got := c.GoOutput(c.Process("api")); got != goOut {
			t.Errorf("GoOutput = %q, want %q", got, goOut)
		}
		cargo := []string{"cargo", "build", "--message-format=json-render-diagnostics"}
		tests := []struct {
			proc     string
			mode     Mode
			build    []string
			run      []string
			artifact string
		}{
			{"core", Dev, cargo, []string{"/t/core", "serve", "--port", "80"}, "/t/core"},
			{"core", Release, append(slices.Clone(cargo), "--release"), []string{"/t/core", "serve", "--port", "80"}, "/t/core"},
			{"multi", Dev, append(slices.Clone(cargo), "--bin", "worker"), []string{"/t/worker"}, "/t/worker"},
			{"multi", Release, append(slices.Clone(cargo), "--release", "--bin", "worker"), []string{"/t/worker"}, "/t/worker"},
			{"api", Dev, []string{"go", "build", "-o", goOut, "./cmd/api"}, []string{goOut, "-v"}, "ignored"},
			{"api", Release, []string{"go", "build", "-trimpath", "-o", goOut, "./cmd/api"}, []string{goOut, "-v"}, "ignored"},
			{"web", Dev, nil, []string{"npm", "run", "dev"}, "ignored"},
			{"web", Release, nil, []string{"npm", "run", "dev"}, ""},
			{"tool", Dev, []string{"make"}, []string{"./tool", "--name", "two words", ""}, ""},
			{"tool", Release, []string{"make", "release"}, []string{"./tool", "--name", "two words", ""}, ""},
			{"devonly", Release, []string{"make", "x"}, []string{"./x"}, ""},
			{"relonly", Dev, nil, []string{"./y"}, ""},
			{"relonly", Release, []string{"make", "y"}, []string{"./y"}, ""},
			{"nobuild", Dev, nil, []string{"sleep", "1000"}, ""},
			{"nobuild", Release, nil, []string{"sleep", "1000"}, ""},
		}
		wrap := func(argv []string) []string {
			if !envrc || argv == nil {
				return argv
			}
			return append([]string{"direnv", "exec", dir}, argv...)
		}
		for _, tt := range tests {
			name := tt.proc + "/" + string(tt.mode)
			if envrc {
				name += "/envrc"
			}
			t.Run(name, func(t *testing.T) {
				p := c.Process(tt.proc)
				if got, want := c.BuildArgv(p, tt.mode), wrap(tt.build); !slices.Equal(got, want) || (got == nil) != (want == nil) {
					t.Errorf("BuildArgv = %q, want %q", got, want)
				}
				if got, want := c.RunArgv(p, tt.mode, tt.artifact), wrap(tt.run); !slices.Equal(got, want) {
					t.Errorf("RunArgv = %q, want %q", got, want)
				}
			})
		}
	}
}

// TestArgvIsCallersCopy pins that changing a returned argv does not change the plan.
func TestArgvIsCallersCopy(t *testing.T) {
	c := mustLoad(t, project(t, planDoc, "web"))
	p := c.Process("tool")
	c.BuildArgv(p, Dev)[0] = "changed"
	c.RunArgv(p, Dev, "")[0] = "changed"
	if p.Build[0] != "make" || p.Command[0] != "./tool" {
		t.Errorf("plan changed through returned argv: build %q, command %q", p.Build, p.Command)
	}
}

func TestDescribe(t *testing.T) {
	dir := project(t, planDoc+`
[process.probe]
type = "go"
env = { SECRET = "hunter2", A = "1" }
stop_signal = "INT"
stop_timeout_seconds = 2
listen = "127.0.0.1:8080"
ready.log = 'listening on \d+'
`, "web")
	if err := os.WriteFile(filepath.Join(dir, ".envrc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(TokenEnv, "tok-secret")
	c := mustLoad(t, dir)
	var b strings.Builder
	c.Describe(&b)
	out := b.String()
	d := "direnv exec " + dir + " "
	want := []string{
		"file            " + c.File,
		"http://127.0.0.1:3001/mcp (token: set)",
		"timeout 3h0m0s, crash wait 2m0s",
		"\nprocess core (rust, line 1)\n",
		"release build   " + d + "cargo build --message-format=json-render-diagnostics --release\n",
		"dev build       " + d + "cargo build --message-format=json-render-diagnostics\n",
		"release run     " + d + "<cargo artifact> serve --port 80\n",
		"dev build       " + d + "go build -o " + filepath.Join(dir, ".bpm", "api") + " ./cmd/api\n",
		"release build   " + d + "go build -trimpath -o " + filepath.Join(dir, ".bpm", "api") + " ./cmd/api\n",
		"dir             " + filepath.Join(dir, "web") + "\n",
		"release build   (none)\n",
		"dev run         " + d + "npm run dev\n",
		`release run     ` + d + `./tool --name "two words" ""` + "\n",
		"release build   " + d + "make release\n",
		"env             A SECRET\n",
		"stop            SIGINT, SIGKILL after 2s\n",
		"listen          127.0.0.1:8080 as fd 3 (LISTEN_FDS=1, LISTEN_FDNAMES=probe, LISTEN_PID set by bpm __listen-exec)\n",
		"dev run         direnv exec " + dir + " bpm __listen-exec " + dir + "/.bpm/probe\n",
		"ready           log matches `listening on \\d+`, timeout 30s\n",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("Describe output lacks %q", w)
		}
	}
	for _, secret := range []string{"hunter2", "tok-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("Describe output shows secret %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestQuoteArg(t *testing.T) {
	tests := map[string]string{
		"plain":     "plain",
		"":          `""`,
		"two words": `"two words"`,
		"tab\there": `"tab\there"`,
		`say "hi"`:  `"say \"hi\""`,
		"--x=1":     "--x=1",
	}
	for in, want := range tests {
		if got := quoteArg(in); got != want {
			t.Errorf("quoteArg(%q) = %s, want %s", in, got, want)
		}
	}
}
