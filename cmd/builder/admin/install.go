package admin

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kwait "k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Installer installs or upgrades the builder.
type Installer struct {
	Cluster  *Cluster
	Whisk    *Whisk
	Values   Values
	Manifest string // path of manifest.yaml; the zips it names beside it
	DryRun   bool
	Out      io.Writer
	// TokenWait bounds the wait for the token controller to fill the
	// builder's token Secret (default 1 minute).
	TokenWait time.Duration
}

// step is one line of what install does.
type step struct {
	change Change
	what   string
}

// Install creates or updates everything, in order. Every value is checked,
// every image resolved, the manifest and its zips read, and both APIs
// reached before the first change; an install that changes nothing says so.
func (in *Installer) Install(ctx context.Context) error {
	v := in.Values
	if err := v.Check(); err != nil {
		return err
	}
	if err := v.Resolve(ctx); err != nil {
		return err
	}
	// From here on every part, the dry run's too, sees the pinned images.
	in.Values = v
	registrySecret, err := in.registrySecret(ctx)
	if err != nil {
		return err
	}
	// The manifest now, with the kubeconfig to come, so a missing zip
	// stops install before it changes anything.
	if _, err := ReadManifest(in.Manifest, v.params("")); err != nil {
		return err
	}
	objects, err := Render(v.template())
	if err != nil {
		return err
	}
	objects = append(objects, pushSecret(registrySecret))
	var steps []step
	for _, o := range objects {
		c, err := in.Cluster.Plan(ctx, o)
		if err != nil {
			return err
		}
		steps = append(steps, step{c, Describe(o)})
	}
	feed, err := in.Whisk.hasAlarms()
	if err != nil {
		return fmt.Errorf("reaching OpenWhisk (--apihost, --auth): %w", whiskError(err))
	}
	if in.DryRun {
		return in.dryRun(ctx, steps, feed)
	}
	for i, o := range objects {
		if steps[i].change == Unchanged {
			continue
		}
		if err := in.Cluster.Apply(ctx, o); err != nil {
			return err
		}
	}
	in.print(steps)
	kubeconfig, err := in.kubeconfig(ctx, true)
	if err != nil {
		return err
	}
	pkg, err := ReadManifest(in.Manifest, v.params(kubeconfig))
	if err != nil {
		return err
	}
	wsteps, err := in.deploy(pkg, feed)
	if err != nil {
		return err
	}
	steps = append(steps, wsteps...)
	toml, err := in.buildkitdConf(ctx)
	if err != nil {
		return err
	}
	steps = append(steps, toml)
	in.summary(steps)
	return nil
}

