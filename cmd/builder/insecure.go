package main

import (
	"crypto/tls"
	"net/http"
)

// insecureTransport skips TLS verification, for --insecure (self-signed
// development clusters only).
func insecureTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // #nosec G402 -- opt-in flag
	return t
}
