package registry

import (
	"errors"
	"io"
	"net/http"
)

// MaxSourceDocBytes bounds each answer read while resolving a source: its
// manifests (the distribution registry refuses any over 4 MiB) and its
// config, which runtime images keep well under it. A registry a user names
// cannot make send read more into a 256 MB action.
const MaxSourceDocBytes = 4 << 20

// errTooLarge is what a bounded answer fails with past its limit.
var errTooLarge = errors.New("the registry's answer is larger than the builder reads")

// bounded is a transport whose answers fail past limit bytes: at once when
// their Content-Length says so, else when reading reaches the limit.
type bounded struct {
	inner http.RoundTripper
	limit int64
}

func (b bounded) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.inner.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > b.limit {
		resp.Body.Close()
		return nil, errTooLarge
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: b.limit}
	return resp, nil
}

// limitedBody reads at most left bytes, and fails with errTooLarge if the
// body has more.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := l.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.ReadCloser.Read(p)
	l.left -= int64(n)
	return n, err
}
