package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

type rawHealth struct {
	HTTP     *string  `toml:"http"`
	TCP      *string  `toml:"tcp"`
	Exec     []string `toml:"exec"`
	Interval *float64 `toml:"interval_seconds"`
	Timeout  *float64 `toml:"timeout_seconds"`
	Failures *int64   `toml:"failures"`
}

type rawLimits struct {
	OpenFiles  *int64 `toml:"open_files"`
	MemoryMB   *int64 `toml:"memory_mb"`
	CPUPercent *int64 `toml:"cpu_percent"`
}

// dependsOn checks the form of depends_on; names and cycles are checked once
// every process is known (validator.dependencies).
func (v *procValidator) dependsOn(_ *Config, r *rawProcess, p *Process) *Error {
	seen := map[string]bool{}
	for _, d := range r.DependsOn {
		switch {
		case d == v.name:
			return v.errAt("depends_on", "%q depends on itself; valid: names of other processes", d)
		case seen[d]:
			return v.errAt("depends_on", "%q is listed twice; list each dependency once", d)
		}
		seen[d] = true
	}
	p.DependsOn = r.DependsOn
	if r.RestartDeps != nil {
		if *r.RestartDeps && len(p.DependsOn) == 0 {
			return v.errAt("restart_with_dependencies", "set, but there is no depends_on to follow; add depends_on = [\"db\"] or remove the key")
		}
		p.RestartWithDeps = *r.RestartDeps
	}
	return nil
}

// health resolves [process.NAME.health].
func (v *procValidator) health(_ *Config, r *rawProcess, p *Process) *Error {
	rh := r.Health
	if rh == nil {
		return nil
	}
	var set []string
	if rh.HTTP != nil {
		set = append(set, "http")
	}
	if rh.TCP != nil {
		set = append(set, "tcp")
	}
	if rh.Exec != nil {
		set = append(set, "exec")
	}
	switch len(set) {
	case 0:
		return v.errAt("health", `no probe; set exactly one of http, tcp, exec, e.g. http = "http://127.0.0.1:8080/health"`)
	case 1:
	default:
		return v.errAt("health."+set[1], "only one of http, tcp, exec may be set; found %s", strings.Join(set, " and "))
	}
	h := &Health{Interval: 10 * time.Second, Timeout: 5 * time.Second, Failures: 3}
	var msg string
	switch {
	case rh.HTTP != nil:
		h.HTTP, msg = *rh.HTTP, checkURL(*rh.HTTP)
	case rh.TCP != nil:
		h.TCP, msg = *rh.TCP, checkAddr(*rh.TCP)
	default:
		if err := v.checkArgv("health.exec", rh.Exec); err != nil {
			return err
		}
		h.Exec = rh.Exec
	}
	if msg != "" {
		return v.errAt("health."+set[0], "%s", msg)
	}
	for _, d := range []struct {
		key string
		val *float64
		dst *time.Duration
	}{{"interval_seconds", rh.Interval, &h.Interval}, {"timeout_seconds", rh.Timeout, &h.Timeout}} {
		if d.val == nil {
			continue
		}
		got, msg := toDuration(*d.val, time.Second, true)
		if msg != "" {
			return v.errAt("health."+d.key, "%s", msg)
		}
		*d.dst = got
	}
	if rh.Failures != nil {
		if *rh.Failures < 1 || *rh.Failures > 1000 {
			return v.errAt("health.failures", "%d out of range; valid: 1..1000 failed probes in a row", *rh.Failures)
		}
		h.Failures = int(*rh.Failures)
	}
	p.Health = h
	return nil
}

// limits resolves [process.NAME.limits]. Whether this host can apply
// cpu_percent is checked when bpm starts (CheckHost), not here.
func (v *procValidator) limits(_ *Config, r *rawProcess, p *Process) *Error {
	rl := r.Limits
	if rl == nil {
		return nil
	}
	l := &Limits{}
	if rl.OpenFiles != nil {
		if *rl.OpenFiles < 16 || *rl.OpenFiles > 1<<20 {
			return v.errAt("limits.open_files", "%d out of range; valid: 16..1048576 open files", *rl.OpenFiles)
		}
		l.OpenFiles = uint64(*rl.OpenFiles)
	}
	if rl.MemoryMB != nil {
		if *rl.MemoryMB < 1 || *rl.MemoryMB > 1<<30 {
			return v.errAt("limits.memory_mb", "%d out of range; valid: 1..%d MiB", *rl.MemoryMB, 1<<30)
		}
		l.MemoryMB = *rl.MemoryMB
	}
	if rl.CPUPercent != nil {
		if *rl.CPUPercent < 1 || *rl.CPUPercent > 100*1024 {
			return v.errAt("limits.cpu_percent", "%d out of range; valid: 1..%d percent of one CPU (200: two CPUs)", *rl.CPUPercent, 100*1024)
		}
		l.CPUPercent = int(*rl.CPUPercent)
	}
	if *l == (Limits{}) {
		return v.errAt("limits", "no limit set; valid keys: %s", strings.Join(limitsKeys, ", "))
	}
	p.Limits = l
	return nil
}

// dependencies checks that every depends_on name is a process and that no
// process depends on itself through others.
func (v *validator) dependencies(c *Config) *Error {
	names := c.Names()
	for _, p := range c.Processes {
		for _, d := range p.DependsOn {
			if c.Process(d) == nil {
				return v.errAt([]string{"process", p.Name, "depends_on"}, [][]string{{"process", p.Name}},
					"unknown process %q; known: %s", d, strings.Join(names, ", "))
			}
		}
	}
	if cycle := c.cycle(); cycle != nil {
		return v.errAt([]string{"process", cycle[0], "depends_on"}, [][]string{{"process", cycle[0]}},
			"dependency cycle %s; valid: dependencies that end somewhere", strings.Join(cycle, " -> "))
	}
	return nil
}

