package osproc

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// With `listen`, bpm, the old run and the new run all hold the same
// listening socket, so a ready probe that connects proves nothing by itself:
// the old run may answer it, or it may sit in the backlog that nobody
// accepts from. These functions tell who accepted a probe's connection by
// finding the server side of it in /proc/net/tcp{,6} and looking for that
// socket among the open files of a process tree.

// acceptPoll is how often acceptedBy looks whether a probe was accepted.
const acceptPoll = 10 * time.Millisecond

// acceptedBy waits at most within for the server side of c, a connection to
// a listener on this host, to be accepted by pid or one of its descendants.
// It gives up early once another process has held the connection on two
// looks in a row (one look may fall between accept and the fd's install).
func acceptedBy(ctx context.Context, c net.Conn, pid int, within time.Duration) bool {
	return acceptOwner(ctx, c, pid, within) == acceptedByTree
}

// acceptResult says who took a probe's connection.
type acceptResult int

const (
	acceptedByTree  acceptResult = iota // pid or one of its descendants
	acceptedByOther                     // another process
	notAccepted                         // nobody, within the wait (or c is not TCP)
)

// acceptOwner is acceptedBy telling another process's accept from none.
func acceptOwner(ctx context.Context, c net.Conn, pid int, within time.Duration) acceptResult {
	local, lok := c.LocalAddr().(*net.TCPAddr)
	remote, rok := c.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return notAccepted
	}
	// The server's socket has the probe's addresses the other way round.
	want := tcpEntry{local: unmapped(remote.AddrPort()), remote: unmapped(local.AddrPort())}
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(acceptPoll)
	defer tick.Stop()
	foreign := 0
	for {
		if inode := serverInode(want); inode != 0 {
			if treeHasSocket(pid, inode) {
				return acceptedByTree
			}
			if foreign++; foreign == 2 {
				return acceptedByOther
			}
		} else {
			foreign = 0
		}
		select {
		case <-ctx.Done():
			return notAccepted
		case <-deadline.C:
			return notAccepted
		case <-tick.C:
		}
	}
}

// tcpEntry is the part of a /proc/net/tcp line that acceptedBy needs.
type tcpEntry struct {
	local, remote netip.AddrPort
	inode         uint64
}

// serverInode returns the inode of the socket whose local and remote
// addresses are want's: 0 while it waits unaccepted in a backlog (it has no
// file yet), or when this host has no such socket.
func serverInode(want tcpEntry) uint64 {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if inode := findTCP(table, want); inode != 0 {
			return inode
		}
	}
	return 0
}

// findTCP scans one table for want's addresses and returns the first
// non-zero inode among its matches.
func findTCP(table string, want tcpEntry) uint64 {
	f, err := os.Open(table)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		e, err := parseTCPLine(sc.Text())
		if err == nil && e.inode != 0 && e.local == want.local && e.remote == want.remote {
			return e.inode
		}
	}
	return 0
}

// parseTCPLine reads one line of /proc/net/tcp or tcp6:
// "sl local_address rem_address st ... uid timeout inode ...".
func parseTCPLine(line string) (tcpEntry, error) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return tcpEntry{}, fmt.Errorf("short line %q", line)
	}
	local, err := parseProcAddr(f[1])
	if err != nil {
		return tcpEntry{}, err
	}
	remote, err := parseProcAddr(f[2])
	if err != nil {
		return tcpEntry{}, err
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return tcpEntry{}, err
	}
	return tcpEntry{local: local, remote: remote, inode: inode}, nil
}

// parseProcAddr reads "0100007F:1F90": the address as 32-bit words in the
// kernel's byte order, each printed in hex, then the port in hex. IPv4
// addresses mapped into IPv6 come back unmapped, as Go reports them.
func parseProcAddr(s string) (netip.AddrPort, error) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok || (len(ipHex) != 8 && len(ipHex) != 32) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad address %q: %w", s, err)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port in %q: %w", s, err)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// treeHasSocket reports whether pid or one of its descendants (a pre-fork
// server's workers) has the socket with inode open.
func treeHasSocket(pid int, inode uint64) bool {
	link := fmt.Sprintf("socket:[%d]", inode)
	if hasOpen(pid, link) {
		return true
	}
	for _, d := range descendants(pid) {
		if hasOpen(d, link) {
			return true
		}
	}
	return false
}

// hasOpen reports whether one of pid's file descriptors links to link.
func hasOpen(pid int, link string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(dir + fd.Name()); err == nil && l == link {
			return true
		}
	}
	return false
}

// descendants lists pid's children, their children and so on, from the
// parent pids in /proc/*/stat.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := parentOf(p); pp > 0 {
			children[pp] = append(children[pp], p)
		}
	}
	// The snapshot is not atomic, so a reused pid could close a loop.
	seen := map[int]bool{pid: true}
	var out []int
	for next := []int{pid}; len(next) > 0; next = next[1:] {
		for _, c := range children[next[0]] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				next = append(next, c)
			}
		}
	}
	return out
}

// parentOf reads pid's parent from /proc/PID/stat; 0 when it cannot.
func parentOf(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(f[1])
	return pp
}
