package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A directory under a project that was moved away is not created, nor is
// the project; under a project that exists, or outside it, it is.
func TestMkdirUnderNeverRecreatesAMissingProject(t *testing.T) {
	base := t.TempDir()
	project := filepath.Join(base, "proj")
	if err := os.Mkdir(project, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(project, ".bpm", "logs", "app")
	if err := MkdirUnder(project, logs); err != nil || !isDir(logs) {
		t.Fatalf("under an existing project: %v", err)
	}
	if err := os.Rename(project, project+"-moved"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{logs, filepath.Join(project, "x"), project} {
		err := MkdirUnder(project, dir)
		if !errors.Is(err, ErrProjectMissing) {
			t.Errorf("MkdirUnder(%s) with the project moved away: %v, want ErrProjectMissing", dir, err)
		}
	}
	if _, err := os.Lstat(project); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the moved project was re-created: %v", err)
	}
	outside := filepath.Join(base, "elsewhere", "logs")
	if err := MkdirUnder(project, outside); err != nil || !isDir(outside) {
		t.Errorf("a log_dir outside the project: %v", err)
	}
}
