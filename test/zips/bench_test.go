package zips

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/test/invoker"
)

// rssKB is a process's resident memory, from /proc.
func rssKB(pid int) (int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.Fields(rest)[0])
		}
	}
	return 0, sc.Err()
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// BenchmarkZip measures each zip as the runtime sees it: its size, the time
// from starting exec to its ack (the unzip is not counted), and its resident
// memory after one activation.
func BenchmarkZip(b *testing.B) {
	for _, z := range invoker.ZipNames() {
		b.Run(z, func(b *testing.B) {
			path := filepath.Join(zipDir(b), z+".zip")
			info, err := os.Stat(path)
			require.NoError(b, err, "run make build")
			dir := b.TempDir()
			var acks []time.Duration
			var rss int
			for b.Loop() {
				p, err := invoker.Start(path, invoker.Options{Dir: dir, ExecutionEnv: invoker.DefaultExecutionEnv})
				require.NoError(b, err)
				acks = append(acks, p.AckTime())
				_, err = p.RunValue(invoker.Web(z, "", "GET", nil))
				require.NoError(b, err)
				rss, err = rssKB(p.Pid())
				require.NoError(b, err)
				p.Stop()
			}
			b.ReportMetric(float64(info.Size())/1e6, "zip-MB")
			b.ReportMetric(float64(median(acks).Microseconds())/1000, "ack-ms")
			b.ReportMetric(float64(rss)/1024, "rss-MB")
		})
	}
}

// BenchmarkWarmActivation is the overhead of one activation in a warm
// container with no remote call (an identity error), through the harness:
// the line in, the result line out.
func BenchmarkWarmActivation(b *testing.B) {
	p, err := invoker.Start(filepath.Join(zipDir(b), "send.zip"), invoker.Options{Dir: b.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv, Bound: invoker.Deployment(nil)})
	require.NoError(b, err)
	defer p.Stop()
	a := invoker.Web("send", "", "POST", map[string]any{"source": "busybox"})
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		_, err := p.Run(a)
		lat = append(lat, time.Since(start))
		require.NoError(b, err)
	}
	b.ReportMetric(float64(median(lat).Microseconds())/1000, "ms-p50")
}
