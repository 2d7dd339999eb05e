package localstack

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
)

// PythonIndex is a package index on 127.0.0.1 that pip reads as it reads
// PyPI (the simple repository API, PEP 503), serving wheels made here:
// PyPI cannot be reached from here, and a user's requirements.txt names
// such an index with --index-url.
type PythonIndex struct {
	// URL is the index's root, for --index-url.
	URL string
	srv *httptest.Server
	Gate
}

// Wheel is a pure-Python package of one module, Name, whose __init__.py
// is Source, at Version.
type Wheel struct {
	Name, Version, Source string
}

// StartPythonIndex serves wheels until Close.
func StartPythonIndex(wheels ...Wheel) (*PythonIndex, error) {
	files := map[string][]byte{}
	pages := map[string]string{}
	for _, w := range wheels {
		data, err := w.zip()
		if err != nil {
			return nil, fmt.Errorf("making the wheel of %s: %w", w.Name, err)
		}
		fn := w.fileName()
		files[fn] = data
		sum := sha256.Sum256(data)
		pages[w.Name] += fmt.Sprintf("<a href=\"../../files/%s#sha256=%s\">%s</a>\n", fn, hex.EncodeToString(sum[:]), html.EscapeString(fn))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /simple/{project}/", func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.PathValue("project")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><body>\n%s</body></html>\n", page)
	})
	mux.HandleFunc("GET /files/{file}", serveFiles(files, "application/octet-stream"))
	p := &PythonIndex{}
	p.srv = httptest.NewServer(p.wrap(mux))
	p.URL = p.srv.URL + "/simple/"
	return p, nil
}

// serveFiles serves the file named by the path's {file}, or 404.
func serveFiles(files map[string][]byte, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.PathValue("file")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(data)
	}
}

// Close stops the index.
func (p *PythonIndex) Close() { p.srv.Close() }

func (w Wheel) fileName() string {
	return fmt.Sprintf("%s-%s-py3-none-any.whl", w.Name, w.Version)
}

// zip is the wheel: the module, and its dist-info (METADATA, WHEEL and a
// RECORD with each file's hash, as pip checks them).
func (w Wheel) zip() ([]byte, error) {
	info := fmt.Sprintf("%s-%s.dist-info/", w.Name, w.Version)
	files := map[string]string{
		w.Name + "/__init__.py": w.Source,
		info + "METADATA":       fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", w.Name, w.Version),
		info + "WHEEL":          "Wheel-Version: 1.0\nGenerator: osb-localstack\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
	}
	var record strings.Builder
	for _, n := range slices.Sorted(maps.Keys(files)) {
		sum := sha256.Sum256([]byte(files[n]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	record.WriteString(info + "RECORD,,\n")
	files[info+"RECORD"] = record.String()
	return zipOf(files)
}

// zipOf is a zip archive of files (name → content), in name order.
func zipOf(files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		f, err := zw.Create(n)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write([]byte(files[n])); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
