package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/shared/types"
)

// Doctor checks a deployment end to end.
type Doctor struct {
	Cluster *Cluster
	Whisk   *Whisk
	Out     io.Writer
	// Source and Kind name a tiny build to run (none: the check is
	// skipped); BuildTimeout bounds it (default 10 minutes).
	Source, Kind string
	BuildTimeout time.Duration
	// Poll is how often the build's status is read (default 2 s).
	Poll time.Duration
}

// Check is one check's outcome: Err nil when it passed; Fix says what to do
// when it did not; Skipped says why it did not run.
type Check struct {
	Name    string
	Err     error
	Fix     string
	Skipped string
}

// ErrChecksFailed is Run's error when a check failed.
var ErrChecksFailed = errors.New("some checks failed")

// Run runs every check, prints each with its fix, and fails when one did.
func (d *Doctor) Run(ctx context.Context) error {
	failed := 0
	report := func(c Check) {
		switch {
		case c.Skipped != "":
			fmt.Fprintf(d.Out, "skip  %s: %s\n", c.Name, c.Skipped)
		case c.Err != nil:
			failed++
			fmt.Fprintf(d.Out, "FAIL  %s: %v\n      fix: %s\n", c.Name, c.Err, c.Fix)
		default:
			fmt.Fprintf(d.Out, "ok    %s\n", c.Name)
		}
	}
	params, check := d.pkg()
	report(check)
	if check.Err != nil {
		return ErrChecksFailed
	}
	for _, c := range d.objects(ctx, params) {
		report(c)
	}
	report(d.serviceAccount(ctx, params))
	report(d.pushSecret(ctx, params))
	report(d.buildkitdConf(ctx))
	for _, c := range d.actions() {
		report(c)
	}
	if failed == 0 {
		report(d.build(ctx))
	} else {
		report(Check{Name: "a build runs to succeeded", Skipped: "fix the checks above first"})
	}
	if failed > 0 {
		return ErrChecksFailed
	}
	return nil
}

const reinstall = "run `builder admin install` (again): it makes every part agree"

// pkg reads the package's parameters: what the rest is checked against.
func (d *Doctor) pkg() (map[string]string, Check) {
	c := Check{Name: "package builder is deployed, its images pinned by digest", Fix: reinstall}
	p, resp, err := d.Whisk.Client.Packages.Get("builder")
	if isNotFound(resp, err) {
		c.Err = fmt.Errorf("there is no package builder in namespace %s", d.Whisk.Namespace)
		return nil, c
	}
	if err != nil {
		c.Err, c.Fix = whiskError(err), "check --apihost and --auth (an admin's, of namespace "+d.Whisk.Namespace+")"
		return nil, c
	}
	params := map[string]string{}
	for _, kv := range p.Parameters {
		params[kv.Key] = fmt.Sprint(kv.Value)
	}
	for _, k := range []string{"buildkit_image", "transfer_image"} {
		if !strings.Contains(params[k], "@sha256:") {
			c.Err = fmt.Errorf("parameter %s is %q, not pinned by digest: the admission policy admits no build", k, params[k])
			return nil, c
		}
	}
	return params, c
}

// valuesOf are the Values the package was deployed with, as far as the
// objects need them.
func valuesOf(params map[string]string) Values {
	v := Defaults()
	v.BuildkitImage, v.TransferImage = params["buildkit_image"], params["transfer_image"]
	v.Privileged = params["buildkit_privileged"] == "true"
	if s := params["registry_secret"]; s != "" {
		v.RegistrySecret = s
	}
	return v
}

