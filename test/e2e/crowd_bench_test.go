//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	builderaction "github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/handlers"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/localstack"
)

// crowdLabel marks what the crowd benchmark creates, so it can go at once.
const crowdLabel = "builder.openserverless.apache.org/bench-crowd"

// medianMS is the median of ds in milliseconds; it sorts ds in place.
func medianMS(ds []time.Duration) float64 {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}

// BenchmarkListCatalogsCrowd: a user with 20 repositories lists their
// catalog in a registry of 100,000 repositories of 5,000 users, and in a
// registry holding only theirs; both real distribution registries, each
// measured over 50 calls in this one run. The ratio of the medians must
// stay at most 1.5 and the crowd's pages at most 2 (ISSUES: #23).
func BenchmarkListCatalogsCrowd(b *testing.B) {
	ctx := context.Background()
	tools := localstack.DefaultTools()
	const users, per, me = 5000, 20, "user02500"
	start := func(name string) *localstack.Registry {
		r, err := localstack.StartRegistry(ctx, tools, filepath.Join(b.TempDir(), name), localstack.RegistryOptions{})
		require.NoError(b, err)
		b.Cleanup(r.Stop)
		return r
	}
	// A repository, as the catalog sees it, is a directory of the
	// registry's storage with _manifests in it: the crowd is made of
	// those, and the measured user's repositories are real pushes.
	fill := func(r *localstack.Registry, users []string) {
		root := filepath.Join(r.Dir, "storage", "docker", "registry", "v2", "repositories")
		for _, u := range users {
			for i := 0; i < per; i++ {
				repo := fmt.Sprintf("%s/r%02d", u, i)
				if u == me {
					push(b, r, image(b), repo+":v1")
					continue
				}
				require.NoError(b, os.MkdirAll(filepath.Join(root, repo, "_manifests"), 0o755))
			}
		}
	}
	all := make([]string, users)
	for i := range all {
		all[i] = fmt.Sprintf("user%05d", i)
	}
	crowd, alone := start("crowd"), start("alone")
	fill(crowd, all)
	fill(alone, []string{me})

	measure := func(r *localstack.Registry) (float64, int64) {
		counter := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone(), path: "/_catalog"}
		c, err := registry.New(r.Host, registry.Options{Insecure: true, Auth: &authn.Basic{Username: r.User, Password: r.Password}, Transport: counter})
		require.NoError(b, err)
		var lat []time.Duration
		for i := 0; i < 51; i++ {
			start := time.Now()
			repos, err := c.OwnedCatalog(ctx, me)
			took := time.Since(start)
			require.NoError(b, err)
			require.Len(b, repos, per)
			if i > 0 { // the first call sets up the connection
				lat = append(lat, took)
			}
		}
		return medianMS(lat), counter.calls.Load() / 51
	}
	for b.Loop() {
		crowdMS, crowdPages := measure(crowd)
		aloneMS, alonePages := measure(alone)
		b.ReportMetric(crowdMS, "crowd-ms")
		b.ReportMetric(aloneMS, "alone-ms")
		b.ReportMetric(crowdMS/aloneMS, "ratio")
		b.ReportMetric(float64(crowdPages), "crowd-pages")
		b.ReportMetric(float64(alonePages), "alone-pages")
	}
	// Before: a user's listing read the whole catalog and filtered it.
	counter := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone(), path: "/_catalog"}
	c, err := registry.New(crowd.Host, registry.Options{Insecure: true, Auth: &authn.Basic{Username: crowd.User, Password: crowd.Password}, Transport: counter})
	require.NoError(b, err)
	began := time.Now()
	repos, err := c.Catalog(ctx)
	b.ReportMetric(float64(time.Since(began).Microseconds())/1000, "whole-catalog-ms")
	b.ReportMetric(float64(counter.calls.Load()), "whole-catalog-pages")
	require.NoError(b, err)
	require.Equal(b, users*per, len(repos))
}

// crowdUser is the user whose calls the crowd benchmark measures.
const crowdUser = "crowdme"

