//go:build unix

package config

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestLoadRefusesAFIFOAtOnce(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, FileName), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	err := loadWithin(t, dir)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load of a FIFO: %v, want a *config.Error", err)
	}
	for _, want := range []string{FileName, "not a regular file (a named pipe)", "plain TOML file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