// objects checks the objects of deploy/ against those the package's
// values make: a policy that pins other images than the package's, a Role
// with a verb less or more, a binding to another identity all differ.
func (d *Doctor) objects(ctx context.Context, params map[string]string) []Check {
	objects, err := Render(valuesOf(params).template())
	if err != nil {
		return []Check{{Name: "deploy/ renders", Err: err, Fix: reinstall}}
	}
	var out []Check
	same := 0
	for _, o := range objects {
		name := Describe(o)
		live, err := d.Cluster.Live(ctx, o)
		switch {
		case err != nil:
			out = append(out, Check{Name: name, Err: err, Fix: "check --kubeconfig"})
			continue
		case live == nil:
			out = append(out, Check{Name: name, Err: errors.New("missing"), Fix: reinstall})
			continue
		}
		// The NetworkPolicy's ranges are the cluster's own: only its
		// presence is checked.
		if o.GetKind() == "NetworkPolicy" {
			same++
			continue
		}
		change, err := d.Cluster.Plan(ctx, o)
		if err != nil {
			out = append(out, Check{Name: name, Err: err, Fix: "check --kubeconfig"})
			continue
		}
		if change == Unchanged {
			same++
			continue
		}
		out = append(out, Check{Name: name, Err: difference(o, live, params), Fix: reinstall})
	}
	out = append([]Check{{Name: fmt.Sprintf("%d of %d objects of deploy/ as the package's values make them", same, len(objects))}}, out...)
	if same < len(objects) {
		out[0].Err, out[0].Fix = fmt.Errorf("%d differ or are missing (below)", len(objects)-same), reinstall
	}
	return out
}

// difference says how live differs from want, for the kinds where it can
// say more than "differs".
func difference(want, live *unstructured.Unstructured, params map[string]string) error {
	switch want.GetKind() {
	case "ValidatingAdmissionPolicy":
		return fmt.Errorf("it does not admit what the package runs (buildkit_image %s, transfer_image %s, buildkit_privileged %q): no build is admitted",
			params["buildkit_image"], params["transfer_image"], params["buildkit_privileged"])
	case "Role":
		lacks, extra := ruleDiff(want, live)
		var parts []string
		if len(lacks) > 0 {
			parts = append(parts, "lacks "+strings.Join(lacks, "; "))
		}
		if len(extra) > 0 {
			parts = append(parts, "grants more: "+strings.Join(extra, "; "))
		}
		if len(parts) > 0 {
			return fmt.Errorf("differs from deploy/rbac.yaml: %s", strings.Join(parts, "; and "))
		}
	}
	return errors.New("differs from deploy/ as rendered with the package's values")
}

// ruleDiff lists, as verbs on resources, the rules of want that live lacks
// and those live has beyond want.
func ruleDiff(want, live *unstructured.Unstructured) (lacks, extra []string) {
	w, _, _ := unstructured.NestedSlice(want.Object, "rules")
	l, _, _ := unstructured.NestedSlice(live.Object, "rules")
	grants := func(rules []any) map[string]bool {
		out := map[string]bool{}
		for _, r := range rules {
			m := comparableRule(r)
			for _, res := range strings.Split(m["resources"], ",") {
				for _, verb := range strings.Split(m["verbs"], ",") {
					out[verb+" "+res+names(m["resourceNames"])] = true
				}
			}
		}
		return out
	}
	wg, lg := grants(w), grants(l)
	for g := range wg {
		if !lg[g] {
			lacks = append(lacks, g)
		}
	}
	for g := range lg {
		if !wg[g] {
			extra = append(extra, g)
		}
	}
	return lacks, extra
}

