package handlers

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/types"
)

// ensureParams ask for the seed's python runtime with file, in a registry
// at registry.ensure:5000 (every host reaches the test registry).
func ensureParams(file string) params.Params {
	return params.Params{"builder": "python:3.13", "file": base64.StdEncoding.EncodeToString([]byte(file)),
		"registry_host": "registry.ensure:5000", "max_active_builds": 0}
}

func runEnsure(t *testing.T, cs *fake.Clientset, p params.Params) (int, types.Ensured, error) {
	t.Helper()
	res, err := ensure(context.Background(), invocation(t, cs, devel, p))
	if err != nil {
		return apperr.Status(err), types.Ensured{}, err
	}
	if r, ok := res.(action.Response); ok {
		return r.Status, r.Body.(types.Ensured), nil
	}
	return http.StatusOK, res.(types.Ensured), nil
}

// ensured runs ensure with p, which starts a build, and returns its Job.
func ensured(t *testing.T, cs *fake.Clientset, p params.Params) *batchv1.Job {
	t.Helper()
	_, first, err := runEnsure(t, cs, p)
	require.NoError(t, err)
	job, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), first.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	return job
}

func jobCreates(cs *fake.Clientset) int {
	n := 0
	for _, r := range created(cs) {
		if r == "jobs" {
			n++
		}
	}
	return n
}

// TestEnsureBuildsOnceThenAnswersAtOnce: the first call starts the build
// (202), a call while it runs finds it (202, nothing created), and once the
// image is in the registry a call answers 200 with it and creates nothing.
func TestEnsureBuildsOnceThenAnswersAtOnce(t *testing.T) {
	cs := fake.NewClientset()
	p := ensureParams("beautifulsoup4\n")
	code, first, err := runEnsure(t, cs, p)
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, code)
	python, _ := kinds.Lookup("python")
	want := buildspec.Identity(python, sources.digests[seedSource], []byte("beautifulsoup4\n"))[:20]
	assert.Equal(t, "registry.ensure:5000/devel:python-"+want, first.Image)
	assert.Equal(t, want, first.ID)
	assert.Equal(t, names.JobName("devel", want), first.JobName)
	assert.Equal(t, 1, jobCreates(cs))

	code, again, err := runEnsure(t, cs, p)
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, first.JobName, again.JobName)
	assert.Equal(t, 1, jobCreates(cs), "no second build of the same inputs")

	img, err := random.Image(64, 1)
	require.NoError(t, err)
	pushSource(t, first.Image, img)
	cs.ClearActions()
	code, ready, err := runEnsure(t, cs, p)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready", ready.Status)
	assert.Equal(t, first.Image, ready.Image)
	d, _ := img.Digest()
	assert.Equal(t, d.String(), ready.Digest)
	assert.Empty(t, created(cs), "an image that exists creates nothing")

	_, other, err := runEnsure(t, fake.NewClientset(), ensureParams("beautifulsoup4\nrequests\n"))
	require.NoError(t, err)
	assert.NotEqual(t, first.Image, other.Image, "another file is another image")
}

func TestEnsureConcurrentCallsMakeOneJob(t *testing.T) {
	cs := fake.NewClientset()
	p := ensureParams("concurrent\n")
	var wg sync.WaitGroup
	results := make([]types.Ensured, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := ensure(context.Background(), invocation(t, cs, devel, p))
			if assert.NoError(t, err) {
				results[i] = res.(action.Response).Body.(types.Ensured)
			}
		}()
	}
	wg.Wait()
	jobs, err := cs.BatchV1().Jobs(buildNS).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, jobs.Items, 1)
	for _, r := range results {
		assert.Equal(t, jobs.Items[0].Name, r.JobName)
	}
}

// TestEnsureFailedBuild: a failed build is 409 with retry=false, and built
// again by default.
func TestEnsureFailedBuild(t *testing.T) {
	cs := fake.NewClientset()
	collectGarbage(cs)
	p := ensureParams("fails\n")
	_, first, err := runEnsure(t, cs, p)
	require.NoError(t, err)
	job, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), first.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: metav1.NewTime(time.Now())}}
	_, err = cs.BatchV1().Jobs(buildNS).UpdateStatus(context.Background(), job, metav1.UpdateOptions{})
	require.NoError(t, err)

	noRetry := params.Params{"retry": false}
	for k, v := range p {
		noRetry[k] = v
	}
	code, _, err := runEnsure(t, cs, noRetry)
	require.Error(t, err)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, err.Error(), "failed")
	assert.Contains(t, err.Error(), "retry=true")

	cs.ClearActions()
	code, again, err := runEnsure(t, cs, p)
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, first.JobName, again.JobName)
	assert.Equal(t, 1, jobCreates(cs), "built again")
	rebuilt, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), first.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, rebuilt.Status.Conditions, "a fresh Job")
}

func TestEnsureRefusesATarget(t *testing.T) {
	p := ensureParams("x\n")
	p["target"] = "devel:mine"
	code, _, err := runEnsure(t, fake.NewClientset(), p)
	require.Error(t, err)
	assert.Equal(t, http.StatusBadRequest, code)
}

