// Package faults serves, on 127.0.0.1, the failures a builder meets from
// its servers, for the tests that prove what it does then: a server that
// accepts connections and never answers (Frozen), and an address where
// nothing listens (Closed). Each goes when its test ends.
package faults

import (
	"net"
	"sync"
	"testing"
)

// Frozen listens on 127.0.0.1 and accepts every connection, reads nothing
// and answers nothing, until the test ends: a server that hangs
// mid-request. It returns its host:port.
func Frozen(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faults: listening: %v", err)
	}
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed at cleanup
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

// Closed is an address of 127.0.0.1 where nothing listens: a server that
// is down. The port was free a moment ago; nothing of the test's own
// listens on it.
func Closed(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faults: listening: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("faults: closing: %v", err)
	}
	return addr
}
