//go:build e2e

package e2e

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/apache/openserverless-builder/shared/registry/registrytest"
	"github.com/apache/openserverless-builder/test/faults"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
	"github.com/apache/openserverless-builder/test/whiskfake"
)

// TestAdminInstallDoctorUpgradeUninstall deploys the builder as an
// operator does, with the built builder command alone, on a cluster of its
// own without the builder (OpenServerless's registry Secret and ConfigMap
// config only) and an OpenWhisk API with nothing deployed: mistyped values
// stop install before it changes anything; an OpenWhisk API that stops
// answering mid-deployment fails install, naming what it was deploying,
// and install again finishes it; then doctor passes
// every check, a tiny build among them; the seed's commands work for a
// user; install again changes nothing; an upgrade while a build runs keeps
// every record, index and image and the build finishes; doctor names the
// fix of each broken part, and install repairs it; uninstall leaves only
// what it says it kept.
func TestAdminInstallDoctorUpgradeUninstall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tools := localstack.DefaultTools()
	// A short directory: the build daemon's socket path must fit in 104 bytes.
	dir, err := os.MkdirTemp("", "osb-admin-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s, err := localstack.Up(ctx, tools, dir, "")
	t.Cleanup(s.Down)
	require.NoError(t, err)
	py, err := localstack.PythonRuntime()
	require.NoError(t, err)
	require.NoError(t, s.Registry.Push(localstack.PythonRuntimeRef, py))
	python := s.Registry.Host + "/" + localstack.PythonRuntimeRef
	kc := s.Kube.Client

	api := whiskfake.Empty(map[string]string{"uuid-admin:key": ns, "uuid-devel:key": "devel"}, true)
	t.Cleanup(api.Close)
	bin := builderCommand(t)
	home := t.TempDir()
	kubeconfig := filepath.Join(home, "admin.kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(s.Kube.Kubeconfig), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, "requirements.txt"), []byte("beautifulsoup4\n"), 0o600))

	// The operator's environment: the manifest's inputs (README,
	// "Configuration"), and an admin's credentials.
	env := []string{"HOME=" + home, "BUILDER_APIHOST=" + api.URL, "BUILDER_SHARED_REPOSITORIES=runtimes", "PATH=" + os.Getenv("PATH")}
	admin := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(env, "BUILDER_AUTH=uuid-admin:key", "BUILDER_NAMESPACE="+ns)
		cmd.Dir = home
		return runCommand(t, cmd)
	}
	user := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HOME=" + home, "BUILDER_APIHOST=" + api.URL, "BUILDER_AUTH=uuid-devel:key", "BUILDER_NAMESPACE=devel"}
		cmd.Dir = home
		return runCommand(t, cmd)
	}
	// The first install deploys an older release (its zips differ), the
	// upgrade this one.
	manifest := filepath.Join(stack.root, "manifest.yaml")
	common := []string{"--kubeconfig", kubeconfig, "--manifest", previousRelease(t)}
	// The transfer image of this commit, published by the README's
	// `make transfer-image` to the suite's anonymous mirror; install pins
	// it by the digest it resolves there (the node runs its own transfer
	// for any .../openserverless-builder/transfer image).
	transferTag := stack.mirror.Host + "/openserverless-builder/transfer:v0.1.0"
	published, err := exec.CommandContext(ctx, "make", "-C", stack.root, "--no-print-directory", "transfer-image", "TO="+transferTag, "INSECURE=1").CombinedOutput()
	require.NoError(t, err, "%s", published)
	lines := strings.Split(strings.TrimSpace(string(published)), "\n")
	transferDigest, err := stack.mirror.Digest("openserverless-builder/transfer:v0.1.0")
	require.NoError(t, err)
	assert.Equal(t, stack.mirror.Host+"/openserverless-builder/transfer@"+transferDigest, lines[len(lines)-1], "make transfer-image prints what it pushed")
	// deploy runs builder admin install or upgrade with common and the
	// stack's images and API server.
	deploy := func(verb string, extra ...string) (int, string) {
		args := append([]string{"admin", verb}, common...)
		args = append(args, "--buildkit-image", localstack.BuildkitImage, "--transfer-image", transferTag, "--api-server", s.Kube.Server)
		return admin(append(args, extra...)...)
	}
	install := func(extra ...string) (int, string) { return deploy("install", extra...) }
	doctor := func(extra ...string) (int, string) {
		return admin(append([]string{"admin", "doctor", "--kubeconfig", kubeconfig}, extra...)...)
	}
	nothingInstalled := func(when string) {
		t.Helper()
		_, err := kc.CoreV1().Namespaces().Get(ctx, bns, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "%s: namespace %s: %v", when, bns, err)
		_, err = kc.CoreV1().ServiceAccounts(ns).Get(ctx, "openserverless-builder", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "%s: ServiceAccount: %v", when, err)
		policies, err := kc.AdmissionregistrationV1().ValidatingAdmissionPolicies().List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, policies.Items, when)
		assert.Empty(t, api.Entities(ns, "packages"), when)
		assert.Empty(t, api.Entities(ns, "actions"), when)
	}

	// An API server that accepts connections and never answers.
	frozen := filepath.Join(home, "frozen.kubeconfig")
	require.NoError(t, os.WriteFile(frozen, []byte(strings.Replace(s.Kube.Kubeconfig, s.Kube.Server, "https://"+faults.Frozen(t), 1)), 0o600))

	// Mistyped or unreachable values stop install before any change,
	// naming the value.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--pod-cidr", "10.244.0/16"}, `--pod-cidr "10.244.0/16" is not a CIDR range`},
		{[]string{"--private-cidrs", "10.0.0.0/8,172.16.0.0/33"}, `--private-cidrs: "172.16.0.0/33"`},
		{[]string{"--registry-secret", "no-such-secret"}, "--registry-secret: there is no Secret nuvolaris/no-such-secret"},
		{[]string{"--transfer-image", "127.0.0.1:1/transfer:v0.1.0"}, `--transfer-image "127.0.0.1:1/transfer:v0.1.0": resolving its digest`},
		{[]string{"--buildkit-image", "moby/buildkit@sha256:123"}, `--buildkit-image "moby/buildkit@sha256:123"`},
		{[]string{"--api-server", "http://kubernetes.default.svc"}, "--api-server"},
		{[]string{"--manifest", filepath.Join(home, "no-manifest.yaml")}, "reading the manifest"},
		{[]string{"--auth", "uuid-admin:wrong"}, "reaching OpenWhisk (--apihost, --auth)"},
		{[]string{"--kubeconfig", filepath.Join(home, "no-kubeconfig")}, "--kubeconfig"},
		{[]string{"--kubeconfig", frozen, "--request-timeout", "2s"}, "reading the registry Secret nuvolaris/registry-pull-secret (--kubeconfig)"},
	} {
		code, out := install(c.args...)
		assert.Equal(t, 1, code, "%v: %s", c.args, out)
		assert.Contains(t, out, c.want, c.args)
	}
	nothingInstalled("after refused installs")

	// The dry run on an empty cluster says what install will create.
	code, out := install("--dry-run")
	require.Equal(t, 0, code, out)
	for _, want := range []string{"created   Namespace nuvolaris-builds", "created   ValidatingAdmissionPolicy openserverless-builder-jobs",
		"created   Secret nuvolaris-builds/registry-pull-secret", "created   package builder", "created   action builder/send",
		"created   trigger builder-cleanjobs-alarm", "created   rule builder-cleanjobs-hourly", "nothing was changed"} {
		assert.Contains(t, out, want)
	}
	nothingInstalled("after the dry run")

	// OpenWhisk stops answering in the middle of the deployment (after the
	// package and three actions): install fails naming what it was
	// deploying, doctor says what is missing, and install again finishes
	// the deployment without redoing what is there.
	api.FailPutsAfter(4)
	code, out = install()
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "deploying action builder/cleanjobs")
	assert.Contains(t, out, "(HTTP status code 503)")
	assert.Len(t, api.Entities(ns, "actions"), 3)
	api.FailPutsAfter(-1)
	code, out = doctor()
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "FAIL  buildkitd.toml")
	assert.Contains(t, out, "FAIL  the actions reach the registry (builder/list-catalogs)")

	code, out = install()
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "unchanged action builder/capabilities")
	assert.Contains(t, out, "created   action builder/cleanjobs")
	token, err := kc.CoreV1().Secrets(ns).Get(ctx, "openserverless-builder-token", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, token.Data["token"])
	assert.NotContains(t, out, string(token.Data["token"]), "the builder's token is never shown")
	assert.Contains(t, out, "created   ConfigMap nuvolaris-builds/nuvolaris-buildkitd-conf (buildkitd.toml, by updatetoml)")
	assert.Contains(t, out, "installed: ")
	// The alarm feed was told of the trigger, with the manifest's schedule.
	feeds := api.Feeds()
	require.Len(t, feeds, 1)
	assert.Equal(t, "CREATE", feeds[0]["lifecycleEvent"])
	assert.Equal(t, "/nuvolaris/builder-cleanjobs-alarm", feeds[0]["triggerName"])
	assert.Equal(t, "0 * * * *", feeds[0]["cron"])

	policy, err := kc.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, "openserverless-builder-jobs", metav1.GetOptions{})
	require.NoError(t, err)
	b, err := json.Marshal(policy.Spec)
	require.NoError(t, err)
	assert.Contains(t, string(b), transferTag+"@"+transferDigest, "the policy pins the digest install resolved")

	code, out = doctor("--source", python, "--kind", "python", "--build-timeout", "5m")
	require.Equal(t, 0, code, out)
	assert.NotContains(t, out, "FAIL")
	assert.NotContains(t, out, "skip")
	assert.Contains(t, out, "ok    a build of "+python)
	t.Log(out)

	// The seed's commands, as a user.
	code, out = user("doctor")
	require.Equal(t, 0, code, out)
	code, out = user("send", "--source", python, "--target", "devel:python3.13-custom", "--requirements", "requirements.txt", "--follow")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "succeeded")
	code, out = user("list-images", "--catalog", "devel")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "python3.13-custom")

	// Install again: the dry run and the install change nothing.
	code, out = install("--dry-run")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "dry run: no changes")
	code, out = install()
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "installed: no changes")
	assert.Len(t, api.Feeds(), 1, "an unchanged trigger is not registered again")

	// An upgrade (another configuration) while a build runs: the build
	// finishes, and every record, index and image stays.
	code, out = user("send", "--source", python, "--target", "devel:during-upgrade", "--requirements", "requirements.txt", "--rebuild")
	require.Equal(t, 0, code, out)
	before := configMapNames(t, kc)
	env = append(env, "BUILDER_MAX_RETAINED_BUILDS=30")
	common = []string{"--kubeconfig", kubeconfig, "--manifest", manifest}
	code, out = deploy("upgrade")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "changed   package builder")
	assert.Contains(t, out, "changed   action builder/send")
	assert.NotContains(t, out, string(token.Data["token"]))
	assert.Contains(t, out, "unchanged Role nuvolaris-builds/openserverless-builder")
	require.Eventually(t, func() bool {
		_, out := user("logs")
		return strings.Contains(out, "succeeded")
	}, 3*time.Minute, time.Second, "the build started before the upgrade finishes")
	after := configMapNames(t, kc)
	assert.Subset(t, after, before, "every record, index and context is kept")
	for _, image := range []string{"devel:python3.13-custom", "devel:during-upgrade"} {
		code, out = user("get-image", "--image", image)
		assert.Equal(t, 0, code, out)
	}
	code, out = user("builds")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "during-upgrade")
	assert.Contains(t, out, "python3.13-custom")

	// The seed's third command, on the image the upgrade kept.
	code, out = user("delete-image", "--image", "devel:python3.13-custom")
	require.Equal(t, 0, code, out)
	code, out = user("list-images", "--catalog", "devel")
	require.Equal(t, 0, code, out)
	assert.NotContains(t, out, "python3.13-custom")
	assert.Contains(t, out, "during-upgrade")

	// Doctor names each broken part and its fix; install repairs it.
	for _, c := range []struct {
		name    string
		breakIt func()
		repair  func()
		want    []string
	}{
		{"the policy pins another digest than the package", func() {
			p, err := kc.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, "openserverless-builder-jobs", metav1.GetOptions{})
			require.NoError(t, err)
			b, err := json.Marshal(p)
			require.NoError(t, err)
			other := strings.ReplaceAll(string(b), "sha256:0000000000000000000000000000000000000000000000000000000000000000", "sha256:1111111111111111111111111111111111111111111111111111111111111111")
			require.NoError(t, json.Unmarshal([]byte(other), p))
			_, err = kc.AdmissionregistrationV1().ValidatingAdmissionPolicies().Update(ctx, p, metav1.UpdateOptions{})
			require.NoError(t, err)
		}, nil, []string{"FAIL  ValidatingAdmissionPolicy openserverless-builder-jobs: it does not admit what the package runs", "fix: run `builder admin install`"}},
		{"the push Secret is missing", func() {
			require.NoError(t, kc.CoreV1().Secrets(bns).Delete(ctx, "registry-pull-secret", metav1.DeleteOptions{}))
		}, nil, []string{"FAIL  push Secret nuvolaris-builds/registry-pull-secret authenticates to the registry: missing", "it copies the registry Secret"}},
		{"a wrong registry password", func() {
			for _, n := range []string{ns, bns} {
				wrong := registrytest.Secret("registry-pull-secret", n, registrytest.DockerConfig(s.Registry.Host, s.Registry.User, "not-the-password"))
				_, err := kc.CoreV1().Secrets(n).Update(ctx, wrong, metav1.UpdateOptions{})
				require.NoError(t, err)
			}
		}, func() {
			right := registrytest.Secret("registry-pull-secret", ns, registrytest.DockerConfig(s.Registry.Host, s.Registry.User, s.Registry.Password))
			_, err := kc.CoreV1().Secrets(ns).Update(ctx, right, metav1.UpdateOptions{})
			require.NoError(t, err)
		}, []string{"refuses its credential", "put the registry's password in nuvolaris/registry-pull-secret"}},
		{"the Role lacks a verb builds need", func() {
			r, err := kc.RbacV1().Roles(bns).Get(ctx, "openserverless-builder", metav1.GetOptions{})
			require.NoError(t, err)
			for i, rule := range r.Rules {
				if len(rule.Resources) == 1 && rule.Resources[0] == "jobs" {
					r.Rules[i].Verbs = without(rule.Verbs, "delete")
				}
			}
			_, err = kc.RbacV1().Roles(bns).Update(ctx, r, metav1.UpdateOptions{})
			require.NoError(t, err)
		}, nil, []string{"FAIL  Role nuvolaris-builds/openserverless-builder: differs from deploy/rbac.yaml: lacks delete jobs",
			"FAIL  ServiceAccount nuvolaris/openserverless-builder may do what builds need, and nothing more: it may not delete jobs in nuvolaris-builds"}},
		{"a binding grants the ServiceAccount more", func() {
			_, err := kc.RbacV1().RoleBindings(bns).Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "too-much"},
				RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "edit"},
				Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "openserverless-builder", Namespace: ns}},
			}, metav1.CreateOptions{})
			require.NoError(t, err)
		}, func() {
			require.NoError(t, kc.RbacV1().RoleBindings(bns).Delete(ctx, "too-much", metav1.DeleteOptions{}))
		}, []string{"nothing more: it may also get secrets in nuvolaris-builds", "create pods in nuvolaris-builds", "fix: remove what grants it more"}},
		{"buildkitd.toml is missing", func() {
			require.NoError(t, kc.CoreV1().ConfigMaps(bns).Delete(ctx, "nuvolaris-buildkitd-conf", metav1.DeleteOptions{}))
		}, nil, []string{"FAIL  buildkitd.toml (ConfigMap nuvolaris-builds/nuvolaris-buildkitd-conf)", "missing", "builder updatetoml"}},
	} {
		c.breakIt()
		code, out := doctor()
		assert.Equal(t, 1, code, "%s: %s", c.name, out)
		for _, want := range c.want {
			assert.Contains(t, out, want, c.name)
		}
		assert.NotContains(t, out, s.Registry.Password, c.name)
		if c.repair != nil {
			c.repair()
		}
		code, out = install()
		require.Equal(t, 0, code, "%s: %s", c.name, out)
		code, out = doctor()
		require.Equal(t, 0, code, "%s, repaired: %s", c.name, out)
	}

	// Uninstall: the package and the builder's objects go; the builds'
	// namespace with its records and the images stay, as it says.
	records := configMapNames(t, kc)
	code, out = admin(append([]string{"admin", "uninstall", "--dry-run"}, common...)...)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "delete    action builder/send")
	assert.Contains(t, out, "delete    ValidatingAdmissionPolicy openserverless-builder-jobs")
	assert.NotEmpty(t, api.Entities(ns, "actions"), "the dry run removes nothing")
	code, out = doctor()
	require.Equal(t, 0, code, "the dry run removes nothing: %s", out)
	code, out = admin(append([]string{"admin", "uninstall"}, common...)...)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "kept: namespace nuvolaris-builds with")
	assert.Contains(t, out, "kept: users' images in the registry")
	assert.Empty(t, api.Entities(ns, "packages"))
	assert.Empty(t, api.Entities(ns, "actions"))
	assert.Empty(t, api.Entities(ns, "triggers"))
	assert.Empty(t, api.Entities(ns, "rules"))
	feeds = api.Feeds()
	require.NotEmpty(t, feeds)
	assert.Equal(t, "DELETE", feeds[len(feeds)-1]["lifecycleEvent"])
	_, err = kc.CoreV1().ServiceAccounts(ns).Get(ctx, "openserverless-builder", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "ServiceAccount: %v", err)
	_, err = kc.CoreV1().Secrets(bns).Get(ctx, "registry-pull-secret", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "push Secret: %v", err)
	roles, err := kc.RbacV1().Roles(bns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, roles.Items)
	policies, err := kc.AdmissionregistrationV1().ValidatingAdmissionPolicies().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, policies.Items)
	_, err = kc.CoreV1().Secrets(ns).Get(ctx, "registry-pull-secret", metav1.GetOptions{})
	assert.NoError(t, err, "the cluster's own registry Secret stays")
	kept := configMapNames(t, kc)
	for _, name := range records {
		if strings.HasPrefix(name, "index-") || strings.HasSuffix(name, "-record") {
			assert.Contains(t, kept, name, "records and indexes are kept")
		}
	}
	assert.NotContains(t, kept, "nuvolaris-buildkitd-conf")
	imagesKept := func() {
		t.Helper()
		_, err := s.Registry.Digest("devel:during-upgrade")
		assert.NoError(t, err, "the user's image is kept")
	}
	imagesKept()
	code, out = doctor()
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "FAIL  package builder is deployed")

	// --purge takes the builds' namespace too, and still no image.
	code, out = admin(append([]string{"admin", "uninstall", "--purge"}, common...)...)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "deleted   Namespace nuvolaris-builds (--purge")
	require.Eventually(t, func() bool {
		_, err := kc.CoreV1().Namespaces().Get(ctx, bns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, 2*time.Minute, time.Second, "the namespace controller empties and removes the build namespace")
	nothingInstalled("after uninstall --purge")
	imagesKept()
}

// previousRelease is a copy of manifest.yaml and the zips it names whose
// zips carry another comment: a release whose code differs, as an older
// one's does, and runs all the same.
func previousRelease(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(stack.root, "manifest.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.yaml"), data, 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "build"), 0o755))
	for _, name := range invoker.ZipNames() {
		r, err := zip.OpenReader(filepath.Join(stack.root, "build", name+".zip"))
		require.NoError(t, err)
		f, err := os.Create(filepath.Join(dir, "build", name+".zip"))
		require.NoError(t, err)
		w := zip.NewWriter(f)
		for _, entry := range r.File {
			raw, err := entry.OpenRaw()
			require.NoError(t, err)
			out, err := w.CreateRaw(&entry.FileHeader)
			require.NoError(t, err)
			_, err = io.Copy(out, raw)
			require.NoError(t, err)
		}
		require.NoError(t, w.SetComment("the previous release"))
		require.NoError(t, w.Close())
		require.NoError(t, f.Close())
		require.NoError(t, r.Close())
	}
	return filepath.Join(dir, "manifest.yaml")
}

// configMapNames are the ConfigMaps of the build namespace, sorted.
func configMapNames(t *testing.T, kc kubernetes.Interface) []string {
	t.Helper()
	list, err := kc.CoreV1().ConfigMaps(bns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var out []string
	for _, cm := range list.Items {
		out = append(out, cm.Name)
	}
	sort.Strings(out)
	return out
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}