// BenchmarkSendBuildsLogsCrowd: send, builds and logs of one user (five
// finished builds) on the real API server, first alone, then among
// 10,000 finished builds of 2,000 other users (a Job, its context, its
// record and its log each: 40,000 objects), at least 100 calls each,
// in-process with the builder's ServiceAccount. Reports the medians, their
// ratios (at most 1.3: ISSUES #23) and the API requests per call.
func BenchmarkSendBuildsLogsCrowd(b *testing.B) {
	ctx := context.Background()
	cordon(b)
	conf, err := config.FromParams(params.Params(bound()))
	require.NoError(b, err)
	rest, err := clientcmd.RESTConfigFromKubeConfig([]byte(stack.saKubeconfig))
	require.NoError(b, err)
	rest.QPS, rest.Burst = 500, 1000 // as kube.Loader sets them
	counter := &countingTransport{}
	rest.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter })
	k, err := kube.NewClients(rest)
	require.NoError(b, err)
	env := &builderaction.Env{NewKube: func(config.Config) (*kube.Clients, error) { return k, nil }}
	caller := identity.Caller{Name: crowdUser}
	bg := metav1.DeletePropagationBackground
	// Best effort: the stack goes with the process (make bench runs this
	// one alone), and deleting 40,000 objects may outlast the API
	// server's request timeout.
	b.Cleanup(func() {
		for _, sel := range []string{crowdLabel + "=true", names.UserSelector(crowdUser)} {
			o := metav1.ListOptions{LabelSelector: sel}
			if err := stack.kube.Client.BatchV1().Jobs(bns).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg}, o); err != nil {
				b.Logf("removing the crowd's Jobs: %v", err)
			}
			if err := stack.kube.Client.CoreV1().ConfigMaps(bns).DeleteCollection(ctx, metav1.DeleteOptions{}, o); err != nil {
				b.Logf("removing the crowd's ConfigMaps: %v", err)
			}
		}
	})
	makeCrowd(b, ctx, conf, []string{crowdUser}, 5)

	type row struct {
		name string
		run  func()
	}
	invoke := func(a builderaction.Action, p params.Params) func() {
		return func() {
			inv := builderaction.NewInvocation(env, p, caller, conf, log.New(&bytes.Buffer{}, "", 0))
			_, err := a.Run(ctx, inv)
			require.NoError(b, err)
		}
	}
	send := func() {
		inv := builderaction.NewInvocation(env, params.Params(seed(crowdUser+":v1")), caller, conf, log.New(&bytes.Buffer{}, "", 0))
		res, err := handlers.Send.Run(ctx, inv)
		require.NoError(b, err)
		b.StopTimer()
		// Untimed: the user keeps no backlog, as under the default limits
		// (the Job gone, and no longer in the index, as cancel or cleanup
		// leave it).
		name := res.(types.Sent).JobName
		require.NoError(b, stack.kube.Client.BatchV1().Jobs(bns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}))
		require.NoError(b, indexOf(crowdUser).Remove(ctx, name))
		b.StartTimer()
	}
	rows := []row{{"send", send}, {"builds", invoke(handlers.Builds, params.Params{})}, {"logs", invoke(handlers.Logs, params.Params{})}}
	measure := func() (ms, calls map[string]float64) {
		ms, calls = map[string]float64{}, map[string]float64{}
		for _, r := range rows {
			r.run() // warm: clients, connections
			var lat []time.Duration
			before := counter.calls.Load()
			const n = 101
			for i := 0; i < n; i++ {
				start := time.Now()
				r.run()
				lat = append(lat, time.Since(start))
			}
			ms[r.name] = medianMS(lat)
			// send's untimed delete goes through the admin client, not counter.
			calls[r.name] = float64(counter.calls.Load()-before) / n
		}
		return ms, calls
	}
	for b.Loop() {
		alone, aloneCalls := measure()
		others := make([]string, 2000)
		for i := range others {
			others[i] = fmt.Sprintf("other%04d", i)
		}
		b.StopTimer()
		makeCrowd(b, ctx, conf, others, 5)
		b.StartTimer()
		crowd, crowdCalls := measure()
		for _, r := range rows {
			b.ReportMetric(alone[r.name], r.name+"-alone-ms")
			b.ReportMetric(crowd[r.name], r.name+"-crowd-ms")
			b.ReportMetric(crowd[r.name]/alone[r.name], r.name+"-ratio")
			b.ReportMetric(crowdCalls[r.name], r.name+"-api-calls")
			require.Equal(b, aloneCalls[r.name], crowdCalls[r.name], "%s makes as many API calls in the crowd", r.name)
		}
	}
}

