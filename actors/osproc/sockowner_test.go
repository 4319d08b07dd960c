package osproc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// dialAccepted connects to l and returns the client side and the server
// side that l accepted in this process.
func dialAccepted(t *testing.T, l net.Listener) (client, server net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// startHolding starts a shell with f as fd 3, which the backgrounded sleep
// inherits and the shell then closes: a pre-fork server whose worker holds
// the accepted socket. Nil f: neither holds a socket.
func startHolding(t *testing.T, f *os.File) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 1000 & exec 3>&-; wait")
	if f != nil {
		cmd.ExtraFiles = []*os.File{f}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = SignalGroup(cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	fd3 := fmt.Sprintf("/proc/%d/fd/3", cmd.Process.Pid)
	testkit.WaitFor(t, 10*time.Second, "the shell to close its fd 3", func() bool {
		_, err := os.Lstat(fd3)
		return errors.Is(err, fs.ErrNotExist)
	})
	return cmd.Process.Pid
}

// Who accepted a probe's connection is read from /proc: this process, a
// descendant of the owner, another process, or (in a backlog) nobody yet.
func TestAcceptOwnerTellsWhoAcceptedTheConnection(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network]
			l, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer l.Close()
			ctx := context.Background()
			client, server := dialAccepted(t, l)
			if got := acceptOwner(ctx, client, os.Getpid(), 2*time.Second); got != acceptedByTree {
				t.Errorf("accepted by this process: %v, want acceptedByTree (%v)", got, acceptedByTree)
			}
			other := startHolding(t, nil)
			if got := acceptOwner(ctx, client, other, 2*time.Second); got != acceptedByOther {
				t.Errorf("owner %d holds no socket: %v, want acceptedByOther (%v)", other, got, acceptedByOther)
			}
			f, err := server.(*net.TCPConn).File()
			if err != nil {
				t.Fatal(err)
			}
			holder := startHolding(t, f)
			f.Close()
			server.Close()
			if !acceptedBy(ctx, client, holder, 2*time.Second) {
				t.Errorf("only a child of pid %d holds the accepted socket, but acceptedBy says no", holder)
			}
			backlogged, err := net.Dial(network, l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer backlogged.Close()
			if got := acceptOwner(ctx, backlogged, os.Getpid(), 100*time.Millisecond); got != notAccepted {
				t.Errorf("a connection in the backlog: %v, want notAccepted (%v)", got, notAccepted)
			}
		})
	}
}