// TestPullHostInResults: registry_pull_host names the image in send's and
// ensure's results and in the Job's annotation (which logs and builds
// show); the build pushes to the push host.
func TestPullHostInResults(t *testing.T) {
	cs := fake.NewClientset()
	p := seedParams()
	p["registry_host"] = "push.internal:5000"
	p["registry_pull_host"] = "registry.example.com"
	res, err := send(context.Background(), invocation(t, cs, devel, p))
	require.NoError(t, err)
	sent := res.(types.Sent)
	assert.Equal(t, "registry.example.com/devel:python3.13-custom", sent.Image)
	job, err := cs.BatchV1().Jobs(buildNS).Get(context.Background(), sent.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, sent.Image, job.Annotations[names.AnnotationImage])
	assert.Equal(t, "push.internal:5000/devel:python3.13-custom", step(t, job, names.StepPush).Args[len(step(t, job, names.StepPush).Args)-1], "pushed to the push host")

	logs, err := logs(context.Background(), invocation(t, cs, devel, params.Params{"job_name": sent.JobName}))
	require.NoError(t, err)
	assert.Contains(t, toJSON(t, logs), `"image":"registry.example.com/devel:python3.13-custom"`)

	ep := ensureParams("pull host\n")
	ep["registry_pull_host"] = "registry.example.com"
	_, ens, err := runEnsure(t, fake.NewClientset(), ep)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ens.Image, "registry.example.com/devel:python-"), ens.Image)
}

// TestEnsureWritesNoSharedPrefix: ensure pushes where send may, and no
// further: a user whose image (or cache) would land under a shared prefix
// is refused with 403 before anything is created or looked up.
func TestEnsureWritesNoSharedPrefix(t *testing.T) {
	for _, tc := range []struct {
		user, shared string
	}{
		{"runtimes", "runtimes"},                  // the image: runtimes:python-<hash>
		{"devel", "devel/" + names.CacheName},     // the cache alone: devel/buildcache
		{"team", "team/" + names.CacheName + ","}, // a list, with an empty entry
	} {
		cs := fake.NewClientset()
		p := ensureParams("requests\n")
		p["shared_repositories"] = tc.shared
		_, err := ensure(context.Background(), invocation(t, cs, identity.Caller{Name: tc.user, Web: true}, p))
		require.Error(t, err, tc.user)
		assert.Equal(t, http.StatusForbidden, apperr.Status(err), "%s: %v", tc.user, err)
		assert.Contains(t, err.Error(), "shared prefix")
		assert.Empty(t, created(cs), "%s: nothing created", tc.user)
	}
}

// TestEnsureTakesNoOtherUsersRecord: a record under the build's name that
// is another user's is neither taken nor deleted (names keep users apart;
// this is the check behind them).
func TestEnsureTakesNoOtherUsersRecord(t *testing.T) {
	cs := fake.NewClientset()
	p := ensureParams("requests\n")
	ctx := context.Background()
	job := ensured(t, cs, p)
	// The Job gone, its record left as another user's.
	rec := builds.FromJob(job)
	rec.User, rec.Status = "victim", types.Failed
	records := builds.Records{ConfigMaps: cs.CoreV1().ConfigMaps(buildNS), Namespace: buildNS}
	require.NoError(t, records.Save(ctx, builds.Record{Build: rec}))
	require.NoError(t, cs.BatchV1().Jobs(buildNS).Delete(ctx, job.Name, metav1.DeleteOptions{}))

	code, _, err := runEnsure(t, cs, p)
	require.Error(t, err)
	assert.Equal(t, http.StatusConflict, code)
	kept, ok, err := records.Get(ctx, job.Name)
	require.NoError(t, err)
	require.True(t, ok, "the victim's record stays")
	assert.Equal(t, "victim", kept.User)
}

// TestEnsureLeavesOtherUsersJobs: a Job under the build's name that is
// another user's, running or failed, is 409: ensure neither reports it as
// the caller's build nor stops it to build again.
func TestEnsureLeavesOtherUsersJobs(t *testing.T) {
	for _, tt := range []struct {
		name   string
		failed bool
	}{{"running", false}, {"failed", true}} {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			p := ensureParams("requests\n")
			ctx := context.Background()
			job := ensured(t, cs, p)
			job.Annotations[names.AnnotationUser] = "victim"
			if tt.failed {
				job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}
			}
			_, err := cs.BatchV1().Jobs(buildNS).Update(ctx, job, metav1.UpdateOptions{})
			require.NoError(t, err)
			cs.ClearActions()

			code, _, err := runEnsure(t, cs, p)
			require.Error(t, err)
			assert.Equal(t, http.StatusConflict, code)
			assert.Contains(t, err.Error(), "belongs to another user")
			for _, a := range cs.Actions() {
				assert.Contains(t, []string{"get", "list"}, a.GetVerb(), "the victim's build is only read: %s %s", a.GetVerb(), a.GetResource().Resource)
			}
		})
	}
}
