//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/invoker"
)

// BenchmarkSendRealAPI is send from activation to result through its zip, as
// a warm container serves it, against the real API server: validation, the
// Job and its ConfigMap. ms-p50 is the median.
//
// The node is cordoned meanwhile: otherwise every send starts a real build,
// and hundreds of builds on two cores measure the builds, not send.
func BenchmarkSendRealAPI(b *testing.B) {
	sendRealAPI(b, nil, true)
}

// BenchmarkSendRealAPIBacklog is the same with the user's builds left in
// place, so the n-th send lists n-1 unfinished builds of its user: the
// per-user limit is lifted for it (each send still lists and counts them).
func BenchmarkSendRealAPIBacklog(b *testing.B) {
	sendRealAPI(b, map[string]any{"max_active_builds": 0, "max_retained_builds": 1000}, false)
}

// sendRealAPI measures send as deployed with config; with clear, each
// build is deleted after its send (untimed), so the user has no backlog,
// as with the default limits of 3 unfinished and 20 kept builds.
func sendRealAPI(b *testing.B, config map[string]any, clear bool) {
	cordon(b)
	ctx := context.Background()
	bg := metav1.DeletePropagationBackground
	b.Cleanup(func() {
		require.NoError(b, stack.kube.Client.BatchV1().Jobs(bns).DeleteCollection(ctx,
			metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{LabelSelector: names.UserSelector("bench")}))
		// Gone already when the last send took its entry back.
		if err := stack.kube.Client.CoreV1().ConfigMaps(bns).Delete(ctx, names.IndexName("bench"), metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
			require.NoError(b, err)
		}
	})
	p, err := invoker.Start(filepath.Join(stack.root, "build", "send.zip"), invoker.Options{Dir: b.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv,
		Bound: invoker.Merge(bound(), config)})
	require.NoError(b, err)
	defer p.Stop()
	a := invoker.Web("send", "bench", "POST", seed("bench:v1"))
	var lat []time.Duration
	send := func() time.Duration {
		start := time.Now()
		res, err := p.RunValue(a)
		took := time.Since(start)
		require.NoError(b, err)
		code, body, _ := invoker.Response(res)
		if code != 200 {
			b.Fatalf("%d %v", code, body)
		}
		if clear {
			// As a cancel or cleanup leaves it: the Job gone, and no
			// longer in the index.
			name := body["job_name"].(string)
			require.NoError(b, stack.kube.Client.BatchV1().Jobs(bns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}))
			require.NoError(b, indexOf("bench").Remove(ctx, name))
		}
		return took
	}
	// The first activation builds the clients; a warm container has them.
	send()
	for b.Loop() {
		lat = append(lat, send())
	}
	b.ReportMetric(medianMS(lat), "ms-p50") // sorts lat
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "ms-p95")
}

// countingTransport counts the requests a client makes: those whose path
// ends with path, every one when it is "".
type countingTransport struct {
	next  http.RoundTripper
	path  string
	calls atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, c.path) {
		c.calls.Add(1)
	}
	return c.next.RoundTrip(r)
}

// BenchmarkCleanJobs5kOf10k: 5,000 finished builder Jobs among 10,000 Jobs
// (2,500 running builds, 2,500 Jobs that are not the builder's), cleaned as
// the alarm does, with the builder's ServiceAccount. Reports wall time and
// API calls.
func BenchmarkCleanJobs5kOf10k(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		makeJobs(b, ctx, 5000, 2500, 2500)
		cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(stack.saKubeconfig))
		require.NoError(b, err)
		cfg.QPS, cfg.Burst = 500, 1000 // as kube.Loader sets them
		counter := &countingTransport{}
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter })
		k, err := kube.NewClients(cfg)
		require.NoError(b, err)
		conf, err := config.FromParams(params.Params{})
		require.NoError(b, err)
		n := builds.In(k, conf, log.New(io.Discard, "", 0))
		b.StartTimer()

		res, err := n.Clean(ctx, builds.CleanOptions{Cutoff: time.Now().Add(-time.Hour), Retained: conf.MaxRetainedBuilds})

		b.StopTimer()
		require.NoError(b, err)
		require.Empty(b, res.Failed)
		require.Len(b, res.Jobs, 5000)
		b.ReportMetric(float64(counter.calls.Load()), "api-calls")
		b.ReportMetric(float64(len(res.Jobs)), "deleted")
		clearJobs(b, ctx)
		b.StartTimer()
	}
}

