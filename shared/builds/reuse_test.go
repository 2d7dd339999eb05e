package builds

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/types"
)

// images is a registry of tag → (digest, identity label), recording the
// copies asked of it.
type images struct {
	tags    map[string][2]string
	failing map[string]bool // tags whose lookup fails
	copyErr error
	copies  [][2]string
	lookups []string
}

func (r *images) Label(_ context.Context, image, key string) (string, string, bool, error) {
	r.lookups = append(r.lookups, image)
	if key != names.LabelIdentity {
		return "", "", false, errors.New("another label")
	}
	if r.failing[image] {
		return "", "", false, errors.New("the registry is unreachable")
	}
	t, ok := r.tags[image]
	return t[0], t[1], ok, nil
}

func (r *images) Copy(_ context.Context, src, dst string) error {
	if r.copyErr != nil {
		return r.copyErr
	}
	r.copies = append(r.copies, [2]string{src, dst})
	return nil
}

// reusePlan is user devel's plan of file into target, built as id.
func reusePlan(t *testing.T, target, id string, file string) buildspec.Plan {
	t.Helper()
	python, _ := kinds.Lookup("python")
	cfg, err := config.FromParams(params.Params{})
	require.NoError(t, err)
	repo, tag := target[:len(target)-len(":v1")], "v1"
	req := buildspec.Request{Source: "registry:5000/runtimes/python:3.13", Repo: repo, Tag: tag, Kind: python, File: []byte(file)}
	return buildspec.NewPlan(req, "devel", id, "registry:5000", buildspec.Base{Digest: "sha256:" + repeat("b")}, cfg)
}

func repeat(s string) string { return strings.Repeat(s, 64) }

// recorded is the record of a finished build of plan that made digest.
func recorded(plan buildspec.Plan, at time.Time, digest string) Record {
	b := types.Build{ID: plan.ID, JobName: plan.Name(), User: plan.User, Target: plan.Target(), Kind: plan.Kind.Name,
		Status: types.Succeeded, Created: at, Digest: digest, Identity: plan.Identity}
	b.Finish(at.Add(time.Minute))
	return Record{Build: b}
}