// dryRun prints what install would do and changes nothing.
func (in *Installer) dryRun(ctx context.Context, steps []step, feed bool) error {
	kubeconfig, err := in.kubeconfig(ctx, false)
	if err != nil {
		return err
	}
	pkg, err := ReadManifest(in.Manifest, in.Values.params(kubeconfig))
	if err != nil {
		return err
	}
	for _, e := range in.Whisk.entities(pkg, feed) {
		c := Created
		if kubeconfig != "" {
			if c, err = plan(e); err != nil {
				return err
			}
		}
		steps = append(steps, step{c, e.String()})
	}
	if !feed {
		steps = append(steps, in.noFeed())
	}
	_, err = in.Cluster.Client.CoreV1().ConfigMaps(BuildNamespace).Get(ctx, BuildkitdConf, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		steps = append(steps, step{Created, "ConfigMap " + BuildNamespace + "/" + BuildkitdConf + " (buildkitd.toml, by updatetoml)"})
	case err != nil:
		return fmt.Errorf("reading buildkitd.toml: %w", err)
	default:
		steps = append(steps, step{Unchanged, "ConfigMap " + BuildNamespace + "/" + BuildkitdConf + " (buildkitd.toml: kept as it is)"})
	}
	in.print(steps)
	n := 0
	for _, s := range steps {
		if s.change != Unchanged && s.change != Absent {
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(in.Out, "dry run: no changes")
	} else {
		fmt.Fprintf(in.Out, "dry run: %d to change; nothing was changed\n", n)
	}
	return nil
}

func (in *Installer) noFeed() step {
	return step{Absent, "trigger and rule of cleanjobs (no " + AlarmFeed + " here: the cron annotation of cleanjobs schedules it)"}
}

// deploy puts the package's entities that differ.
func (in *Installer) deploy(pkg *Package, feed bool) ([]step, error) {
	var steps []step
	for _, e := range in.Whisk.entities(pkg, feed) {
		c, err := plan(e)
		if err != nil {
			return steps, err
		}
		if c != Unchanged {
			if err := e.put(); err != nil {
				return steps, fmt.Errorf("deploying %s: %w", e, whiskError(err))
			}
		}
		s := step{c, e.String()}
		in.print([]step{s})
		steps = append(steps, s)
	}
	if !feed {
		s := in.noFeed()
		in.print([]step{s})
		steps = append(steps, s)
	}
	return steps, nil
}

// buildkitdConf writes the default buildkitd.toml with updatetoml when
// there is none; an operator's own is kept.
func (in *Installer) buildkitdConf(ctx context.Context) (step, error) {
	what := "ConfigMap " + BuildNamespace + "/" + BuildkitdConf + " (buildkitd.toml"
	_, err := in.Cluster.Client.CoreV1().ConfigMaps(BuildNamespace).Get(ctx, BuildkitdConf, metav1.GetOptions{})
	switch {
	case err == nil:
		s := step{Unchanged, what + ": kept as it is)"}
		in.print([]step{s})
		return s, nil
	case !apierrors.IsNotFound(err):
		return step{}, fmt.Errorf("reading buildkitd.toml: %w", err)
	}
	if _, _, err := in.Whisk.Client.Actions.Invoke("builder/updatetoml", map[string]any{}, true, true); err != nil {
		return step{}, fmt.Errorf("writing buildkitd.toml with builder/updatetoml: %w", whiskError(err))
	}
	s := step{Created, what + ", by updatetoml)"}
	in.print([]step{s})
	return s, nil
}

func (in *Installer) print(steps []step) {
	for _, s := range steps {
		fmt.Fprintf(in.Out, "%-9s %s\n", s.change, s.what)
	}
}

func (in *Installer) summary(steps []step) {
	count := map[Change]int{}
	for _, s := range steps {
		count[s.change]++
	}
	if count[Created]+count[Changed] == 0 {
		fmt.Fprintln(in.Out, "installed: no changes")
		return
	}
	fmt.Fprintf(in.Out, "installed: %d created, %d changed, %d unchanged; check it with `builder admin doctor`\n", count[Created], count[Changed], count[Unchanged])
}

// registrySecret is the cluster's registry Secret, which builds push with.
func (in *Installer) registrySecret(ctx context.Context) (*corev1.Secret, error) {
	s, err := in.Cluster.Client.CoreV1().Secrets(KubeNamespace).Get(ctx, in.Values.RegistrySecret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("--registry-secret: there is no Secret %s/%s (the registry's credential, which OpenServerless creates)", KubeNamespace, in.Values.RegistrySecret)
	case err != nil:
		return nil, fmt.Errorf("reading the registry Secret %s/%s (--kubeconfig): %w", KubeNamespace, in.Values.RegistrySecret, err)
	case s.Type != corev1.SecretTypeDockerConfigJson:
		return nil, fmt.Errorf("--registry-secret: Secret %s/%s has type %s, not %s", KubeNamespace, s.Name, s.Type, corev1.SecretTypeDockerConfigJson)
	}
	return s, nil
}

// pushSecret is the copy of the registry Secret the build pods mount.
func pushSecret(s *corev1.Secret) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": string(s.Type),
		"metadata": map[string]any{"name": s.Name, "namespace": BuildNamespace,
			"labels": map[string]any{"app.kubernetes.io/managed-by": FieldManager}},
		"data": encodeData(s.Data),
	}}
}

// encodeData is a Secret's data as the API's JSON holds it.
func encodeData(data map[string][]byte) map[string]any {
	out := map[string]any{}
	for k, v := range data {
		out[k] = base64.StdEncoding.EncodeToString(v)
	}
	return out
}

// kubeconfig is the builder's kubeconfig, from its token Secret; "" when
// the token is not there and wait is false.
func (in *Installer) kubeconfig(ctx context.Context, wait bool) (string, error) {
	var token, ca []byte
	get := func(ctx context.Context) (bool, error) {
		s, err := in.Cluster.Client.CoreV1().Secrets(KubeNamespace).Get(ctx, TokenSecret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		token, ca = s.Data[corev1.ServiceAccountTokenKey], s.Data[corev1.ServiceAccountRootCAKey]
		return len(token) > 0, nil
	}
	if !wait {
		if ok, err := get(ctx); err != nil || !ok {
			return "", err
		}
	} else {
		limit := in.TokenWait
		if limit == 0 {
			limit = time.Minute
		}
		if err := kwait.PollUntilContextTimeout(ctx, 250*time.Millisecond, limit, true, get); err != nil {
			return "", fmt.Errorf("waiting for the token of %s/%s (is the token controller running?): %w", KubeNamespace, TokenSecret, err)
		}
	}
	return Kubeconfig(in.Values.APIServer, token, ca)
}

// Kubeconfig is the builder's kubeconfig: its ServiceAccount's token at
// server, trusting ca.
func Kubeconfig(server string, token, ca []byte) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["builder"] = &clientcmdapi.AuthInfo{Token: string(token)}
	cfg.Contexts["builder"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "builder", Namespace: KubeNamespace}
	cfg.CurrentContext = "builder"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", fmt.Errorf("writing the builder's kubeconfig: %w", err)
	}
	return string(b), nil
}
