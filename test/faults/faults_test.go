package faults

import (
	"errors"
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
