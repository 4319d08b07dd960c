package config

import (
	"bytes"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to the parser: it must not panic, an
// error must be an *Error that names the file, has a message and, when it
// gives a line, a line of the document; a config it accepts must be
// complete enough to describe. The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	dir := f.TempDir()
	file := filepath.Join(dir, FileName)
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := parse(dir, file, doc)
		if err != nil {
			if c != nil {
				t.Fatalf("parse returned a config and the error %v", err)
			}
			checkFuzzError(t, err, file, doc)
			return
		}
		if c == nil {
			t.Fatal("parse returned neither a config nor an error")
		}
		if len(c.Processes) == 0 {
			t.Fatal("accepted a config without processes")
		}
		for _, p := range c.Processes {
			if !slices.Contains(processTypes, p.Type) || p.Dir == "" {
				t.Fatalf("accepted process %q with type %q, dir %q", p.Name, p.Type, p.Dir)
			}
		}
		c.Describe(io.Discard)
	})
}

func checkFuzzError(t *testing.T, err *Error, file string, doc []byte) {
	t.Helper()
	lines := bytes.Count(doc, []byte("\n")) + 1
	switch {
	case err.File != file:
		t.Fatalf("error names file %q, want %q: %v", err.File, file, err)
	case strings.TrimSpace(err.Msg) == "":
		t.Fatalf("error without a message: %#v", err)
	case err.Line < 0 || err.Line > lines:
		t.Fatalf("error at line %d of a %d-line document: %v", err.Line, lines, err)
	case !strings.HasPrefix(err.Error(), file+":"):
		t.Fatalf("error %q does not start with the file", err.Error())
	}
}
