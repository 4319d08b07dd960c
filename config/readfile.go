package config

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxFileBytes bounds the config file: a real .mcp-run is a few kilobytes,
// and the TOML decoder's time grows with the square of a table's keys (a
// 1 MB table of 46,000 env keys takes 5 s, 3.4 MB half a minute; 256 KiB
// about 0.3 s), so a bigger file is refused rather than parsed.
const MaxFileBytes = 256 << 10

// fileError is a config file that is there but cannot be used as one.
type fileError struct{ msg string }

func (e *fileError) Error() string { return e.msg }

// readFile reads a config file that is a regular file of at most
// MaxFileBytes. It opens without blocking, so a FIFO (or a device) in the
// file's place is refused at once instead of waiting for a writer for ever.
func readFile(file string) ([]byte, error) {
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fileError{fmt.Sprintf("is not a regular file (%s); %s must be a plain TOML file", fileKind(fi.Mode()), FileName)}
	}
	if fi.Size() > MaxFileBytes {
		return nil, tooBig(fi.Size())
	}
	doc, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(doc) > MaxFileBytes { // it grew while being read
		return nil, tooBig(int64(len(doc)))
	}
	return doc, nil
}

func tooBig(size int64) error {
	return &fileError{fmt.Sprintf("is %d bytes, over the limit of %d (256 KiB); a config lists processes: keep large environments in an .envrc or an env file the command reads", size, MaxFileBytes)}
}

// fileKind names what a non-regular file is.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	default:
		return m.Type().String()
	}
}
