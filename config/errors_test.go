package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "/p/.mcp-run", Line: 3, Key: "process.web.type", Msg: "bad"}, "/p/.mcp-run:3: process.web.type: bad"},
		{Error{File: "/p/.mcp-run", Key: "process", Msg: "bad"}, "/p/.mcp-run: process: bad"},
		{Error{File: "/p/.mcp-run", Line: 7, Msg: "bad"}, "/p/.mcp-run:7: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLoadErrors has one case per class of error. Each checks the *Error's
// line and key, and that the message names file, line and key and says what is valid.
func TestLoadErrors(t *testing.T) {
	t.Setenv(TokenEnv, "")                                                               // the host check depends on it
	const npm = "[process.web]\ntype = \"npm\"\ncommand = [\"npm\", \"run\", \"dev\"]\n" // lines 1-3
	tests := []struct {
		name string
		doc  string
		line int
		key  string
		msg  string
	}{
		// TOML and decoding
		{"syntax", "[process.web]\ntype = = \"go\"\n", 2, "", "invalid TOML"},
		{"duplicate key", "[process.web]\ntype = \"go\"\ntype = \"go\"\n", 3, "process.web.type", "already defined"},
		{"unknown top-level key", "mcp_prot = 1\n" + npm, 1, "mcp_prot", "valid: mcp_host, mcp_port"},
		{"unknown process key", npm + "comand = [\"x\"]\n", 4, "process.web.comand", "valid: type, args, command"},
		{"unknown ready key", npm + "[process.web.ready]\nlog = \"x\"\nregex = \"y\"\n", 6, "process.web.ready.regex", "valid: log, http, tcp, timeout_seconds"},
		{"unknown key in inline table", "[process]\nweb = { type = \"npm\", cmd = [\"x\"] }\n", 2, "process.web.cmd", "unknown key"},
		{"wrong type top-level", "mcp_port = \"3001\"\n" + npm, 1, "mcp_port", "must be an integer, not a string"},
		{"float for integer", "log_lines = 10.5\n" + npm, 1, "log_lines", "must be an integer, not a float"},
		{"wrong type process", "[process.web]\ntype = 1\n", 2, "process.web.type", "must be a string, not an integer"},
		{"command as string", "[process.web]\ntype = \"npm\"\ncommand = \"npm run dev\"\n", 3, "process.web.command", `write an array, e.g. command = ["npm", "run", "dev"]`},
		{"args as string", "[process.web]\ntype = \"go\"\nargs = \"--port 80\"\n", 3, "process.web.args", "write an array"},
		{"build as string", npm[:14] + "type = \"command\"\ncommand = [\"x\"]\nbuild = \"make\"\n", 4, "process.web.build", "write an array"},
		{"non-string in multi-line array", "[process.web]\ntype = \"npm\"\ncommand = [\n  \"npm\",\n  3,\n]\n", 5, "process.web.command", "not an array containing an integer"},
		{"env value not a string", npm + "env = { PORT = 8080 }\n", 4, "process.web.env", "must be a table of strings"},
		{"env table value not a string", npm + "[process.web.env]\nPORT = 8080\n", 5, "process.web.env.PORT", "must be a string, not an integer"},
		{"array of process tables", "[[process]]\ntype = \"go\"\n", 1, "process", "[process.NAME]"},
		// processes
		{"no processes", "mcp_port = 4000\n", 0, "process", "add a [process.NAME] table"},
		{"bad process name", "[process.\"my web\"]\ntype = \"go\"\n", 1, "process.my web", "valid: letters, digits"},
		{"missing type", "[process.web]\ncommand = [\"x\"]\n", 1, "process.web.type", "missing; valid: rust, npm, go, command"},
		{"unknown type", "[process.web]\n\ntype = \"ruby\"\n", 3, "process.web.type", `unknown process type "ruby"; valid: rust, npm, go, command`},
		{"missing command", "[process.web]\ntype = \"command\"\n", 1, "process.web.command", "missing"},
		{"empty command", "[process.web]\ntype = \"npm\"\ncommand = []\n", 3, "process.web.command", "empty"},
		{"empty program", "[process.web]\ntype = \"npm\"\ncommand = [\"\", \"x\"]\n", 3, "process.web.command", "first element"},
		{"args on npm", npm + "args = [\"x\"]\n", 4, "process.web.args", "only for rust and go processes; an npm process takes its whole argv from command"},
		{"command on go", "[process.api]\ntype = \"go\"\ncommand = [\"x\"]\n", 3, "process.api.command", "give its arguments with args"},
		{"build on rust", "[process.api]\ntype = \"rust\"\nbuild_release = [\"x\"]\n", 3, "process.api.build_release", "only for command processes"},
		{"package on rust", "[process.api]\ntype = \"rust\"\npackage = \"x\"\n", 3, "process.api.package", "picks its binary with bin"},
		{"bin on go", "[process.api]\ntype = \"go\"\nbin = \"x\"\n", 3, "process.api.bin", "only for rust processes"},
		{"missing dir", npm + "dir = \"nope\"\n", 4, "process.web.dir", "does not exist"},
		{"dir is a file", npm + "dir = \".mcp-run\"\n", 4, "process.web.dir", "not a directory"},
		{"bad env name", npm + "env = { \"A=B\" = \"1\" }\n", 4, "process.web.env.A=B", "invalid variable name"},
		{"bad signal", npm + "stop_signal = \"SIGSTOP\"\n", 4, "process.web.stop_signal", "valid: SIGTERM, SIGINT"},
		{"negative stop timeout", npm + "stop_timeout_seconds = -1\n", 4, "process.web.stop_timeout_seconds", "negative"},
		{"bad listen", npm + "listen = \"8080\"\n", 4, "process.web.listen", "not HOST:PORT"},
		{"listen port 0", npm + "listen = \":0\"\n", 4, "process.web.listen", "1..65535"},
		{"listen through a launcher", npm + "listen = \"127.0.0.1:8080\"\n", 4, "process.web.listen", "does not pass the socket (fd 3) on"},
		{"no ready probe", npm + "[process.web.ready]\ntimeout_seconds = 5\n", 4, "process.web.ready", "set exactly one of log, http, tcp"},
		{"two ready probes", npm + "ready = { log = \"x\", tcp = \":80\" }\n", 4, "process.web.ready.tcp", "only one of log, http, tcp"},
		{"bad regex", npm + "[process.web.ready]\n\nlog = \"(\"\n", 6, "process.web.ready.log", "bad regexp"},
		{"bad url scheme", npm + "ready.http = \"ftp://x/\"\n", 4, "process.web.ready.http", "http or https"},
		{"bad tcp", npm + "ready.tcp = \"localhost\"\n", 4, "process.web.ready.tcp", "HOST:PORT"},
		{"zero ready timeout", npm + "ready = { tcp = \":80\", timeout_seconds = 0 }\n", 4, "process.web.ready.timeout_seconds", "> 0"},
		// global numbers
		{"port 0", "mcp_port = 0\n" + npm, 1, "mcp_port", "valid: 1..65535"},
		{"port too big", "mcp_port = 70000\n" + npm, 1, "mcp_port", "valid: 1..65535"},
		{"host with port", "mcp_host = \"127.0.0.1:80\"\n" + npm, 1, "mcp_host", "set the port with mcp_port"},
		{"public host without token", "mcp_host = \"0.0.0.0\"\n" + npm, 1, "mcp_host", "not a loopback address and no token is set"},
		{"empty token", "mcp_token = \"\"\n" + npm, 1, "mcp_token", "empty"},
		{"negative duration", "\ndev_crash_wait_seconds = -0.5\n" + npm, 2, "dev_crash_wait_seconds", "negative"},
		{"zero dev timeout", "dev_timeout_hours = 0\n" + npm, 1, "dev_timeout_hours", "> 0"},
		{"nan duration", "release_crash_backoff_initial_seconds = nan\n" + npm, 1, "release_crash_backoff_initial_seconds", "not a number"},
		{"huge duration", "dev_timeout_hours = 1e12\n" + npm, 1, "dev_timeout_hours", "too long"},
		{"max below initial", "release_crash_backoff_initial_seconds = 10\nrelease_crash_backoff_max_seconds = 5\n" + npm, 2, "release_crash_backoff_max_seconds", "max >= initial"},
		{"max below initial, max default", "release_crash_backoff_initial_seconds = 301\n" + npm, 1, "release_crash_backoff_max_seconds", "max >= initial"},
		{"log_runs 0", "log_runs = 0\n" + npm, 1, "log_runs", "valid: 1.."},
		// orchestration
		{"unknown dependency", npm + "depends_on = [\"db\"]\n", 4, "process.web.depends_on", `unknown process "db"; known: web`},
		{"depends_on a string", npm + "depends_on = \"db\"\n", 4, "process.web.depends_on", `write an array of process names, e.g. depends_on = ["db"]`},
		{"self dependency", npm + "depends_on = [\"web\"]\n", 4, "process.web.depends_on", "depends on itself"},
		{"dependency cycle", npm + "depends_on = [\"api\"]\n[process.api]\ntype = \"npm\"\ncommand = [\"x\"]\ndepends_on = [\"web\"]\n", 4, "process.web.depends_on", "dependency cycle web -> api -> web"},
		{"restart_with_dependencies alone", npm + "restart_with_dependencies = true\n", 4, "process.web.restart_with_dependencies", "no depends_on to follow"},
		{"restart_with_dependencies not bool", npm + "restart_with_dependencies = 1\n", 4, "process.web.restart_with_dependencies", "must be a boolean"},
		{"health without probe", npm + "[process.web.health]\nfailures = 2\n", 4, "process.web.health", "set exactly one of http, tcp, exec"},
		{"health two probes", npm + "health = { http = \"http://x/\", tcp = \":80\" }\n", 4, "process.web.health.tcp", "only one of http, tcp, exec"},
		{"health exec string", npm + "health.exec = \"curl x\"\n", 4, "process.web.health.exec", "bpm runs no shell"},
		{"health failures 0", npm + "health = { tcp = \":80\", failures = 0 }\n", 4, "process.web.health.failures", "valid: 1..1000"},
		{"health zero interval", npm + "health = { tcp = \":80\", interval_seconds = 0 }\n", 4, "process.web.health.interval_seconds", "> 0"},
		{"health unknown key", npm + "health = { tcp = \":80\", retries = 2 }\n", 4, "process.web.health.retries", "valid: http, tcp, exec, interval_seconds"},
		{"limits empty", npm + "[process.web.limits]\n", 4, "process.web.limits", "no limit set; valid keys: open_files, memory_mb, cpu_percent"},
		{"open_files too low", npm + "limits.open_files = 3\n", 4, "process.web.limits.open_files", "valid: 16..1048576"},
		{"memory_mb 0", npm + "limits.memory_mb = 0\n", 4, "process.web.limits.memory_mb", "valid: 1.."},
		{"cpu_percent float", npm + "limits.cpu_percent = 0.5\n", 4, "process.web.limits.cpu_percent", "must be an integer"},
		{"log_dir is .bpm", "log_dir = \".bpm\"\n" + npm, 1, "log_dir", "bpm's own directory"},
		{"process name too long", "[process." + strings.Repeat("a", 65) + "]\ntype = \"npm\"\ncommand = [\"x\"]\n", 1, "process." + strings.Repeat("a", 65), "at most 64"},
		{"log_dir empty", "log_dir = \"\"\n" + npm, 1, "log_dir", "empty"},
		{"log_dir a file", "log_dir = \".mcp-run\"\n" + npm, 1, "log_dir", "is not a directory"},
		{"log_total below max", "log_max_mb = 20\nlog_total_mb = 10\n" + npm, 2, "log_total_mb", "log_total_mb >= log_max_mb"},
		{"log_keep negative", "log_keep = -1\n" + npm, 1, "log_keep", "valid: 0..1000"},
		{"crash_loop_crashes 1", "crash_loop_crashes = 1\n" + npm, 1, "crash_loop_crashes", "valid: 2..1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.doc)
			_, err := Load(dir)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load error = %v (%T), want *Error", err, err)
			}
			file := filepath.Join(dir, FileName)
			if ce.File != file || ce.Line != tt.line || ce.Key != tt.key {
				t.Errorf("File, Line, Key = %q, %d, %q; want %q, %d, %q", ce.File, ce.Line, ce.Key, file, tt.line, tt.key)
			}
			prefix := file
			if tt.line > 0 {
				prefix = fmt.Sprintf("%s:%d", file, tt.line)
			}
			if tt.key != "" {
				prefix += ": " + tt.key
			}
			if msg := err.Error(); !strings.HasPrefix(msg, prefix+": ") || !strings.Contains(msg, tt.msg) {
				t.Errorf("error %q\nwant prefix %q and text %q", msg, prefix, tt.msg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load = %v, want *Error wrapping fs.ErrNotExist", err)
	}
	if want := filepath.Join(dir, FileName) + ": cannot read"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
}
