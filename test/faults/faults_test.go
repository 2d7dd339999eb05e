package faults

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestFrozenAcceptsAndNeverAnswers: a client connects, writes, and reads
// nothing before its deadline.
func TestFrozenAcceptsAndNeverAnswers(t *testing.T) {
	c, err := net.Dial("tcp", Frozen(t))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: want the deadline, got %v", err)
	}
}

// TestClosedRefuses: nothing listens there.
func TestClosedRefuses(t *testing.T) {
	if c, err := net.Dial("tcp", Closed(t)); err == nil {
		c.Close()
		t.Fatal("a closed address accepted a connection")
	}
}

// TestSlowPassesOnLate: what the client sends reaches the server, delay
// later; the server's answer comes back.
func TestSlowPassesOnLate(t *testing.T) {
	c, err := net.Dial("tcp", Slow(t, echo(t), 300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatal("the proxy passed the bytes on at once")
	}
}

// TestProxyTurnsFaultsOnAndOff: a proxy passes an echo on, holds it while
// frozen (that connection for good), and passes again once thawed; it
// counts the bytes it passed; Conns
// counts this process's connections to it, and none once they are closed.
func TestProxyTurnsFaultsOnAndOff(t *testing.T) {
	p := NewProxy(t, echo(t))
	ping := func() error {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		_, err = io.ReadFull(c, make([]byte, 4))
		return err
	}
	if err := ping(); err != nil {
		t.Fatalf("passing: %v", err)
	}
	p.Freeze(true)
	if err := ping(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("frozen: want the deadline, got %v", err)
	}
	p.Freeze(false)
	if err := ping(); err != nil {
		t.Fatalf("thawed: %v", err)
	}
	// Two pings passed, four bytes each way; the frozen one's were not
	// read.
	if sent, received := p.Bytes(); sent != 8 || received != 8 {
		t.Fatalf("Bytes: sent %d, received %d; want 8 and 8", sent, received)
	}

	held, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Conns(os.Getpid(), p.Addr); err != nil || n != 1 {
		t.Fatalf("Conns with one open: %d, %v", n, err)
	}
	held.Close()
	if n, err := Conns(os.Getpid(), p.Addr); err != nil || n != 0 {
		t.Fatalf("Conns once closed: %d, %v", n, err)
	}
}

// echo serves, on 127.0.0.1 until the test ends, every connection its own
// bytes back. It returns its host:port.
func echo(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	return l.Addr().String()
}
