// Command bpm keeps a project's processes built and running, and serves
// their logs, status and restarts to MCP clients.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors"
	"bpm/actors/osproc"
	"bpm/config"
	"bpm/export"
	"bpm/mcp"
	"bpm/tui"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage:
  bpm [--port N] [PROJECT_DIR]   run in the foreground (PROJECT_DIR defaults to .)
  bpm check [PROJECT_DIR]        validate PROJECT_DIR/.mcp-run and print the resolved plan
  bpm tui [URL]                  operator console (URL defaults to http://127.0.0.1:3001/mcp)
  bpm export systemd [--out DIR|-] [--name PREFIX] [--user] [--notify NAMES]
                     [--systemd-version N] [PROJECT_DIR]
                                 build in release mode and write systemd units that run
                                 the project without bpm (default --out ./systemd)
  bpm systemd [--user] [PROJECT_DIR]
                                 print a unit that runs bpm on the project at boot
  bpm version                    print the version
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return check(args[1:])
		case "tui":
			return tui.Run(args[1:])
		case "export":
			return exportUnits(args[1:])
		case "systemd":
			return bpmUnit(args[1:])
		case osproc.GuardArg:
			// bpm itself as the guard, where no shell can run it
			// (osproc.StartGuard).
			return osproc.RunGuard(os.Stdin)
		case osproc.ListenExecArg:
			// bpm itself, started between direnv and an app that takes a
			// `listen` socket: sets LISTEN_PID and execs the app.
			return osproc.ListenExec(args[1:])
		case "version", "--version":
			fmt.Println("bpm", version)
			return 0
		case "help", "-h", "--help":
			fmt.Print(usage)
			return 0
		}
	}
	return serve(args)
}

func check(args []string) int {
	if len(args) > 1 {
		fmt.Fprint(os.Stderr, "bpm check takes one PROJECT_DIR\n"+usage)
		return 2
	}
	cfg, code := load(args, 0)
	if cfg == nil {
		return code
	}
	if problems := append(cfg.CheckHost(), osproc.HostProblems(cfg)...); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "bpm:", p)
		}
		return 2
	}
	cfg.Describe(os.Stdout)
	return 0
}

// exportUnits is `bpm export FORMAT …` (package export).
func exportUnits(args []string) int {
	req, err := export.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Print(usage)
		return 0
	}
	if errors.Is(err, export.ErrUnknownFormat) {
		fmt.Fprintln(os.Stderr, "bpm:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bpm export: %v\n%s", err, usage)
		return 2
	}
	cfg, code := load(req.Dirs, 0)
	if cfg == nil {
		return code
	}
	return export.Run(req, cfg, os.Stdout, os.Stderr)
}

// bpmUnit is `bpm systemd [--user] [PROJECT_DIR]`: prints a unit running bpm.
func bpmUnit(args []string) int {
	fs := flag.NewFlagSet("bpm systemd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	user := fs.Bool("user", false, "a unit for a user manager")
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Print(usage)
		return 0
	}
	if err != nil || fs.NArg() > 1 {
		fmt.Fprintf(os.Stderr, "bpm systemd: expected [--user] [PROJECT_DIR]\n%s", usage)
		return 2
	}
	cfg, code := load(fs.Args(), 0)
	if cfg == nil {
		return code
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bpm: cannot find its own executable:", err)
		return 1
	}
	unit, warnings := export.BPMUnit(cfg, export.BPMUnitOptions{Self: self, User: *user, Path: os.Getenv("PATH")})
	os.Stdout.Write(unit)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "bpm: warning:", w)
	}
	return 0
}

// load reads the config of the project dir in args (default .), applying a
// --port override; on failure it prints why and returns the exit code.
func load(args []string, port int) (*config.Config, int) {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	cfg, err := config.Load(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bpm:", err)
		return nil, 2
	}
	if port != 0 {
		if err := cfg.SetMCPPort(port); err != nil {
			fmt.Fprintln(os.Stderr, "bpm:", err)
			return nil, 2
		}
	}
	if cfg.Envrc {
		if _, err := exec.LookPath("direnv"); err != nil {
			fmt.Fprintf(os.Stderr, "bpm: %s/.envrc exists but direnv is not installed; install it (apt-get install direnv, brew install direnv) or remove .envrc\n", cfg.Dir)
			return nil, 2
		}
	}
	return cfg, 0
}

