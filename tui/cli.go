package tui

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
)

const usage = `usage: bpm tui [--token TOKEN] [URL]
  URL defaults to ` + DefaultURL + `
  --token TOKEN   sent as Authorization: Bearer TOKEN (default: $BPM_MCP_TOKEN)
`

// Run is the `bpm tui` command: it parses args, shows the console until the
// user quits, and returns the exit code (2 for bad usage, 1 when the
// terminal cannot be used).
func Run(args []string) int {
	target, token, err := parseArgs(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Print(usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bpm tui: %v\n%s", err, usage)
		return 2
	}
	if err := New(target, Options{Token: token}).Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bpm tui:", err)
		return 1
	}
	return 0
}

// parseArgs returns the endpoint URL and the token: --token, else
// BPM_MCP_TOKEN.
func parseArgs(args []string, getenv func(string) string) (target, token string, err error) {
	fs := flag.NewFlagSet("bpm tui", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&token, "token", getenv("BPM_MCP_TOKEN"), "bearer token")
	if err := fs.Parse(args); err != nil {
		return "", "", err
	}
	switch fs.NArg() {
	case 0:
		return DefaultURL, token, nil
	case 1:
		target = fs.Arg(0)
	default:
		return "", "", fmt.Errorf("expected at most one URL, got %d arguments", fs.NArg())
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("%q is not an http(s) URL like %s", target, DefaultURL)
	}
	return target, token, nil
}
