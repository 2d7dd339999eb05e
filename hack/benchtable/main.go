// Command benchtable reads `go test -bench` output and prints one Markdown
// table of every benchmark with its measures and goal (make bench).
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// goals are the performance goals (issue "Benchmarks and performance
// goals"), by benchmark name prefix.
var goals = []struct{ prefix, goal string }{
	{"Zip/", "ack-ms ≤ 20"},
	{"ColdInit/", "zip-MB ≤ 6, x-before ≤ 0.6"},
	{"WarmActivation", "ms-p50 ≤ 1"},
	{"SendRealAPI", "ms-p50 ≤ 50"},
	{"SendRealAPIBacklog", ""},
	{"CleanJobs5kOf10k", "≤ 30 s"},
	{"ListCatalogs10k", "≤ 2 s"},
	{"ListImages5k", "≤ 2 s"},
	{"BuildCache", "second-ratio ≤ 0.4; reused-ratio ≤ 0.2 (#37)"},
	{"BuildCost/A-first", "upload-ratio ≤ 2.2, layers-over-source = 1 (#37)"},
	{"BuildCost/B-same", "ratio ≤ 0.2, moved-ratio ≤ 0.1 (#37)"},
	{"BuildCost/B-rebuild", "none: rebuild=true builds (BuildKit unpacks the base on a local cache import)"},
	{"BuildCost/C-one-more", "upload-ratio ≤ 2.2, other-s ≤ 2.5, layers-over-source = 1 (#37)"},
	{"ListCatalogsCrowd", "ratio ≤ 1.5, crowd-pages ≤ 2"},
	{"SendBuildsLogsCrowd", "each ratio ≤ 1.3"},
}

var line = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func main() {
	fmt.Println("| benchmark | runs | measures | goal |")
	fmt.Println("|---|---:|---|---|")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name, runs, fields := m[1], m[3], strings.Fields(m[4])
		var measures []string
		for i := 0; i+1 < len(fields); i += 2 {
			measures = append(measures, format(fields[i], fields[i+1]))
		}
		goal := ""
		for _, g := range goals {
			if strings.HasPrefix(name, g.prefix) {
				goal = g.goal
			}
		}
		fmt.Printf("| %s | %s | %s | %s |\n", name, runs, strings.Join(measures, ", "), goal)
	}
}

// format shows ns/op in a readable unit and other measures as they are.
func format(value, unit string) string {
	if unit != "ns/op" {
		return value + " " + unit
	}
	ns, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return value + " " + unit
	}
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s/op", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms/op", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs/op", ns/1e3)
	}
	return value + " ns/op"
}
