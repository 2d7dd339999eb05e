package admin

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
)

const pinned = "moby/buildkit:v0.34.2-rootless@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestRenderFillsEveryPlaceholder(t *testing.T) {
	v := Defaults()
	v.BuildkitImage, v.TransferImage = pinned, "ghcr.io/apache/openserverless-builder/transfer:v0.1.0@sha256:"+strings.Repeat("a", 64)
	objs, err := Render(v.template())
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		b, err := o.MarshalJSON()
		require.NoError(t, err)
		assert.NotContains(t, string(b), "${", Describe(o))
	}
	assert.Equal(t, map[string]int{"ServiceAccount": 1, "Namespace": 1, "Role": 2, "RoleBinding": 2, "Secret": 1,
		"ValidatingAdmissionPolicy": 3, "ValidatingAdmissionPolicyBinding": 3, "NetworkPolicy": 1}, kinds)
	jobs := find(t, objs, "ValidatingAdmissionPolicy", "openserverless-builder-jobs")
	b, err := jobs.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(b), pinned, "the policy pins the image the package runs")
	np := find(t, objs, "NetworkPolicy", "openserverless-builder-builds")
	assert.Equal(t, BuildNamespace, np.GetNamespace())

	// Another registry Secret: the Roles grant that one, as the policy
	// admits it.
	v.RegistrySecret = "cluster-registry"
	objs, err = Render(v.template())
	require.NoError(t, err)
	for _, o := range objs {
		if o.GetKind() != "Role" {
			continue
		}
		b, err := o.MarshalJSON()
		require.NoError(t, err)
		assert.Contains(t, string(b), `"resourceNames":["cluster-registry"]`, Describe(o))
		assert.NotContains(t, string(b), "registry-pull-secret", Describe(o))
	}
}

func TestRenderRefusesAMissingValue(t *testing.T) {
	values := Defaults().template()
	delete(values, "TRANSFER_IMAGE")
	_, err := Render(values)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "deploy/admission.yaml: no value for [TRANSFER_IMAGE]")
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

func TestValuesCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Values)
		want string
	}{
		{"defaults", func(*Values) {}, ""},
		{"pod range", func(v *Values) { v.PodCIDR = "10.244.0/16" }, `--pod-cidr "10.244.0/16"`},
		{"service range", func(v *Values) { v.ServiceCIDR = "" }, "--service-cidr"},
		{"private range", func(v *Values) { v.PrivateCIDRs = []string{"10.0.0.0/8", "300.0.0.0/8"} }, `--private-cidrs: "300.0.0.0/8"`},
		{"port", func(v *Values) { v.RegistryPort = 0 }, "--registry-port 0"},
		{"secret name", func(v *Values) { v.RegistrySecret = "Registry_Secret" }, `--registry-secret "Registry_Secret"`},
		{"api server", func(v *Values) { v.APIServer = "http://kubernetes" }, "--api-server"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Defaults()
			c.edit(&v)
			err := v.Check()
			if c.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestResolveKeepsAPinnedReferenceAndRefusesABadOne(t *testing.T) {
	ctx := context.Background()
	v := Defaults()
	v.BuildkitImage, v.TransferImage = pinned, pinned
	require.NoError(t, v.Resolve(ctx), "a digest is kept without asking any registry")
	assert.Equal(t, pinned, v.BuildkitImage)

	for _, c := range []struct{ ref, want string }{
		{"moby/buildkit@sha256:123", `--buildkit-image "moby/buildkit@sha256:123"`},
		{"Moby/BuildKit", "not an image reference"},
		{"127.0.0.1:1/buildkit:v1", "resolving its digest"},
	} {
		v := Defaults()
		v.BuildkitImage, v.TransferImage = c.ref, pinned
		err := v.Resolve(ctx)
		require.Error(t, err, c.ref)
		assert.Contains(t, err.Error(), c.want)
	}
}

func TestStampIgnoresTheOrderOfParametersAndAnnotations(t *testing.T) {
	code := "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="
	action := func(params, annotations whisk.KeyValueArr) *whisk.Action {
		return &whisk.Action{Name: "builder/send", Exec: &whisk.Exec{Kind: "go:1.22", Code: &code}, Parameters: params, Annotations: annotations}
	}
	a := action(whisk.KeyValueArr{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}, whisk.KeyValueArr{{Key: "final", Value: true}, {Key: "web-export", Value: true}})
	b := action(whisk.KeyValueArr{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}}, whisk.KeyValueArr{{Key: "web-export", Value: true}, {Key: "final", Value: true}})
	da, err := stamp(&a.Annotations, a, &a.Parameters)
	require.NoError(t, err)
	db, err := stamp(&b.Annotations, b, &b.Parameters)
	require.NoError(t, err)
	assert.Equal(t, da, db)
	assert.Equal(t, da, value(a.Annotations, DigestAnnotation))
	again, err := stamp(&a.Annotations, a, &a.Parameters)
	require.NoError(t, err)
	assert.Equal(t, da, again, "a stamped entity stamps the same")

	c := action(whisk.KeyValueArr{{Key: "a", Value: "1"}, {Key: "b", Value: "3"}}, nil)
	dc, err := stamp(&c.Annotations, c, &c.Parameters)
	require.NoError(t, err)
	assert.NotEqual(t, da, dc, "another value is another digest")
}

func TestRuleDiffNamesWhatARoleLacksAndGrantsBeyond(t *testing.T) {
	role := func(rules ...map[string]any) *unstructured.Unstructured {
		list := make([]any, len(rules))
		for i, r := range rules {
			list[i] = r
		}
		return &unstructured.Unstructured{Object: map[string]any{"kind": "Role", "rules": list}}
	}
	rule := func(resources, verbs []any, names ...any) map[string]any {
		r := map[string]any{"resources": resources, "verbs": verbs}
		if len(names) > 0 {
			r["resourceNames"] = names
		}
		return r
	}
	want := role(rule([]any{"jobs"}, []any{"create", "delete"}), rule([]any{"secrets"}, []any{"get"}, "registry-pull-secret"))
	live := role(rule([]any{"jobs"}, []any{"create"}), rule([]any{"secrets"}, []any{"get"}), rule([]any{"pods"}, []any{"create"}))
	lacks, extra := ruleDiff(want, live)
	assert.ElementsMatch(t, []string{"delete jobs", "get secrets (registry-pull-secret)"}, lacks)
	assert.ElementsMatch(t, []string{"get secrets", "create pods"}, extra)
	lacks, extra = ruleDiff(want, want)
	assert.Empty(t, lacks)
	assert.Empty(t, extra)
}

func TestKubeconfigIsTheServiceAccountsAtTheServer(t *testing.T) {
	kc, err := Kubeconfig("https://kubernetes.default.svc", []byte("the-token"), []byte("the-ca"))
	require.NoError(t, err)
	cfg, err := clientcmd.Load([]byte(kc))
	require.NoError(t, err)
	ctx := cfg.Contexts[cfg.CurrentContext]
	require.NotNil(t, ctx)
	assert.Equal(t, KubeNamespace, ctx.Namespace)
	assert.Equal(t, "https://kubernetes.default.svc", cfg.Clusters[ctx.Cluster].Server)
	assert.Equal(t, []byte("the-ca"), cfg.Clusters[ctx.Cluster].CertificateAuthorityData)
	assert.Equal(t, "the-token", cfg.AuthInfos[ctx.AuthInfo].Token)
	again, err := Kubeconfig("https://kubernetes.default.svc", []byte("the-token"), []byte("the-ca"))
	require.NoError(t, err)
	assert.Equal(t, kc, again, "the same token makes the same parameter: install again changes nothing")
}

func TestNeedsAreEveryRightOfTheRoles(t *testing.T) {
	v := Defaults()
	objs, err := Render(v.template())
	require.NoError(t, err)
	rs, err := roles(objs)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	var got []string
	for _, a := range needs(rs) {
		got = append(got, describeAccess(a))
	}
	for _, want := range []string{
		"get configmaps config in nuvolaris",
		"get secrets registry-pull-secret in nuvolaris",
		"get secrets registry-pull-secret in nuvolaris-builds",
		"patch jobs in nuvolaris-builds",
		"create secrets in nuvolaris-builds",
		"get pods/log in nuvolaris-builds",
	} {
		assert.Contains(t, got, want)
	}
	// What the builder must not hold is none of what it needs.
	for _, a := range beyond(v.RegistrySecret) {
		assert.NotContains(t, got, describeAccess(a))
	}
}