func names(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

func comparableRule(r any) map[string]string {
	m, _ := r.(map[string]any)
	out := map[string]string{}
	for _, k := range []string{"resources", "verbs", "resourceNames"} {
		list, _ := m[k].([]any)
		s := make([]string, len(list))
		for i, v := range list {
			s[i] = fmt.Sprint(v)
		}
		out[k] = strings.Join(s, ",")
	}
	return out
}

// serviceAccount asks the API server's authorizer, as the builder's
// identity, for every right deploy/rbac.yaml's Roles grant and for rights
// it must not hold, whatever binding would grant them.
func (d *Doctor) serviceAccount(ctx context.Context, params map[string]string) Check {
	c := Check{Name: "ServiceAccount " + KubeNamespace + "/" + ServiceAccount + " may do what builds need, and nothing more", Fix: reinstall}
	v := valuesOf(params)
	objects, err := Render(v.template())
	if err != nil {
		c.Err = err
		return c
	}
	rs, err := roles(objects)
	if err != nil {
		c.Err = err
		return c
	}
	var lacks, more []string
	for _, a := range needs(rs) {
		ok, err := d.Cluster.can(ctx, a)
		if err != nil {
			c.Err, c.Fix = err, "check --kubeconfig (it needs to create SubjectAccessReviews)"
			return c
		}
		if !ok {
			lacks = append(lacks, describeAccess(a))
		}
	}
	for _, a := range beyond(v.RegistrySecret) {
		ok, err := d.Cluster.can(ctx, a)
		if err != nil {
			c.Err, c.Fix = err, "check --kubeconfig (it needs to create SubjectAccessReviews)"
			return c
		}
		if ok {
			more = append(more, describeAccess(a))
		}
	}
	switch {
	case len(more) > 0:
		c.Err = fmt.Errorf("it may also %s", strings.Join(more, "; "))
		c.Fix = "remove what grants it more: kubectl get rolebindings,clusterrolebindings -A -o wide | grep " + ServiceAccount
		if len(lacks) > 0 {
			c.Err = fmt.Errorf("it may not %s; and it may also %s", strings.Join(lacks, "; "), strings.Join(more, "; "))
		}
	case len(lacks) > 0:
		c.Err = fmt.Errorf("it may not %s", strings.Join(lacks, "; "))
	}
	return c
}

// pushSecret checks the build namespace's copy of the registry Secret: it
// exists, it is the registry Secret's content, and the registry accepts it.
func (d *Doctor) pushSecret(ctx context.Context, params map[string]string) Check {
	v := valuesOf(params)
	c := Check{Name: "push Secret " + BuildNamespace + "/" + v.RegistrySecret + " authenticates to the registry", Fix: reinstall + " (it copies the registry Secret)"}
	secrets := d.Cluster.Client.CoreV1().Secrets(BuildNamespace)
	push, err := secrets.Get(ctx, v.RegistrySecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		c.Err = errors.New("missing: builds cannot fetch or push")
		return c
	}
	if err != nil {
		c.Err, c.Fix = err, "check --kubeconfig"
		return c
	}
	orig, err := d.Cluster.Client.CoreV1().Secrets(KubeNamespace).Get(ctx, v.RegistrySecret, metav1.GetOptions{})
	if err != nil {
		c.Err, c.Fix = fmt.Errorf("reading the registry Secret %s/%s: %w", KubeNamespace, v.RegistrySecret, err), "check --kubeconfig"
		return c
	}
	if !reflect.DeepEqual(push.Data, orig.Data) {
		c.Err = fmt.Errorf("it is not the registry Secret %s/%s (rotated since install?)", KubeNamespace, v.RegistrySecret)
		return c
	}
	host, err := d.registryHost(ctx, params)
	if err != nil {
		c.Err, c.Fix = err, "check --kubeconfig"
		return c
	}
	s, err := registry.Credentials{Secret: v.RegistrySecret}.ReadSecret(ctx, kube.Secrets(secrets))
	if err != nil {
		c.Err = err
		return c
	}
	client, err := registry.New(host, registry.Options{Insecure: params["registry_insecure"] != "false", Auth: s.Authenticator(host), UserAgent: "openserverless-builder-doctor"})
	if err != nil {
		c.Err = err
		return c
	}
	_, err = client.Catalog(ctx)
	var terr *transport.Error
	switch {
	case err == nil:
		return c
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
		c.Err = fmt.Errorf("the registry %s refuses its credential (%d)", host, terr.StatusCode)
		c.Fix = "put the registry's password in " + KubeNamespace + "/" + v.RegistrySecret + ", then " + reinstall
	case strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "UNAUTHORIZED"):
		c.Err = fmt.Errorf("the registry %s refuses its credential", host)
		c.Fix = "put the registry's password in " + KubeNamespace + "/" + v.RegistrySecret + ", then " + reinstall
	default:
		c.Skipped = fmt.Sprintf("the registry %s is not reachable from here (%v); the build check below pushes with it", host, err)
	}
	return c
}

// registryHost is where builds push, found as the actions find it
// (config.ResolveRegistryHost): the package's registry_host, else
// ConfigMap config's annotation, else the OpenServerless service.
func (d *Doctor) registryHost(ctx context.Context, params map[string]string) (string, error) {
	c := config.Config{RegistryHost: params["registry_host"], KubeNamespace: KubeNamespace}
	return c.ResolveRegistryHost(ctx, kube.ConfigMaps(d.Cluster.Client.CoreV1().ConfigMaps(KubeNamespace)))
}

