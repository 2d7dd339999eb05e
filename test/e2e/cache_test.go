//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/invoker"
)

// layers are the layer digests of an image's manifest, as get-image
// reports it.
func layers(t *testing.T, got map[string]any) []string {
	t.Helper()
	var out []string
	ls, _ := got["manifest"].(map[string]any)["layers"].([]any)
	for _, l := range ls {
		out = append(out, l.(map[string]any)["digest"].(string))
	}
	require.NotEmpty(t, out, "%v", got)
	return out
}

// TestBuildCache: a second build of the same context, in a fresh pod,
// takes its steps from the user's cache in the registry and gives the same
// layers; another user's build does not see that cache; the listings hide
// the caches unless all=true. No build moves the source's layers twice:
// the pushes mount them from runtimes/ (a cluster source the user may
// read), and the cache's fetch asks for none of them.
func TestBuildCache(t *testing.T) {
	python, _ := bases(t)
	req := base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nsetuptools\n"))
	// rebuild: the same request would reuse the first image (#37); the
	// cache is what a build of it uses.
	build := func(user, target string) map[string]any {
		_, st := buildAndWait(t, user, map[string]any{"source": python, "target": target, "kind": "python", "file": req, "rebuild": true})
		require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
		return st
	}
	first := build("cacher", "cacher:first")
	assert.NotContains(t, first["logs"], "CACHED", "the first build has no cache to use")
	assert.NotContains(t, first["logs"], "==> fetch-cache", "send found no cache: no step fetches one")
	assert.Regexp(t, `==> push-cache\n(?:.*\n)*`+regexp.QuoteMeta(stack.registry.Host)+`/cacher/buildcache@sha256:[0-9a-f]{64}\n`, first["logs"], "the cache is pushed after the build")
	srcSize := int64(0)
	src := regImage(t, python)
	for d, size := range layerSet(t, src) {
		srcSize += size
		for _, step := range []string{"push", "push-cache"} {
			assert.Contains(t, stepLog(first["logs"].(string), step), "mounted blob: "+d.String(), "%s mounts the source's layer", step)
		}
	}
	for _, step := range []string{"push", "push-cache"} {
		assert.Less(t, moved(t, first["logs"].(string), step, "sent"), srcSize/4, "%s uploads the new layers alone", step)
	}
	// Tagged cache, as the cache's own entry in the build's layout: each
	// push still finds its own.
	second := build("cacher", "cacher:cache")
	assert.Less(t, moved(t, second["logs"].(string), "fetch-cache", "received"), srcSize/4, "the cache's fetch asks for none of the source's layers")
	assert.Regexp(t, `#\d+ CACHED`, second["logs"], "the second build's steps come from the cache")
	assert.Contains(t, second["logs"], "==> fetch-cache\n", "send found the cache: a step fetches it")
	assert.Contains(t, second["logs"], "importing cache manifest from local:", "the build imports the fetched layout")
	other := build("cacher2", "cacher2:first")
	assert.NotContains(t, other["logs"], "CACHED", "another user's build does not use cacher's cache")
	assert.NotContains(t, other["logs"], "==> fetch-cache")

	rp := action(t, "registry")
	get := func(user, image string) map[string]any {
		code, body := call(t, rp, invoker.Web("get-image", user, "GET", map[string]any{"image": image}))
		require.Equal(t, 200, code, "%v", body)
		return body
	}
	assert.Equal(t, layers(t, get("cacher", "cacher:first")), layers(t, get("cacher", "cacher:cache")), "the same layers")
	// logs and builds (from the record its logs call wrote) report the
	// image's digest, which push printed, not the cache's after it.
	assert.Equal(t, get("cacher", "cacher:cache")["digest"], second["digest"], "logs reports the image's digest")
	code, list := call(t, action(t, "logs", map[string]any{"operation": "builds"}), invoker.Web("builds", "cacher", "GET", nil))
	require.Equal(t, 200, code, "%v", list)
	digests := map[any]any{}
	for _, b := range list["builds"].([]any) {
		digests[b.(map[string]any)["image"]] = b.(map[string]any)["digest"]
	}
	for _, target := range []string{"cacher:first", "cacher:cache"} {
		img := get("cacher", target)
		assert.Equal(t, img["digest"], digests[stack.registry.Host+"/"+target], "builds reports the digest of %s", target)
	}
	for _, user := range []string{"cacher", "cacher2"} {
		cache := get(user, user+"/buildcache:python")
		assert.Equal(t, "application/vnd.oci.image.manifest.v1+json", cache["media_type"], "an OCI image manifest, which distribution stores")
	}

	code, body := call(t, rp, invoker.Web("list-catalogs", "cacher", "GET", nil))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{"cacher"}, body["repositories"], "the cache is hidden")
	code, body = call(t, rp, invoker.Web("list-catalogs", "cacher", "GET", map[string]any{"all": true}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{"cacher", "cacher/buildcache"}, body["repositories"], "and shown with all=true, never cacher2's")
	code, body = call(t, rp, invoker.Web("list-images", "cacher", "GET", map[string]any{"catalog": "cacher/buildcache", "all": true}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{"python"}, body["tags"])
	code, body = call(t, rp, invoker.Web("delete-image", "cacher", "DELETE", map[string]any{"image": "cacher/buildcache:python"}))
	require.Equal(t, 200, code, "deleting the cache clears it: %v", body)
}

// TestProvenance: a built image carries BuildKit's provenance attestation;
// get-image reports the image and lists the attestation; delete-image
// removes both. With provenance off, the image has none.
func TestProvenance(t *testing.T) {
	python, _ := bases(t)
	sent, st := buildAndWait(t, "attester", map[string]any{"source": python, "target": "attester:v1", "kind": "python"})
	require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
	rp := action(t, "registry")
	code, got := call(t, rp, invoker.Web("get-image", "attester", "GET", map[string]any{"image": "attester:v1"}))
	require.Equal(t, 200, code, "%v", got)
	assert.Equal(t, st["digest"], got["digest"], "the digest the build pushed")
	require.NotNil(t, got["config"], "the image's config, as for an image without attestations")
	assert.Equal(t, "nobody", got["config"].(map[string]any)["user"])
	atts, _ := got["attestations"].([]any)
	require.Len(t, atts, 1, "%v", got)
	att := atts[0].(map[string]any)
	assert.Equal(t, got["platform_digest"], att["subject_digest"], "it describes the image")
	require.NotEmpty(t, att["predicate_types"])
	assert.True(t, strings.HasPrefix(att["predicate_types"].([]any)[0].(string), "https://slsa.dev/provenance/"), "%v", att)
	// The registry has no referrers API: an attestation with an OCI
	// subject would have made the push add a sha256-<digest> fallback tag.
	code, tags := call(t, rp, invoker.Web("list-images", "attester", "GET", map[string]any{"catalog": "attester", "all": true}))
	require.Equal(t, 200, code, "%v", tags)
	assert.Equal(t, []any{"v1"}, tags["tags"], "no referrers fallback tag")

	code, body := call(t, rp, invoker.Web("delete-image", "attester", "DELETE", map[string]any{"image": "attester:v1"}))
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, []any{att["digest"]}, body["attestations"])
	code, body = call(t, rp, invoker.Web("get-image", "attester", "GET", map[string]any{"image": "attester@" + att["digest"].(string)}))
	assert.Equal(t, 404, code, "the attestation went with the image: %v", body)
	require.NotEmpty(t, sent["image"])

	_, st = buildAndWait(t, "attester", map[string]any{"source": python, "target": "attester:plain", "kind": "python"}, map[string]any{"provenance": false})
	require.Equal(t, "succeeded", st["status"], "%v", st["logs"])
	code, got = call(t, rp, invoker.Web("get-image", "attester", "GET", map[string]any{"image": "attester:plain"}))
	require.Equal(t, 200, code, "%v", got)
	assert.Nil(t, got["attestations"])
	assert.Equal(t, "application/vnd.oci.image.manifest.v1+json", got["media_type"])
}