// makeJobs creates finished and running builder Jobs and foreign Jobs, 16 at
// a time, without owned ConfigMaps. Each has the shape of a build Job
// (deploy/admission.yaml admits no other in the build namespace): a
// foreign one differs in its own labels, which the cleaner selects by.
func makeJobs(b *testing.B, ctx context.Context, finished, running, foreign int) {
	c := stack.kube.Client.BatchV1().Jobs(bns)
	managedBy := externalController
	shape := buildPlan(b).Job()
	shape.Spec.Suspend, shape.Spec.ManagedBy = nil, &managedBy
	type spec struct {
		i    int
		kind string
	}
	work := make(chan spec)
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				// 20 builds a user, finished or running: the bound on a
				// user's history (max_retained_builds, 20) deletes nothing,
				// so what is measured is the age-based clean.
				user := fmt.Sprintf("bench%03d", s.i/20)
				labels := map[string]string{names.LabelManagedBy: names.ManagedBy, names.LabelUser: names.UserLabel(user), names.LabelBuildID: fmt.Sprintf("%s%05d", s.kind, s.i)}
				if s.kind == "foreign" {
					labels = map[string]string{"app": "other"}
				}
				name := fmt.Sprintf("build-bench-%s-%05d", s.kind, s.i)
				job := &batchv1.Job{
					ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{names.AnnotationUser: user}},
					Spec:       *shape.Spec.DeepCopy(),
				}
				for _, v := range job.Spec.Template.Spec.Volumes {
					if v.ConfigMap != nil && v.Name == "workspace" {
						v.ConfigMap.Name = name // its context's name
					}
				}
				j, err := c.Create(ctx, job, metav1.CreateOptions{})
				if err == nil && s.kind != "running" {
					at := metav1.NewTime(time.Now().Add(-2 * time.Hour).Truncate(time.Second))
					start := metav1.NewTime(at.Add(-time.Minute))
					j.Status = batchv1.JobStatus{StartTime: &start, CompletionTime: &at, Succeeded: 1, Conditions: []batchv1.JobCondition{
						{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: at},
						{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: at},
					}}
					_, err = c.UpdateStatus(ctx, j, metav1.UpdateOptions{})
				}
				if err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	for i := 0; i < finished; i++ {
		work <- spec{i, "finished"}
	}
	for i := 0; i < running; i++ {
		work <- spec{i, "running"}
	}
	for i := 0; i < foreign; i++ {
		work <- spec{i, "foreign"}
	}
	close(work)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

func clearJobs(b *testing.B, ctx context.Context) {
	bg := metav1.DeletePropagationBackground
	err := stack.kube.Client.BatchV1().Jobs(bns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{LabelSelector: "app=other"})
	require.NoError(b, err)
	err = stack.kube.Client.BatchV1().Jobs(bns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, metav1.ListOptions{LabelSelector: names.UserSelector("")})
	require.NoError(b, err)
	// And the records the clean stored.
	err = stack.kube.Client.CoreV1().ConfigMaps(bns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: names.RecordSelector("")})
	require.NoError(b, err)
}

// copyTree copies the registry's storage directory src to dst: seeding a
// repository or a tag as the registry itself would have written it.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func repoDir(repo string) string {
	return filepath.Join(stack.registry.Dir, "storage", "docker", "registry", "v2", "repositories", repo)
}

var seedOnce sync.Once

