// Package faults serves, on 127.0.0.1, the failures a builder meets from
// its servers, for the tests that prove what it does then: a server that
// accepts connections and never answers (Frozen), an address where
// nothing listens (Closed), and a proxy that makes every request slow
// (Slow, and Proxy, which turns those on and off and counts the bytes it
// passes), and how many
// connections a process holds to one of them (Conns). Each goes when its
// test ends.
package faults

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Frozen listens on 127.0.0.1 and accepts every connection, reads nothing
// and answers nothing, until the test ends: a server that hangs
// mid-request. It returns its host:port.
func Frozen(t testing.TB) string {
	t.Helper()
	return serve(t, func(net.Conn, func(net.Conn)) {})
}

// Slow is a TCP proxy on 127.0.0.1 to target that holds each chunk the
// client sends for delay before passing it on: every request, and every
// round of a TLS handshake, takes delay more. It returns its host:port.
func Slow(t testing.TB, target string, delay time.Duration) string {
	t.Helper()
	p := NewProxy(t, target)
	p.SetDelay(delay)
	return p.Addr
}

// Proxy is a TCP proxy on 127.0.0.1 to a server whose faults a test turns
// on and off while its client runs: slow (each chunk the client sends held
// for a delay) or frozen (a connection opened while frozen is accepted and
// never answered, for its whole life). It starts passing everything on.
type Proxy struct {
	// Addr is the proxy's host:port, what the client is given.
	Addr   string
	delay  atomic.Int64
	frozen atomic.Bool
	// sent and received count what the clients sent and were sent.
	sent, received atomic.Int64
}

// NewProxy starts a proxy to target, until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{}
	p.Addr = serve(t, func(client net.Conn, hold func(net.Conn)) {
		if p.frozen.Load() {
			return
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			_ = client.Close()
			return
		}
		hold(server)
		go func() {
			_, _ = io.Copy(counting{client, &p.received}, server)
			_ = client.Close()
		}()
		go func() {
			defer server.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					p.sent.Add(int64(n))
					time.Sleep(time.Duration(p.delay.Load()))
					if _, werr := server.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	})
	return p
}

// Bytes is what the clients have sent through the proxy (requests and
// uploads) and received (answers and downloads), both ways counted as
// they pass: TLS and HTTP framing included.
func (p *Proxy) Bytes() (sent, received int64) { return p.sent.Load(), p.received.Load() }

// counting is a writer that adds what it writes to n: before it writes,
// so that a client that has read the bytes finds them counted.
type counting struct {
	w io.Writer
	n *atomic.Int64
}

func (c counting) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	n, err := c.w.Write(b)
	c.n.Add(int64(n - len(b))) // what was not written after all
	return n, err
}

// SetDelay makes what clients send from now on wait d before it is passed
// on; 0 passes it at once.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Freeze makes the connections opened from now on hang (on) or pass (off).
func (p *Proxy) Freeze(on bool) { p.frozen.Store(on) }

// serve listens on 127.0.0.1 and hands each connection to handle, with
// hold for the connections it opens itself; when the test ends it stops
// listening and closes every connection. It returns its host:port.
func serve(t testing.TB, handle func(c net.Conn, hold func(net.Conn))) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faults: listening: %v", err)
	}
	var mu sync.Mutex
	var held []net.Conn
	hold := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		held = append(held, c)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed at cleanup
			}
			hold(c)
			handle(c, hold)
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