// stepLog is the part of a build's log under "==> step".
func stepLog(log, step string) string {
	_, part, ok := strings.Cut(log, "==> "+step+"\n")
	if !ok {
		return ""
	}
	if j := strings.Index(part, "\n==> "); j >= 0 {
		part = part[:j+1]
	}
	return part
}

// movedRE is the line a transfer step ends its log with: what it sent,
// received, and how long it took.
var movedRE = regexp.MustCompile(`(?m)^(?:fetch|push) \S+: sent (\d+) bytes, received (\d+) bytes in ([0-9.]+)s$`)

// moved is the bytes a transfer step of a build's log says it sent or
// received.
func moved(t testing.TB, log, step, way string) int64 {
	t.Helper()
	m := movedRE.FindStringSubmatch(stepLog(log, step))
	require.NotNil(t, m, "step %s says what it moved:\n%s", step, stepLog(log, step))
	i := 1
	if way == "received" {
		i = 2
	}
	n, err := strconv.ParseInt(m[i], 10, 64)
	require.NoError(t, err)
	return n
}

// BenchmarkBuildCache builds the same go runtime (its install step, `go mod
// download`, fetches modules from the Go module proxy) twice, each in a
// fresh build pod, with the registry cache and without: first-s and
// second-s with the cache (the second with rebuild=true), nocache-s
// without, second-ratio (second over first; goal ≤ 0.4) and export-s
// (what exporting the cache adds to a first build). Then the same request
// again, without rebuild: reused-s, which builds nothing (#37), and
// reused-ratio (over first; goal ≤ 0.2).
func BenchmarkBuildCache(b *testing.B) {
	t := &testing.T{}
	_, golang := bases(t)
	gomod := base64.StdEncoding.EncodeToString([]byte("module action\n\ngo 1.22\n\nrequire (\n\tgithub.com/google/go-containerregistry v0.20.2\n\tgithub.com/spf13/cobra v1.8.1\n\tgolang.org/x/text v0.21.0\n\tgopkg.in/yaml.v3 v3.0.1\n)\n"))
	timed := func(user string, config map[string]any, rebuild bool) float64 {
		p, err := invoker.Start(filepath.Join(stack.root, "build", "send.zip"), invoker.Options{Dir: b.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv, Bound: invoker.Merge(bound(), config)})
		require.NoError(b, err)
		defer p.Stop()
		start := time.Now()
		res, err := p.RunValue(invoker.Web("send", user, "POST", map[string]any{"source": golang, "target": user + "/go:custom", "kind": "go", "file": gomod, "rebuild": rebuild}))
		require.NoError(b, err)
		code, sent, err := invoker.Response(res)
		require.NoError(b, err)
		require.Equal(b, 200, code, "%v", sent)
		lp, err := invoker.Start(filepath.Join(stack.root, "build", "logs.zip"), invoker.Options{Dir: b.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv, Bound: bound()})
		require.NoError(b, err)
		defer lp.Stop()
		st := waitDone(b, lp, user, sent["job_name"].(string))
		require.Equal(b, types.Succeeded, st["status"], "%v", st["logs"])
		return time.Since(start).Seconds()
	}
	var first, second, nocache, reused float64
	n := 0
	for b.Loop() {
		n++
		user := fmt.Sprintf("benchcache%d-%d", n, time.Now().UnixNano()%100000)
		first += timed(user, nil, false)
		second += timed(user, nil, true)
		reused += timed(user, nil, false)
		nocache += timed(user+"x", map[string]any{"build_cache": false}, false)
	}
	f := float64(n)
	b.ReportMetric(reused/f, "reused-s")
	b.ReportMetric(reused/first, "reused-ratio")
	b.ReportMetric(first/f, "first-s")
	b.ReportMetric(second/f, "second-s")
	b.ReportMetric(nocache/f, "nocache-s")
	b.ReportMetric(second/first, "second-ratio")
	b.ReportMetric((first-nocache)/f, "export-s")
}

