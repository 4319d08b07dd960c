// Command escaper leaves its process group, as daemons and hot-reload tools
// do, for bpm's tests of what outlives a run. See testdata/README.md.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: escaper daemon|setpgid|mid|hold")
		os.Exit(4)
	}
	switch os.Args[1] {
	case "daemon":
		// A double fork: mid calls setsid (Setsid), starts hold in its new
		// session and exits at once, so hold's parent is gone.
		fmt.Printf("escaper leader pid=%d\n", os.Getpid())
		mid := self("mid")
		mid.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		mid.Stdout = os.Stdout
		must(mid.Run())
		if os.Getenv("ESCAPER_EXIT") == "1" {
			fmt.Println("escaper leader exits 0")
			os.Exit(0)
		}
		forever()
	case "setpgid":
		// What air and Python's process_group=0 do: a child in a process
		// group of its own, in the same session.
		fmt.Printf("escaper leader pid=%d\n", os.Getpid())
		c := self("hold")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		must(c.Start())
		fmt.Printf("setpgid pid=%d\n", c.Process.Pid)
		forever()
	case "mid":
		c := self("hold")
		must(c.Start())
		fmt.Printf("daemon pid=%d\n", c.Process.Pid)
		os.Exit(0)
	case "hold":
		// Only SIGKILL ends it: bpm must not count on a polite signal.
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		forever()
	}
	fmt.Fprintf(os.Stderr, "unknown mode %q\n", os.Args[1])
	os.Exit(4)
}

// self is this program with mode as its argument; its stdin, stdout and
// stderr are /dev/null, as a daemon's are, unless the caller sets them.
func self(mode string) *exec.Cmd {
	exe, err := os.Executable()
	must(err)
	return exec.Command(exe, mode)
}

func forever() {
	for {
		time.Sleep(time.Hour)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "escaper:", err)
		os.Exit(4)
	}
}