// makeCrowd gives each of users per finished builds as send and the
// records leave them: an entry in the user's index, a Job of the build's
// shape (managed elsewhere, so no pod runs), its context, its record and
// the record's log; 32 users at a time.
func makeCrowd(b *testing.B, ctx context.Context, conf config.Config, users []string, per int) {
	c := stack.kube.Client
	py, _ := kinds.Lookup("python")
	managedBy := externalController
	work := make(chan string)
	var wg sync.WaitGroup
	var failed atomic.Value
	logText := strings.Repeat("#7 [2/3] RUN pip install -r /tmp/requirements.txt\n", 80)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				// Each build entered in its user's index first, as send
				// enters it.
				x := indexOf(u)
				for i := 0; i < per; i++ {
					id := fmt.Sprintf("c%09d", i)
					err := x.Add(ctx, builds.History{}, builds.Entry{Job: names.JobName(u, id), Created: time.Now().UTC()}, nil, func(builds.History) error { return nil })
					if err == nil {
						err = makeFinished(ctx, c.BatchV1().Jobs(bns), c.CoreV1().ConfigMaps(bns), conf, py, managedBy, u, id, logText)
					}
					if err != nil {
						failed.Store(err)
					}
				}
			}
		}()
	}
	for _, u := range users {
		work <- u
	}
	close(work)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// jobsAPI and configMapsAPI are what makeFinished needs of the clients.
type jobsAPI interface {
	Create(ctx context.Context, job *batchv1.Job, opts metav1.CreateOptions) (*batchv1.Job, error)
	UpdateStatus(ctx context.Context, job *batchv1.Job, opts metav1.UpdateOptions) (*batchv1.Job, error)
}

type configMapsAPI interface {
	Create(ctx context.Context, cm *corev1.ConfigMap, opts metav1.CreateOptions) (*corev1.ConfigMap, error)
}

func makeFinished(ctx context.Context, jobs jobsAPI, cms configMapsAPI, conf config.Config, kind kinds.Kind, managedBy, user, id, logText string) error {
	plan := buildspec.NewPlan(buildspec.Request{Source: "registry:5000/runtimes/python:v3.13", Repo: user, Tag: "v" + id, Kind: kind, File: []byte("requests\n")},
		user, id, "registry:5000", buildspec.Base{Digest: "sha256:" + strings.Repeat("b", 64)}, conf)
	job := plan.Job()
	job.Spec.ManagedBy = &managedBy
	job.Labels[crowdLabel] = "true"
	files, err := plan.CheckSize(conf.MaxContextBytes)
	if err != nil {
		return err
	}
	job, err = jobs.Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	cm := plan.ConfigMap(files, job)
	cm.Labels[crowdLabel] = "true"
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return err
	}
	at := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	started := metav1.NewTime(at.Add(-time.Minute))
	job.Status = batchv1.JobStatus{StartTime: &started, CompletionTime: &at, Succeeded: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: at},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: at},
	}}
	if job, err = jobs.UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		return err
	}
	rec := builds.Record{Build: builds.FromJob(job), Log: logText}
	for _, obj := range []*corev1.ConfigMap{rec.LogConfigMap(bns)} {
		obj.Labels[crowdLabel] = "true"
		if _, err := cms.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	recCM, err := rec.ConfigMap(bns)
	if err != nil {
		return err
	}
	recCM.Labels[crowdLabel] = "true"
	_, err = cms.Create(ctx, recCM, metav1.CreateOptions{})
	return err
}
