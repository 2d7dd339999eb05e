package localstack

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// GoProxy is a Go module proxy on 127.0.0.1 (the GOPROXY protocol: the
// list, .info, .mod and .zip of each version), serving modules made here:
// a user's go env file names such a proxy in GOPROXY. It serves HTTPS, as
// the go command passes credentials (a .netrc's) over HTTPS alone: an
// image that trusts CertificatePEM reaches it.
type GoProxy struct {
	// URL is the proxy's root, for GOPROXY.
	URL string
	srv *httptest.Server
	Gate
}

// GoModule is module Path at Version: a package of one file, Source,
// at the module's root, and a go.mod that needs nothing.
type GoModule struct {
	Path, Version, Source string
}

// StartGoProxy serves mods until Close; the versions of a module are
// given in order, the latest last. Paths are lower-case: the proxy does
// not decode the protocol's escaped capitals.
func StartGoProxy(mods ...GoModule) (*GoProxy, error) {
	files := map[string][]byte{}
	lists := map[string][]string{}
	for _, m := range mods {
		mod := "module " + m.Path + "\n\ngo 1.22\n"
		base := m.Path + "/@v/" + m.Version
		info, err := json.Marshal(map[string]any{"Version": m.Version, "Time": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return nil, err
		}
		zip, err := zipOf(map[string]string{
			m.Path + "@" + m.Version + "/go.mod":                                               mod,
			m.Path + "@" + m.Version + "/" + m.Path[strings.LastIndex(m.Path, "/")+1:] + ".go": m.Source,
		})
		if err != nil {
			return nil, fmt.Errorf("making the zip of %s: %w", m.Path, err)
		}
		files[base+".info"], files[base+".mod"], files[base+".zip"] = info, []byte(mod), zip
		lists[m.Path] = append(lists[m.Path], m.Version)
	}
	for path, versions := range lists {
		files[path+"/@v/list"] = []byte(strings.Join(versions, "\n") + "\n")
		latest := versions[len(versions)-1]
		files[path+"/@latest"] = files[path+"/@v/"+latest+".info"]
	}
	p := &GoProxy{}
	p.srv = httptest.NewTLSServer(p.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	})))
	p.URL = p.srv.URL
	return p, nil
}

// CertificatePEM is the proxy's certificate, PEM-encoded, for a trust
// store.
func (p *GoProxy) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
}

// Close stops the proxy.
func (p *GoProxy) Close() { p.srv.Close() }
