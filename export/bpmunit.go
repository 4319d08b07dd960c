package export

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"bpm/actors"
	"bpm/config"
)

// BPMUnitOptions says how `bpm systemd` runs bpm.
type BPMUnitOptions struct {
	Self string // absolute path of the bpm executable
	User bool   // a unit for a user manager (systemctl --user)
	Path string // PATH for bpm's builds and runs; "" leaves systemd's
}

// BPMUnitName is the file name of the unit `bpm systemd` prints for cfg.
func BPMUnitName(cfg *config.Config) string {
	return "bpm-" + DefaultPrefix(cfg.Dir) + ".service"
}

// BPMUnit returns a unit that runs bpm on cfg's project at boot, with the
// warnings about what it cannot carry over.
func BPMUnit(cfg *config.Config, o BPMUnitOptions) ([]byte, []string) {
	u := &unit{}
	bpmUnitHead(u, cfg, o)
	warn := bpmUnitService(u, cfg, o)
	u.section("Install")
	if o.User {
		u.set("WantedBy", "default.target")
	} else {
		u.set("WantedBy", "multi-user.target")
	}
	if temporary(o.Self) {
		warn = append(warn, fmt.Sprintf("bpm runs from %s, in the temp dir (where `go run` builds): install it (go build -o /usr/local/bin/bpm .) and run bpm systemd from there", o.Self))
	}
	return u.bytes(), warn
}

// bpmUnitHead writes the opening comment, with the install steps, and [Unit].
func bpmUnitHead(u *unit, cfg *config.Config, o BPMUnitOptions) {
	name := BPMUnitName(cfg)
	u.comment("%s: runs bpm on %s. Written by `bpm systemd`.", name, cfg.Dir)
	if o.User {
		u.comment("Install: save as ~/.config/systemd/user/%s, then\n"+
			"  systemctl --user daemon-reload && systemctl --user enable --now %s\n"+
			"  loginctl enable-linger \"$USER\"   # keeps it running without a login", name, name)
	} else {
		u.comment("Install: save as /etc/systemd/system/%s, then\n"+
			"  systemctl daemon-reload && systemctl enable --now %s", name, name)
	}
	u.section("Unit")
	u.set("Description", plain("bpm on "+cfg.Dir))
	if !o.User {
		u.set("Wants", "network-online.target")
		u.set("After", "network-online.target")
	}
}

// bpmUnitService writes [Service] and returns the warnings about it.
func bpmUnitService(u *unit, cfg *config.Config, o BPMUnitOptions) []string {
	var warn []string
	u.section("Service")
	u.set("Type", "simple")
	if !o.User {
		u.set("User", plain(currentUser()))
	}
	u.set("WorkingDirectory", plain(cfg.Dir))
	if o.Path != "" {
		u.comment("The PATH `bpm systemd` ran with: builds and runs find go, cargo, npm and direnv as they did.")
		u.set("Environment", envWord("PATH="+o.Path))
	}
	if os.Getenv(config.TokenEnv) != "" {
		u.comment("The MCP token came from %s, which this unit does not set: add\n"+
			"Environment=%s=… here, or mcp_token to .mcp-run.", config.TokenEnv, config.TokenEnv)
		warn = append(warn, fmt.Sprintf("the MCP token comes from %s, which the unit does not carry over; set it in the unit or in .mcp-run", config.TokenEnv))
	}
	u.set("ExecStart", execLine([]string{o.Self, cfg.Dir}))
	u.comment("bpm reads .mcp-run again on SIGHUP (systemctl reload); every process keeps running.")
	u.set("ExecReload", "/bin/kill -HUP $MAINPID")
	u.set("Restart", "on-failure")
	u.set("RestartSec", "5s")
	u.comment("Exit 2 is bad usage or a bad .mcp-run: starting again does not help.")
	u.set("RestartPreventExitStatus", "2")
	u.comment("SIGTERM to bpm alone: it stops every process with its own stop signal and timeout,\n" +
		"in order, and exits 0. With control-group every process would get SIGTERM at once and\n" +
		"bpm would count their exits as crashes. SIGKILL then reaches whatever is left.")
	u.set("KillMode", "mixed")
	u.set("TimeoutStopSec", seconds((actors.ShutdownTimeout(cfg) + 5*time.Second).Round(time.Second)))
	if limited(cfg) {
		u.comment("[limits] memory_mb and cpu_percent: bpm gives each run a cgroup v2 of its own under\n" +
			"this unit's cgroup, which systemd lets it write only with Delegate=yes. Without it\n" +
			"memory_mb falls back to RLIMIT_AS and cpu_percent stops bpm at start (exit 2).")
		u.set("Delegate", "yes")
	}
	return warn
}

// limited reports whether a process of cfg has a limit bpm applies through
// a cgroup: memory_mb or cpu_percent.
func limited(cfg *config.Config) bool {
	for _, p := range cfg.Processes {
		if l := p.Limits; l != nil && (l.MemoryMB > 0 || l.CPUPercent > 0) {
			return true
		}
	}
	return false
}

// temporary reports whether path is in the temp dir, as `go run` builds are.
func temporary(path string) bool {
	rel, err := filepath.Rel(os.TempDir(), path)
	return err == nil && !strings.HasPrefix(rel, "..")
}
