package faults

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Conns is how many TCP connections the process pid holds open to addr
// (host:port of 127.0.0.1): its sockets, from /proc/<pid>/fd, that the
// kernel's table (/proc/<pid>/net/tcp) shows established to that port. A
// client that gives up on a frozen server and keeps its connection leaks
// one per request; this counts them.
func Conns(pid int, addr string) (int, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("reading %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0, fmt.Errorf("reading the port of %q: %w", addr, err)
	}
	// The remote address as the table writes it: hex IPv4, little-endian
	// on x86, then the port in upper-case hex.
	remote := fmt.Sprintf("0100007F:%04X", p)
	sockets, err := socketInodes(pid)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "net", "tcp"))
	if err != nil {
		return 0, fmt.Errorf("reading the TCP table: %w", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		const established = "01"
		if fields[2] == remote && fields[3] == established && sockets[fields[9]] {
			n++
		}
	}
	return n, sc.Err()
}

// socketInodes are the inodes of the sockets pid has open.
func socketInodes(pid int) (map[string]bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the files of process %d: %w", pid, err)
	}
	out := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			out[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return out, nil
}