func (d *Doctor) buildkitdConf(ctx context.Context) Check {
	c := Check{Name: "buildkitd.toml (ConfigMap " + BuildNamespace + "/" + BuildkitdConf + ")", Fix: "run `builder updatetoml` as an admin (or `builder admin install`)"}
	_, err := d.Cluster.Client.CoreV1().ConfigMaps(BuildNamespace).Get(ctx, BuildkitdConf, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Err = errors.New("missing: build pods cannot start their daemon")
	case err != nil:
		c.Err, c.Fix = err, "check --kubeconfig"
	}
	return c
}

// actions checks that the actions answer, reaching Kubernetes with the
// builder's kubeconfig and the registry with its credential.
func (d *Doctor) actions() []Check {
	var out []Check
	for _, a := range []struct{ action, name string }{
		{"capabilities", "the actions answer (builder/capabilities)"},
		{"builds", "the actions reach Kubernetes as the builder (builder/builds)"},
		{"list-catalogs", "the actions reach the registry (builder/list-catalogs)"},
	} {
		c := Check{Name: a.name, Fix: "read the message; " + reinstall}
		if _, err := d.invoke(a.action, map[string]any{}); err != nil {
			c.Err = err
		}
		out = append(out, c)
	}
	return out
}

func (d *Doctor) invoke(action string, p map[string]any) (map[string]any, error) {
	res, _, err := d.Whisk.Client.Actions.Invoke("builder/"+action, p, true, true)
	if err != nil {
		return nil, whiskError(err)
	}
	m, _ := res.(map[string]any)
	if msg, ok := m["error"]; ok {
		return nil, fmt.Errorf("%v", msg)
	}
	return m, nil
}

// build runs a tiny build from the operator's source and waits for it to
// succeed, then deletes its image.
func (d *Doctor) build(ctx context.Context) Check {
	c := Check{Name: "a build runs to succeeded", Fix: "read the build's log above"}
	if d.Source == "" {
		c.Skipped = "pass --source <image> --kind <kind> to run one"
		return c
	}
	target := d.Whisk.Namespace + "/builder-doctor:check"
	c.Name = fmt.Sprintf("a build of %s (%s) to %s runs to succeeded", d.Source, d.Kind, target)
	res, err := d.invoke("send", map[string]any{"source": d.Source, "kind": d.Kind, "target": target, "rebuild": true})
	if err != nil {
		c.Err, c.Fix = err, "read the message; --source must be an image the builder may build from"
		return c
	}
	var sent types.Sent
	if err := decode(res, &sent); err != nil {
		c.Err = err
		return c
	}
	timeout, poll := d.BuildTimeout, d.Poll
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	if poll == 0 {
		poll = 2 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		res, err := d.invoke("logs", map[string]any{"job_name": sent.JobName})
		if err != nil {
			c.Err = err
			return c
		}
		var st types.Status
		if err := decode(res, &st); err != nil {
			c.Err = err
			return c
		}
		if types.Done(st.Status) {
			if st.Status != types.Succeeded {
				c.Err = fmt.Errorf("build %s %s: %s\n%s", st.JobName, st.Status, st.Reason, tail(st.Logs, 15))
				return c
			}
			if _, err := d.invoke("delete-image", map[string]any{"image": target}); err != nil {
				c.Err, c.Fix = fmt.Errorf("the build succeeded, deleting its image failed: %w", err), "delete "+target+" with `builder delete-image`"
			}
			return c
		}
		if time.Now().After(deadline) {
			c.Err = fmt.Errorf("build %s still %s after %s", sent.JobName, st.Status, timeout)
			c.Fix = "see `builder logs --job-name " + sent.JobName + "` and the build namespace's events"
			return c
		}
		select {
		case <-ctx.Done():
			c.Err = ctx.Err()
			return c
		case <-time.After(poll):
		}
	}
}

func decode(m map[string]any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "      | " + strings.Join(lines, "\n      | ")
}