func serve(args []string) int {
	fs := flag.NewFlagSet("bpm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	port := fs.Int("port", 0, "MCP port (overrides mcp_port)")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "bpm: %v\n%s", err, usage)
		return 2
	}
	if fs.NArg() > 1 || *port < 0 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "bpm: expected at most one PROJECT_DIR and a --port in 1..65535\n%s", usage)
		return 2
	}
	cfg, code := load(fs.Args(), *port)
	if cfg == nil {
		return code
	}
	slog.SetDefault(slog.New(actors.NewLogHandler(os.Stderr, slog.LevelInfo)))
	cgroups, code := prepareLimits(cfg)
	if code != 0 {
		return code
	}
	release, code := claimProject(cfg)
	if release == nil {
		return code
	}
	defer release()

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	// SIGHUP reloads the config, as daemons do (docs/operations.md).
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	// A closed stdout must not kill bpm (and so every process): with SIGPIPE
	// notified, writes fail with EPIPE instead. Notify, not Ignore: an ignored
	// signal would stay ignored in every child.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	// The MCP port first: a port in use fails before anything is built.
	listener, err := mcp.Listen(cfg.MCPHost, cfg.MCPPort)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bpm:", err)
		return 1
	}
	system := actors.NewSystem()
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bpm: cannot find its own executable:", err)
		return 1
	}
	sup, err := actors.Start(system, actors.Options{
		Config: cfg, Stdout: os.Stdout, Stderr: os.Stderr,
		Launcher:  []string{self, osproc.ListenExecArg},
		GuardArgv: []string{self, osproc.GuardArg},
		Cgroups:   cgroups,
	})
	if err != nil {
		listener.Close()
		fmt.Fprintln(os.Stderr, "bpm:", err)
		return 1
	}
	web := mcp.NewServer(mcp.NewHandler(system.Root, sup, mcp.Options{
		Token: cfg.MCPToken, Version: version,
		SessionIdle: cfg.SessionIdle, MaxSessions: cfg.MaxSessions, RestartSettle: cfg.RestartSettle,
	}))
	// Connections are capped well below the descriptor limit, so a flood of
	// clients cannot take the pipes a crash restart needs.
	go func() {
		if err := web.Serve(mcp.LimitListener(listener, mcp.MaxConns())); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("MCP server stopped", "err", err)
		}
	}()
	defer web.Close()
	slog.Info("bpm started", "project", cfg.Dir, "processes", len(cfg.Processes), "mcp", "http://"+listener.Addr().String()+"/mcp")

	sig := waitForStop(system, sup, signals, hups)
	slog.Info("stopping every process", "signal", sig.String())
	done := make(chan error, 1)
	go func() {
		// A clean shutdown waits as long as the slowest stop may take; past
		// that bpm kills what is left.
		_, err := actors.Ask[actors.StopReply](system.Root, sup, actors.StopRequest{}, shutdownTimeout(system, sup, cfg))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			slog.Error("shutdown", "err", err)
			system.Root.Send(sup, actors.KillRequest{})
			return 1
		}
		slog.Info("all processes stopped")
		return 0
	case sig := <-signals:
		slog.Warn("second signal: killing every process now", "signal", sig.String())
		system.Root.Send(sup, actors.KillRequest{})
		// Give the kill messages a moment to be delivered.
		select {
		case <-done:
		case <-time.After(500 * time.Millisecond):
		}
		return 130
	}
}

// waitForStop reloads the config on every SIGHUP until SIGINT or SIGTERM
// comes, and returns that signal. A reload is asked for in a goroutine, so
// a SIGTERM is handled at once even while a reload is under way.
func waitForStop(system *actor.ActorSystem, sup *actor.PID, signals, hups <-chan os.Signal) os.Signal {
	for {
		select {
		case sig := <-signals:
			return sig
		case <-hups:
			go reloadOnHUP(system, sup)
		}
	}
}

// shutdownTimeout is how long a clean shutdown may take, for the processes
// the supervisor runs now (a reload may have changed them); cfg's when it
// does not answer.
func shutdownTimeout(system *actor.ActorSystem, sup *actor.PID, cfg *config.Config) time.Duration {
	r, err := actors.Ask[actors.ShutdownTimeoutReply](system.Root, sup, actors.ShutdownTimeoutRequest{}, time.Second)
	if err != nil {
		return actors.ShutdownTimeout(cfg)
	}
	return r.Timeout
}

// reloadOnHUP asks the supervisor to reload and logs what it did.
func reloadOnHUP(system *actor.ActorSystem, sup *actor.PID) {
	r, err := actors.Ask[actors.ReloadReply](system.Root, sup, actors.ReloadRequest{}, 30*time.Second)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		slog.Error("SIGHUP: config not reloaded; everything keeps running", "err", err)
		return
	}
	slog.Info("SIGHUP: config reloaded", "added", r.Added, "removed", r.Removed, "changed", r.Changed, "notes", r.Notes)
}
