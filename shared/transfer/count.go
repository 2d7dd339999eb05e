package transfer

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// Counter counts the bytes a transfer's requests send and receive, so
// that a build's log says what each step moved.
type Counter struct {
	sent, received atomic.Int64
}

// Sent is the bytes of the request bodies: the blobs and manifests
// uploaded.
func (c *Counter) Sent() int64 { return c.sent.Load() }

// Received is the bytes of the response bodies: the blobs and manifests
// downloaded.
func (c *Counter) Received() int64 { return c.received.Load() }

func (c *Counter) String() string {
	return fmt.Sprintf("sent %d bytes, received %d bytes", c.Sent(), c.Received())
}

func (c *Counter) wrap(base http.RoundTripper) http.RoundTripper {
	return countingTransport{base: base, c: c}
}

type countingTransport struct {
	base http.RoundTripper
	c    *Counter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, n: &t.c.sent}
	}
	resp, err := t.base.RoundTrip(req)
	if resp != nil && resp.Body != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &t.c.received}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
