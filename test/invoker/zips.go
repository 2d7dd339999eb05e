package invoker

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ZipNames are the zips `make build` writes, one per action binary.
func ZipNames() []string { return []string{"send", "logs", "registry", "cleanjobs", "updatetoml"} }

// ZipDir returns the folder of the built zips — $BUILDER_ZIPS, else build/
// under root, the repository — after checking that each zip is there and
// newer than every source it is built from (actions/, shared/, go.mod,
// go.sum), so that no test runs zips older than the code it claims to test.
func ZipDir(root string) (string, error) {
	dir := os.Getenv("BUILDER_ZIPS")
	if dir == "" {
		dir = filepath.Join(root, "build")
	}
	newest, src, err := newestSource(root)
	if err != nil {
		return "", err
	}
	for _, z := range ZipNames() {
		info, err := os.Stat(filepath.Join(dir, z+".zip"))
		if err != nil {
			return "", fmt.Errorf("%s.zip is missing in %s: run `make build` (make test does)", z, dir)
		}
		if info.ModTime().Before(newest) {
			return "", fmt.Errorf("%s.zip is older than %s: run `make build` (make test does)", filepath.Join(dir, z), src)
		}
	}
	return dir, nil
}

// newestSource is the newest file the zips are built from.
func newestSource(root string) (time.Time, string, error) {
	var newest time.Time
	var name string
	consider := func(path string, info fs.FileInfo) {
		if info.ModTime().After(newest) {
			newest, name = info.ModTime(), path
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		info, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			return time.Time{}, "", err
		}
		consider(f, info)
	}
	for _, d := range []string{"actions", "shared"} {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// Test helpers (shared/action/actiontest) are not in the zips.
			if e.IsDir() && strings.HasSuffix(e.Name(), "test") {
				return filepath.SkipDir
			}
			if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			consider(path, info)
			return nil
		})
		if err != nil {
			return time.Time{}, "", err
		}
	}
	return newest, name, nil
}