func regAuth() remote.Option {
	return remote.WithAuth(&authn.Basic{Username: stack.registry.User, Password: stack.registry.Password})
}

// regImage is the linux/amd64 image at ref in the registry, asked
// directly (not through the proxy), as its admin.
func regImage(b testing.TB, ref string) v1.Image {
	b.Helper()
	img := regImageIfAny(b, ref)
	require.NotNil(b, img, "no image at %s", ref)
	return img
}

// regImageIfAny is regImage, nil when there is none.
func regImageIfAny(b testing.TB, ref string) v1.Image {
	b.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	require.NoError(b, err)
	img, err := remote.Image(r, regAuth())
	if err != nil {
		return nil
	}
	return img
}

// layerSet is img's layers with their compressed sizes.
func layerSet(b testing.TB, img v1.Image) map[v1.Hash]int64 {
	b.Helper()
	m, err := img.Manifest()
	require.NoError(b, err)
	out := map[v1.Hash]int64{}
	for _, l := range m.Layers {
		out[l.Digest] = l.Size
	}
	return out
}

// imageBytes is the compressed size of img's layers.
func imageBytes(b testing.TB, img v1.Image) int64 {
	b.Helper()
	var n int64
	for _, size := range layerSet(b, img) {
		n += size
	}
	return n
}
