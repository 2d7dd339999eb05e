// Package faults serves, on 127.0.0.1, the failures a builder meets from
// its servers, for the tests that prove what it does then: a server that
// accepts connections and never answers (Frozen), an address where
// nothing listens (Closed), and a proxy that makes every request slow
// (Slow). Each goes when its test ends.
package faults

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
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

// Slow is a TCP proxy on 127.0.0.1 to target that holds each chunk the
// client sends for delay before passing it on: every request, and every
// round of a TLS handshake, takes delay more. It returns its host:port;
// it goes, with its connections, when the test ends.
func Slow(t testing.TB, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faults: listening: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				_ = client.Close()
				continue
			}
			track(client)
			track(server)
			go func() { _, _ = io.Copy(client, server); _ = client.Close() }()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := client.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := server.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = server.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}
