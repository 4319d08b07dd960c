// Package export turns a project's .mcp-run into the files another process
// manager needs to run the project without bpm: `bpm export FORMAT`. Each
// format is an Exporter in a small registry; systemd is the one there is.
package export

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"bpm/config"
)

// Exporter writes the files of one format. Its flags are registered on the
// command's flag set before the arguments are parsed.
type Exporter interface {
	// Flags adds the format's own flags to fs.
	Flags(fs *flag.FlagSet)
	// Validate checks the format's flags against the loaded config; an error
	// is bad usage (exit 2) and says what is valid.
	Validate(cfg *config.Config) error
	// Export returns the files for p and the warnings about what the format
	// cannot express; nothing may be dropped without a warning.
	Export(p *Project) (*Result, error)
}

// Project is what an Exporter works from: the config and the release build
// of every process that has one.
type Project struct {
	Config    *config.Config
	Prefix    string            // unit or service name prefix, valid for every format
	Artifacts map[string]string // process name → built executable (rust, go)
}

// Result is an export: files to write and warnings to print.
type Result struct {
	Files    []File
	Warnings []string
}

// File is one exported file, named relative to the output directory.
type File struct {
	Name string
	Data []byte
}

// formats is the registry: format name → a new Exporter.
var formats = map[string]func() Exporter{
	"systemd": func() Exporter { return &Systemd{} },
}

// Formats lists the format names, sorted.
func Formats() []string {
	names := make([]string, 0, len(formats))
	for name := range formats {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Lookup returns a new Exporter for format, or an error listing the formats.
func Lookup(format string) (Exporter, error) {
	if f, ok := formats[format]; ok {
		return f(), nil
	}
	return nil, fmt.Errorf("%w %q; valid: %s", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
}

// ErrUnknownFormat marks the error of Lookup and Parse for a format that is
// not registered.
var ErrUnknownFormat = errors.New("unknown export format")

// Request is a parsed `bpm export FORMAT [flags] [PROJECT_DIR]`.
type Request struct {
	Exporter Exporter
	Out      string   // output dir, or "-" for stdout
	Prefix   string   // --name; "" means the project dir's base name
	Dirs     []string // PROJECT_DIR, at most one
}

// Parse parses the arguments after `export`. Errors are bad usage; an
// unknown format's error wraps ErrUnknownFormat.
func Parse(args []string) (*Request, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return nil, fmt.Errorf("missing the export format; valid: %s", strings.Join(Formats(), ", "))
	}
	e, err := Lookup(args[0])
	if err != nil {
		return nil, err
	}
	req := &Request{Exporter: e}
	fs := flag.NewFlagSet("bpm export "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&req.Out, "out", "systemd", `output directory, or "-" for stdout`)
	fs.StringVar(&req.Prefix, "name", "", "unit name prefix (default: the project dir's name)")
	e.Flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 1 {
		return nil, fmt.Errorf("expected at most one PROJECT_DIR after the flags, got %q", fs.Args())
	}
	if req.Out == "" {
		return nil, errors.New(`--out is empty; valid: a directory, or "-" for stdout`)
	}
	if req.Prefix != "" && !prefixRE.MatchString(req.Prefix) {
		return nil, fmt.Errorf("--name %q: valid: letters, digits and '-', '_', '.', ':'", req.Prefix)
	}
	req.Dirs = fs.Args()
	return req, nil
}

// prefixRE is what a unit name prefix may hold: systemd's unit name
// characters without '@' (templates) and '\' (escapes).
var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// notInPrefix matches the runs of characters a prefix cannot hold.
var notInPrefix = regexp.MustCompile(`[^A-Za-z0-9_.:-]+`)

// DefaultPrefix is the project dir's base name with every character a unit
// name cannot hold replaced by '-'; "bpm" when nothing is left.
func DefaultPrefix(dir string) string {
	p := strings.Trim(notInPrefix.ReplaceAllString(filepath.Base(dir), "-"), "-.")
	if p == "" {
		return "bpm"
	}
	return p
}

// Run builds cfg's processes in release mode (build output to stderr),
// exports them as req asks and writes the files; warnings go to stderr. It
// returns the exit code: 0, 1 for a failed build or write, 2 for bad flags.
func Run(req *Request, cfg *config.Config, stdout, stderr io.Writer) int {
	if err := req.Exporter.Validate(cfg); err != nil {
		fmt.Fprintln(stderr, "bpm:", err)
		return 2
	}
	arts, err := BuildRelease(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bpm: %v; nothing was exported\n", err)
		return 1
	}
	prefix := req.Prefix
	if prefix == "" {
		prefix = DefaultPrefix(cfg.Dir)
	}
	res, err := req.Exporter.Export(&Project{Config: cfg, Prefix: prefix, Artifacts: arts})
	if err != nil {
		fmt.Fprintln(stderr, "bpm:", err)
		return 1
	}
	if req.Out == "-" {
		Print(stdout, res.Files)
	} else if err := Write(req.Out, res.Files, stderr); err != nil {
		fmt.Fprintln(stderr, "bpm:", err)
		return 1
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "bpm: warning:", w)
	}
	return 0
}

// Print writes files to w, each after a `==> NAME <==` marker line.
func Print(w io.Writer, files []File) {
	for i, f := range files {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "==> %s <==\n%s", f.Name, f.Data)
	}
}

// Write writes files into dir, creating it, and names each on log.
func Write(dir string, files []File, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		fmt.Fprintln(log, "bpm: wrote", path)
	}
	return nil
}