// cycle returns a dependency cycle as the names along it, first repeated
// last, or nil when there is none.
func (c *Config) cycle() []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string) []string
	visit = func(name string) []string {
		switch state[name] {
		case onPath:
			i := slices.Index(path, name)
			return append(slices.Clone(path[i:]), name)
		case done:
			return nil
		}
		state[name] = onPath
		path = append(path, name)
		for _, d := range c.Process(name).DependsOn {
			if cyc := visit(d); cyc != nil {
				return cyc
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	for _, p := range c.Processes {
		if cyc := visit(p.Name); cyc != nil {
			return cyc
		}
	}
	return nil
}

// StartOrder returns the process names so that every process comes after
// its dependencies, otherwise in file order. Stopping goes in reverse.
func (c *Config) StartOrder() []string {
	placed := map[string]bool{}
	var order []string
	var place func(p *Process)
	place = func(p *Process) {
		if placed[p.Name] {
			return
		}
		placed[p.Name] = true
		for _, d := range p.DependsOn {
			if dp := c.Process(d); dp != nil {
				place(dp)
			}
		}
		order = append(order, p.Name)
	}
	for _, p := range c.Processes {
		place(p)
	}
	return order
}

// Dependants returns the processes that list name in depends_on, in file order.
func (c *Config) Dependants(name string) []string {
	var out []string
	for _, p := range c.Processes {
		if slices.Contains(p.DependsOn, name) {
			out = append(out, p.Name)
		}
	}
	return out
}

// logFiles resolves log_dir and its rotation settings.
func (v *validator) logFiles(c *Config, raw *rawFile) *Error {
	at := func(key, format string, args ...any) *Error {
		return v.errAt([]string{key}, nil, format, args...)
	}
	mb := func(key string, val float64) (int64, *Error) {
		if math.IsNaN(val) || val < 0.0625 || val > 1<<20 {
			return 0, at(key, "%v out of range; valid: 0.0625..%d MiB", val, 1<<20)
		}
		return int64(val * (1 << 20)), nil
	}
	var err *Error
	if c.LogMaxBytes, err = mb("log_max_mb", raw.LogMaxMB); err != nil {
		return err
	}
	if c.LogTotalBytes, err = mb("log_total_mb", raw.LogTotalMB); err != nil {
		return err
	}
	if c.LogTotalBytes < c.LogMaxBytes {
		return v.errAt([]string{"log_total_mb"}, [][]string{{"log_max_mb"}},
			"%v MiB is below log_max_mb (%v MiB); valid: log_total_mb >= log_max_mb", raw.LogTotalMB, raw.LogMaxMB)
	}
	if raw.LogKeep < 0 || raw.LogKeep > 1000 {
		return at("log_keep", "%d out of range; valid: 0..1000 rotated files per process and kind", raw.LogKeep)
	}
	c.LogKeep = int(raw.LogKeep)
	if raw.LogDir == nil {
		return nil
	}
	d := *raw.LogDir
	if strings.TrimSpace(d) == "" {
		return at("log_dir", `empty; valid: a directory relative to the project, e.g. ".bpm/logs", or remove the key to keep logs in memory only`)
	}
	if strings.ContainsRune(d, 0) {
		return at("log_dir", "contains NUL; valid: a directory path")
	}
	c.LogDir = d
	if !filepath.IsAbs(d) {
		c.LogDir = filepath.Join(c.Dir, d)
	}
	if bpmDir := filepath.Join(c.Dir, ".bpm"); filepath.Clean(c.LogDir) == bpmDir {
		return at("log_dir", "%q is bpm's own directory, where go processes are built (.bpm/NAME); use a directory of its own, e.g. \".bpm/logs\"", d)
	}
	if st, err := os.Stat(c.LogDir); err == nil && !st.IsDir() {
		return at("log_dir", "%q (%s) is not a directory; valid: a directory, created if missing", d, c.LogDir)
	}
	return nil
}

// describeOrchestration writes the depends_on, health and limits lines of
// `bpm check` for p.
func (p *Process) describeOrchestration(line func(indent, label, format string, args ...any)) {
	if len(p.DependsOn) > 0 {
		follow := ""
		if p.RestartWithDeps {
			follow = "; restarted when one of them restarts"
		}
		line("  ", "depends on", "%s (started once they are ready%s)", strings.Join(p.DependsOn, ", "), follow)
	}
	if h := p.Health; h != nil {
		probe := "http 2xx from " + h.HTTP
		switch {
		case h.TCP != "":
			probe = "tcp connect to " + h.TCP
		case h.Exec != nil:
			probe = "exit 0 from " + formatArgv(h.Exec)
		}
		line("  ", "health", "%s every %v, timeout %v; %d failures in a row count as a crash", probe, h.Interval, h.Timeout, h.Failures)
	}
	if l := p.Limits; l != nil {
		var parts []string
		if l.OpenFiles > 0 {
			parts = append(parts, fmt.Sprintf("open_files %d", l.OpenFiles))
		}
		if l.MemoryMB > 0 {
			parts = append(parts, fmt.Sprintf("memory %d MiB", l.MemoryMB))
		}
		if l.CPUPercent > 0 {
			parts = append(parts, fmt.Sprintf("cpu %d%%", l.CPUPercent))
		}
		line("  ", "limits", "%s", strings.Join(parts, ", "))
	}
}
