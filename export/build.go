package export

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"bpm/actors"
	"bpm/config"
)

// BuildRelease runs the release build of every process that has one, one
// after the other, as bpm does at start (config.BuildArgv, direnv included),
// with the build output on log. It returns the executables built, by process
// name: cargo's for rust, config.GoOutput for go. The first failed build
// ends it with an error naming the process.
func BuildRelease(cfg *config.Config, log io.Writer) (map[string]string, error) {
	arts := map[string]string{}
	for _, p := range cfg.Processes {
		argv := cfg.BuildArgv(p, config.Release)
		if argv == nil {
			continue
		}
		fmt.Fprintf(log, "bpm: building %s (release): %s\n", p.Name, strings.Join(argv, " "))
		art, err := build(cfg, p, argv, log)
		if err != nil {
			return nil, err
		}
		if art != "" {
			arts[p.Name] = art
		}
	}
	return arts, nil
}

// build runs one release build in p's dir with p's env and returns the
// executable it made, or "" for a command build.
func build(cfg *config.Config, p *config.Process, argv []string, log io.Writer) (string, error) {
	if p.Type == config.TypeGo {
		if err := os.MkdirAll(filepath.Dir(cfg.GoOutput(p)), 0o755); err != nil {
			return "", fmt.Errorf("build %s: %w", p.Name, err)
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = log, log
	if p.Type != config.TypeRust {
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("build %s failed: %w", p.Name, err)
		}
		if p.Type == config.TypeGo {
			return cfg.GoOutput(p), nil
		}
		return "", nil
	}
	cmd.Stdout = nil
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("build %s: %w", p.Name, err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("build %s: cannot start %s: %w", p.Name, argv[0], err)
	}
	art, artErr := actors.CargoExecutable(p, stdout, log)
	_, _ = io.Copy(io.Discard, stdout) // whatever is left once a line was too long
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("build %s failed: %w", p.Name, err)
	}
	return art, artErr
}
