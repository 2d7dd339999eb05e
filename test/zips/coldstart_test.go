package zips

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/test/invoker"
)

// beforeRev is the last commit whose actions used client-go's typed
// clientset: the cold-start benchmark builds its zips to compare
// (BENCH_BEFORE_REV overrides it).
const beforeRev = "9c1658a"

// baseline is what the cold-start benchmark compares with, made once.
type baseline struct {
	smallest time.Duration            // init of the smallest exec
	before   map[string]time.Duration // init of each zip at beforeRev
	why      string                   // why before is empty, if it is
}

var (
	baseOnce sync.Once
	base     baseline
	baseErr  error
)

// buildZip builds ./<pkg> of the module at root and packs it as `make
// build` does (the same flags, exec.env, and this tree's hack/pack).
func buildZip(root, pkg, dir, name string) ([]byte, error) {
	out := filepath.Join(dir, name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid=", "-o", filepath.Join(out, "exec"), "./"+pkg)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building %s at %s: %v\n%s", pkg, root, err, msg)
	}
	if err := os.WriteFile(filepath.Join(out, "exec.env"), []byte(invoker.DefaultExecutionEnv+"\n"), 0o644); err != nil {
		return nil, err
	}
	here, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	zipPath := out + ".zip"
	pack := exec.Command("go", "run", "./hack/pack", "-o", zipPath, filepath.Join(out, "exec"), filepath.Join(out, "exec.env"))
	pack.Dir = here
	if msg, err := pack.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("packing %s: %v\n%s", pkg, err, msg)
	}
	return os.ReadFile(zipPath)
}

// coldInit is the median time of a cold start from the init request of
// zipData: JSON and base64 decode, unzip, exec start, ack.
func coldInit(b testing.TB, zipData []byte, runs int) time.Duration {
	body, err := invoker.InitBody(zipData)
	require.NoError(b, err)
	var times []time.Duration
	for i := 0; i < runs; i++ {
		times = append(times, initOnce(b, body))
	}
	return median(times)
}

func initOnce(b testing.TB, body []byte) time.Duration {
	dir, err := os.MkdirTemp("", "coldinit-")
	require.NoError(b, err)
	defer os.RemoveAll(dir)
	start := time.Now()
	p, err := invoker.StartInit(body, invoker.Options{Dir: dir, ExecutionEnv: invoker.DefaultExecutionEnv})
	took := time.Since(start)
	require.NoError(b, err)
	p.Stop()
	return took
}

func makeBaseline(b testing.TB) {
	root, err := filepath.Abs("../..")
	require.NoError(b, err)
	dir := b.TempDir()
	small, err := buildZip(root, "test/zips/minexec", dir, "minexec")
	if err != nil {
		baseErr = err
		return
	}
	base.smallest = coldInit(b, small, 20)
	rev := beforeRev
	if r := os.Getenv("BENCH_BEFORE_REV"); r != "" {
		rev = r
	}
	old := filepath.Join(dir, "before")
	require.NoError(b, os.MkdirAll(old, 0o755))
	archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, rev, old)
	if msg, err := archive.CombinedOutput(); err != nil {
		base.why = fmt.Sprintf("no build of %s to compare with (%v: %s)", rev, err, bytes.TrimSpace(msg))
		return
	}
	base.before = map[string]time.Duration{}
	for _, z := range invoker.ZipNames() {
		data, err := buildZip(old, "actions/"+z, filepath.Join(dir, "before-zips"), z)
		if err != nil {
			base.before, base.why = nil, err.Error()
			return
		}
		base.before[z] = coldInit(b, data, 20)
	}
}

// BenchmarkColdInit measures each zip's cold start as the Go runtime pays
// it, beside the smallest possible ActionLoop exec and the same zip built
// at beforeRev: zip-MB, exec-MB, init-ms, x-smallest (init over the
// smallest exec's) and x-before (init over the zip's at beforeRev).
func BenchmarkColdInit(b *testing.B) {
	baseOnce.Do(func() { makeBaseline(b) })
	require.NoError(b, baseErr)
	if base.why != "" {
		b.Log(base.why)
	}
	for _, z := range invoker.ZipNames() {
		b.Run(z, func(b *testing.B) {
			data, err := os.ReadFile(filepath.Join(zipDir(b), z+".zip"))
			require.NoError(b, err)
			execSize := 0
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			require.NoError(b, err)
			for _, f := range zr.File {
				if f.Name == "exec" {
					execSize = int(f.UncompressedSize64)
				}
			}
			body, err := invoker.InitBody(data)
			require.NoError(b, err)
			var times []time.Duration
			for b.Loop() {
				times = append(times, initOnce(b, body))
			}
			init := median(times)
			b.ReportMetric(float64(len(data))/1e6, "zip-MB")
			b.ReportMetric(float64(execSize)/1e6, "exec-MB")
			b.ReportMetric(float64(init.Microseconds())/1000, "init-ms")
			b.ReportMetric(float64(init)/float64(base.smallest), "x-smallest")
			if old, ok := base.before[z]; ok {
				b.ReportMetric(float64(old.Microseconds())/1000, "before-init-ms")
				b.ReportMetric(float64(init)/float64(old), "x-before")
			}
		})
	}
}
