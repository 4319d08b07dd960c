// Command lines is the log-pipeline benchmark's child: it prints -n lines of
// about 60 bytes, one write(2) per line as a logging program does, as fast as
// its stdout takes them, and writes how long that took (seconds) to -report.
//
// With -wait FIFO it first blocks opening the FIFO until the benchmark opens
// it for writing, so the manager has settled before the output starts. With
// -hold it stays alive after printing until SIGTERM or SIGINT, so that no
// manager counts its exit as a crash and starts it again.
//
// Every 100,000th line is an ERROR line containing "disk quota exceeded",
// the rare literal the search benchmark looks for.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 1_000_000, "lines to print")
	wait := flag.String("wait", "", "FIFO to open before printing")
	report := flag.String("report", "", "file that gets the write time in seconds")
	hold := flag.Bool("hold", false, "stay alive after printing until SIGTERM")
	flag.Parse()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if *wait != "" {
		if err := awaitGo(*wait); err != nil {
			fmt.Fprintln(os.Stderr, "lines:", err)
			os.Exit(1)
		}
	}
	began := time.Now()
	if err := printLines(*n); err != nil {
		fmt.Fprintln(os.Stderr, "lines:", err)
		os.Exit(1)
	}
	took := time.Since(began)
	if *report != "" {
		if err := writeReport(*report, took); err != nil {
			fmt.Fprintln(os.Stderr, "lines:", err)
			os.Exit(1)
		}
	}
	if *hold {
		<-stop
	}
}

// awaitGo blocks until a writer opens the FIFO at path and closes it.
func awaitGo(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 64)
	for {
		if _, err := f.Read(buf); err != nil {
			return nil // EOF: the writer closed it
		}
	}
}

// printLines writes n lines to stdout, one write per line.
func printLines(n int) error {
	buf := make([]byte, 0, 128)
	for i := range n {
		buf = appendLine(buf[:0], i)
		if _, err := os.Stdout.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// appendLine appends line i, e.g.
// "0000042 INFO req=1b3e6a2 user=0331 GET /api/items/01302 546ms\n".
func appendLine(b []byte, i int) []byte {
	b = appendPadded(b, i, 10, 7)
	if i%100_000 == 99_999 {
		b = append(b, " ERROR req="...)
		b = appendPadded(b, i*2654435761%(1<<28), 16, 7)
		b = append(b, " panic: disk quota exceeded\n"...)
		return b
	}
	b = append(b, " INFO req="...)
	b = appendPadded(b, i*2654435761%(1<<28), 16, 7)
	b = append(b, " user="...)
	b = appendPadded(b, i*7919%10_000, 10, 4)
	b = append(b, " GET /api/items/"...)
	b = appendPadded(b, i*31%100_000, 10, 5)
	b = append(b, ' ')
	b = appendPadded(b, i*13%1000, 10, 3)
	return append(b, "ms\n"...)
}

// appendPadded appends v in base, left-padded with zeros to width digits.
func appendPadded(b []byte, v, base, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], int64(v), base)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// writeReport writes took in seconds to path, atomically, so that a reader
// polling for the file never sees it half written.
func writeReport(path string, took time.Duration) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatFloat(took.Seconds(), 'f', 6, 64)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
