package localstack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// NpmRegistry is an npm registry on 127.0.0.1 (a packument per package
// naming each version's tarball), serving packages made here: a user's
// .npmrc names such a registry, and the token it takes.
type NpmRegistry struct {
	// URL is the registry's root, with its trailing slash, for
	// registry=URL in an .npmrc.
	URL string
	srv *httptest.Server
	Gate
}

// NpmPackage is a package Name at Version whose index.js is Main.
type NpmPackage struct {
	Name, Version, Main string
}

// StartNpmRegistry serves pkgs until Close; the versions of a package are
// given in order, the latest last.
func StartNpmRegistry(pkgs ...NpmPackage) (*NpmRegistry, error) {
	reg := &NpmRegistry{}
	mux := http.NewServeMux()
	reg.srv = httptest.NewServer(reg.wrap(mux)) // the tarball URLs name its address
	reg.URL = reg.srv.URL + "/"
	tarballs := map[string][]byte{}
	packuments := map[string]map[string]any{}
	for _, p := range pkgs {
		manifest := map[string]any{"name": p.Name, "version": p.Version, "main": "index.js"}
		data, err := p.tarball(manifest)
		if err != nil {
			reg.srv.Close()
			return nil, fmt.Errorf("making the tarball of %s: %w", p.Name, err)
		}
		file := p.Name + "-" + p.Version + ".tgz"
		tarballs[file] = data
		sha, integrity := sha1.Sum(data), sha512.Sum512(data)
		manifest["dist"] = map[string]string{
			"tarball":   reg.URL + p.Name + "/-/" + file,
			"shasum":    hex.EncodeToString(sha[:]),
			"integrity": "sha512-" + base64.StdEncoding.EncodeToString(integrity[:]),
		}
		doc := packuments[p.Name]
		if doc == nil {
			doc = map[string]any{"name": p.Name, "versions": map[string]any{}}
			packuments[p.Name] = doc
		}
		doc["versions"].(map[string]any)[p.Version] = manifest
		doc["dist-tags"] = map[string]string{"latest": p.Version}
	}
	mux.HandleFunc("GET /{name}", func(w http.ResponseWriter, r *http.Request) {
		doc, ok := packuments[r.PathValue("name")]
		if !ok {
			http.Error(w, `{"error":"Not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /{name}/-/{file}", serveFiles(tarballs, "application/octet-stream"))
	return reg, nil
}

// Close stops the registry.
func (n *NpmRegistry) Close() { n.srv.Close() }

// tarball is the package as npm packs it: package/package.json and
// package/index.js, gzipped.
func (p NpmPackage) tarball(manifest map[string]any) ([]byte, error) {
	pkgJSON, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, data string }{{"package/package.json", string(pkgJSON)}, {"package/index.js", p.Main}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.data)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Host is the registry's host:port, as an .npmrc keys its token.
func (n *NpmRegistry) Host() string { return strings.TrimPrefix(n.srv.URL, "http://") }