// TestReuse: an image of what the plan makes answers it with no Job, as
// a recorded, succeeded build that says where it came from: the target's
// own, or the latest other target's, copied. A target whose image is of
// other content, a lookup or a copy that fails, or no images at all
// (rebuild) start the build as before.
func TestReuse(t *testing.T) {
	ctx := context.Background()
	first := reusePlan(t, "devel/a:v1", "first00001", "osbprobe==1.0\n")
	older := reusePlan(t, "devel/c:v1", "older00001", "osbprobe==1.0\n")
	same := reusePlan(t, "devel/b:v1", "second0001", "osbprobe==1.0\n")
	sameTarget := reusePlan(t, "devel/a:v1", "again00001", "osbprobe==1.0\n")
	other := reusePlan(t, "devel/a:v1", "other00001", "osbprobe==2.0\n")
	require.Equal(t, first.Identity, same.Identity)
	require.NotEqual(t, first.Identity, other.Identity)
	digest := "sha256:" + repeat("d")
	limits := Limits{Retained: 20, ContextBytes: 1 << 20}
	for _, tt := range []struct {
		name     string
		plan     buildspec.Plan
		reg      *images
		noImages bool
		reused   bool
		from     string
		copies   [][2]string
		noteSays string
		reuses   bool // the history also has a reuse of first's image into devel/d, the latest
	}{
		{name: "the target is the image", plan: sameTarget, reused: true, from: "first00001",
			reg: &images{tags: map[string][2]string{"devel/a:v1": {digest, first.Identity}}}, noteSays: "the image of build first00001 (devel/a:v1)"},
		{name: "another target's, copied", plan: same, reused: true, from: "first00001",
			reg:    &images{tags: map[string][2]string{"devel/a:v1": {digest, first.Identity}}},
			copies: [][2]string{{"devel/a@" + digest, "devel/b:v1"}}},
		{name: "the latest's first", plan: same, reused: true, from: "first00001",
			reg:    &images{tags: map[string][2]string{"devel/a:v1": {digest, first.Identity}, "devel/c:v1": {"sha256:" + repeat("c"), first.Identity}}},
			copies: [][2]string{{"devel/a@" + digest, "devel/b:v1"}}},
		{name: "an overwritten target is passed over", plan: same, reused: true, from: "older00001",
			reg:    &images{tags: map[string][2]string{"devel/a:v1": {digest, other.Identity}, "devel/c:v1": {"sha256:" + repeat("c"), first.Identity}}},
			copies: [][2]string{{"devel/c@sha256:" + repeat("c"), "devel/b:v1"}}},
		{name: "a lookup that fails is passed over", plan: same, reused: true, from: "older00001",
			reg:    &images{tags: map[string][2]string{"devel/c:v1": {"sha256:" + repeat("c"), first.Identity}}, failing: map[string]bool{"devel/a:v1": true}},
			copies: [][2]string{{"devel/c@sha256:" + repeat("c"), "devel/b:v1"}}},
		{name: "an image at the target no build names", plan: reusePlan(t, "devel/z:v1", "zzz0000001", "osbprobe==1.0\n"), reused: true,
			reg: &images{tags: map[string][2]string{"devel/z:v1": {digest, first.Identity}}}, noteSays: "the image already at devel/z:v1"},
		{name: "a reuse names the build that made the image", plan: same, reused: true, from: "first00001",
			reg:    &images{tags: map[string][2]string{"devel/d:v1": {digest, first.Identity}}},
			copies: [][2]string{{"devel/d@" + digest, "devel/b:v1"}}, reuses: true},
		{name: "other content", plan: other, reg: &images{tags: map[string][2]string{"devel/a:v1": {digest, first.Identity}}}},
		{name: "no image any more", plan: same, reg: &images{tags: map[string][2]string{}}},
		{name: "a copy that fails", plan: same, reg: &images{tags: map[string][2]string{"devel/a:v1": {digest, first.Identity}}, copyErr: errors.New("500")}},
		{name: "rebuild", plan: sameTarget, noImages: true, reg: &images{tags: map[string][2]string{"devel/a:v1": {digest, first.Identity}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			ns := fakeNamespace(cs)
			ns.Secrets = cs.CoreV1().Secrets(indexNS)
			// Two earlier builds of the same content: first (the latest)
			// into devel/a, older into devel/c, both records.
			h, err := ns.Index("devel").Load(ctx)
			require.NoError(t, err)
			for _, r := range []Record{recorded(older, t0, "sha256:"+repeat("c")), recorded(first, t0.Add(time.Hour), digest)} {
				require.NoError(t, ns.Records().Save(ctx, r))
				require.NoError(t, ns.Index("devel").Add(ctx, h, Entry{Job: r.JobName, Created: r.Created}, nil, always))
				h, err = ns.Index("devel").Load(ctx)
				require.NoError(t, err)
			}
			if tt.reuses {
				r := recorded(reusePlan(t, "devel/d:v1", "reuse00001", "osbprobe==1.0\n"), t0.Add(2*time.Hour), digest)
				r.ReusedFrom = "first00001"
				require.NoError(t, ns.Records().Save(ctx, r))
				require.NoError(t, ns.Index("devel").Add(ctx, h, Entry{Job: r.JobName, Created: r.Created}, nil, always))
			}
			var imgs Images = tt.reg
			if tt.noImages {
				imgs = nil
			}
			noCache := func() (string, error) { return "", nil }
			b, reused, err := ns.StartOrReuse(ctx, tt.plan, limits, noCache, imgs)
			require.NoError(t, err)
			assert.Equal(t, tt.reused, reused)
			jobs, err := cs.BatchV1().Jobs(indexNS).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			if tt.noImages {
				assert.Empty(t, tt.reg.lookups, "rebuild asks the registry nothing")
			}
			if !tt.reused {
				assert.Len(t, jobs.Items, 1, "the build starts")
				assert.Equal(t, types.Pending, b.Status)
				return
			}
			assert.Empty(t, jobs.Items, "nothing is built")
			assert.Equal(t, tt.copies, tt.reg.copies)
			assert.Equal(t, types.Succeeded, b.Status)
			assert.Equal(t, tt.from, b.ReusedFrom)
			assert.Equal(t, tt.plan.Identity, b.Identity)
			assert.Contains(t, b.Note, tt.noteSays)
			assert.Contains(t, b.Note, "send with rebuild=true to build again")
			rec, ok, err := ns.Records().Get(ctx, tt.plan.Name())
			require.NoError(t, err)
			require.True(t, ok, "the reuse is recorded")
			assert.Equal(t, b, rec.Build)
			h, err = ns.Index("devel").Load(ctx)
			require.NoError(t, err)
			assert.Contains(t, recordNames(h.Records), tt.plan.Name(), "and in the user's index")
		})
	}
}

func recordNames(recs []Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.JobName)
	}
	return out
}

// TestCopyMade: ensure, finding no image at its own target, gets the
// user's image of the same content copied there, and nothing recorded;
// while its own build exists, nothing is looked up.
func TestCopyMade(t *testing.T) {
	ctx := context.Background()
	first := reusePlan(t, "devel/a:v1", "first00001", "osbprobe==1.0\n")
	ensured := reusePlan(t, "devel/e:v1", "ensure0001", "osbprobe==1.0\n")
	digest := "sha256:" + repeat("d")
	cs := fake.NewClientset()
	ns := fakeNamespace(cs)
	h, err := ns.Index("devel").Load(ctx)
	require.NoError(t, err)
	r := recorded(first, t0, digest)
	require.NoError(t, ns.Records().Save(ctx, r))
	require.NoError(t, ns.Index("devel").Add(ctx, h, Entry{Job: r.JobName, Created: r.Created}, nil, always))

	reg := &images{tags: map[string][2]string{"devel/a:v1": {digest, first.Identity}}}
	from, got, ok := ns.CopyMade(ctx, ensured, reg)
	require.True(t, ok)
	assert.Equal(t, "first00001", from.ID)
	assert.Equal(t, digest, got)
	assert.Equal(t, [][2]string{{"devel/a@" + digest, "devel/e:v1"}}, reg.copies)
	assert.Equal(t, []string{"devel/a:v1"}, reg.lookups, "not ensure's own target, which it has just looked up")
	_, recorded, err := ns.Records().Get(ctx, ensured.Name())
	require.NoError(t, err)
	assert.False(t, recorded, "nothing is recorded")

	_, err = cs.BatchV1().Jobs(indexNS).Create(ctx, ensured.Job(), metav1.CreateOptions{})
	require.NoError(t, err)
	reg = &images{tags: reg.tags}
	_, _, ok = ns.CopyMade(ctx, ensured, reg)
	assert.False(t, ok, "ensure's own build is under way")
	assert.Empty(t, reg.lookups)
}
