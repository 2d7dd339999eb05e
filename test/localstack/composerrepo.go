package localstack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// ComposerRepository is a composer repository on 127.0.0.1 (a
// packages.json naming each package's dist zip), serving packages made
// here: packagist cannot be reached from here, and a user's composer.json
// names such a repository under "repositories".
type ComposerRepository struct {
	// URL is the repository's root, for {"type": "composer", "url": URL}.
	URL string
	srv *httptest.Server
	Gate
}

// ComposerPackage is a package Name ("vendor/name") at Version, whose
// src/ holds Files (name → PHP source), autoloaded under Namespace.
type ComposerPackage struct {
	Name, Version, Namespace string
	Files                    map[string]string
}

// StartComposerRepository serves pkgs until Close.
func StartComposerRepository(pkgs ...ComposerPackage) (*ComposerRepository, error) {
	mux := http.NewServeMux()
	repo := &ComposerRepository{}
	srv := httptest.NewServer(repo.wrap(mux)) // the dist URLs name its address
	url := srv.URL
	dists := map[string][]byte{}
	index := map[string]map[string]any{}
	for _, p := range pkgs {
		meta := map[string]any{
			"name": p.Name, "version": p.Version, "type": "library",
			"autoload": map[string]any{"psr-4": map[string]string{p.Namespace + `\`: "src/"}},
		}
		data, err := p.zip(meta)
		if err != nil {
			srv.Close()
			return nil, fmt.Errorf("making the dist of %s: %w", p.Name, err)
		}
		file := strings.ReplaceAll(p.Name, "/", "-") + "-" + p.Version + ".zip"
		dists[file] = data
		meta["dist"] = map[string]string{"type": "zip", "url": url + "/dist/" + file}
		if index[p.Name] == nil {
			index[p.Name] = map[string]any{}
		}
		index[p.Name][p.Version] = meta
	}
	packages, err := json.Marshal(map[string]any{"packages": index})
	if err != nil {
		srv.Close()
		return nil, err
	}
	mux.HandleFunc("GET /packages.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(packages)
	})
	mux.HandleFunc("GET /dist/{file}", serveFiles(dists, "application/zip"))
	repo.URL, repo.srv = url, srv
	return repo, nil
}

// Close stops the repository.
func (c *ComposerRepository) Close() { c.srv.Close() }

// zip is the package's dist: its composer.json and src/.
func (p ComposerPackage) zip(meta map[string]any) ([]byte, error) {
	manifest, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	files := map[string]string{"composer.json": string(manifest)}
	for name, src := range p.Files {
		files["src/"+name] = src
	}
	return zipOf(files)
}
