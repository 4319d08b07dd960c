package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadWithin loads dir in a goroutine and fails if Load has not returned
// within a minute: a FIFO opened for reading would block for ever.
func loadWithin(t *testing.T, dir string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(dir)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Load did not return: it waits on the file")
		return nil
	}
}

func TestLoadRefusesADirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, FileName), 0o755); err != nil {
		t.Fatal(err)
	}
	err := loadWithin(t, dir)
	if err == nil || !strings.Contains(err.Error(), "not a regular file (a directory)") {
		t.Fatalf("Load of a directory: %v", err)
	}
}

// bigEnv is a config whose env table has n keys.
func bigEnv(n int) string {
	var b strings.Builder
	b.WriteString("[process.web]\ntype = \"command\"\ncommand = [\"true\"]\n[process.web.env]\n")
	for i := range n {
		fmt.Fprintf(&b, "K%d = \"value%d\"\n", i, i)
	}
	return b.String()
}

func TestLoadRefusesAFileOverTheBound(t *testing.T) {
	doc := bigEnv(MaxFileBytes / 10)
	if len(doc) <= MaxFileBytes {
		t.Fatalf("fixture is %d bytes, not over %d", len(doc), MaxFileBytes)
	}
	err := loadWithin(t, project(t, doc))
	want := fmt.Sprintf("is %d bytes, over the limit of %d", len(doc), MaxFileBytes)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("Load of %d bytes: %v, want it to say %q", len(doc), err, want)
	}
}

func TestLoadOfAFileJustUnderTheBoundNamesLinesRight(t *testing.T) {
	doc := bigEnv(11000)
	if len(doc) > MaxFileBytes {
		t.Fatalf("fixture is %d bytes, over %d", len(doc), MaxFileBytes)
	}
	doc += "bad = 1\n" // an env value that is not a string, on the last line
	err := loadWithin(t, project(t, doc))
	line := strings.Count(doc, "\n")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(":%d:", line)) {
		t.Fatalf("Load: %v, want an error on line %d", err, line)
	}
}