// seedRegistry makes 10,000 repositories bench10k/rNNNNN and 5,000 tags of
// bench5k: one real push each, then copies of what the registry stored.
func seedRegistry(b *testing.B) {
	seedOnce.Do(func() {
		push(b, stack.registry, image(b), "bench10k/r00000:v1", "bench5k:t00000")
		for i := 1; i < 10000; i++ {
			require.NoError(b, copyTree(repoDir("bench10k/r00000"), repoDir(fmt.Sprintf("bench10k/r%05d", i))))
		}
		tags := filepath.Join(repoDir("bench5k"), "_manifests", "tags")
		for i := 1; i < 5000; i++ {
			require.NoError(b, copyTree(filepath.Join(tags, "t00000"), filepath.Join(tags, fmt.Sprintf("t%05d", i))))
		}
	})
}

func registryClient(b *testing.B) *registry.Client {
	c, err := registry.New(stack.registry.Host, registry.Options{
		Insecure: true, Auth: &authn.Basic{Username: stack.registry.User, Password: stack.registry.Password},
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
	})
	require.NoError(b, err)
	return c
}

// BenchmarkListCatalogs10k lists a registry of over 10,000 repositories:
// what list-catalogs does, in-process so allocations are counted.
func BenchmarkListCatalogs10k(b *testing.B) {
	seedRegistry(b)
	c := registryClient(b)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		repos, err := c.Catalog(context.Background())
		require.NoError(b, err)
		n = len(repos)
	}
	require.GreaterOrEqual(b, n, 10000)
	b.ReportMetric(float64(n), "repos")
}

// BenchmarkListImages5k lists the 5,000 tags of one repository.
func BenchmarkListImages5k(b *testing.B) {
	seedRegistry(b)
	c := registryClient(b)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		tags, err := c.Tags(context.Background(), "bench5k")
		require.NoError(b, err)
		n = len(tags)
	}
	require.Equal(b, 5000, n)
	b.ReportMetric(float64(n), "tags")
}

// stepSeconds is how long BuildKit's plain progress says the step titled
// title took ("#9 exporting to image" ... "#9 DONE 0.3s").
func stepSeconds(log, title string) float64 {
	id := ""
	for _, line := range strings.Split(log, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[0], "#") {
			continue
		}
		if id == "" && strings.Contains(line, " "+title) {
			id = f[0]
		}
		if id != "" && f[0] == id && f[1] == "DONE" && len(f) > 2 {
			d, err := time.ParseDuration(f[2])
			if err == nil {
				return d.Seconds()
			}
		}
	}
	return 0
}

// BenchmarkSeedScenario is the seed's build on the local stack, split into
// send (activation to result), export (BuildKit writing the image's
// layout, from its progress) and build (the rest until the logs action
// says succeeded: the fetch, the build steps, the transfer pushes).
func BenchmarkSeedScenario(b *testing.B) {
	t := &testing.T{}
	python, _ := bases(t)
	req := base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nsetuptools\n"))
	sp, err := invoker.Start(filepath.Join(stack.root, "build", "send.zip"), invoker.Options{Dir: b.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv, Bound: bound()})
	require.NoError(b, err)
	defer sp.Stop()
	lp, err := invoker.Start(filepath.Join(stack.root, "build", "logs.zip"), invoker.Options{Dir: b.TempDir(), ExecutionEnv: invoker.DefaultExecutionEnv, Bound: bound()})
	require.NoError(b, err)
	defer lp.Stop()
	var send, total, export float64
	for b.Loop() {
		start := time.Now()
		res, err := sp.RunValue(invoker.Web("send", "bench", "POST", map[string]any{
			// rebuild: the same request again would reuse the first image.
			"source": python, "target": "bench:scenario", "kind": "python", "file": req, "rebuild": true,
		}))
		require.NoError(b, err)
		send += time.Since(start).Seconds()
		_, sent, err := invoker.Response(res)
		require.NoError(b, err)
		st := waitDone(b, lp, "bench", sent["job_name"].(string))
		require.Equal(b, types.Succeeded, st["status"], "%v", st["logs"])
		total += time.Since(start).Seconds()
		export += stepSeconds(st["logs"].(string), "exporting to oci image format")
	}
	n := float64(b.N)
	b.ReportMetric(send/n*1000, "send-ms")
	b.ReportMetric((total-send-export)/n, "build-s")
	b.ReportMetric(export/n, "export-s")
	b.ReportMetric(total/n, "total-s")
}
