package admin

import (
	"context"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Uninstaller removes what Install created.
type Uninstaller struct {
	Cluster  *Cluster
	Whisk    *Whisk
	Values   Values
	Manifest string
	// Purge removes the build namespace too, with every build's record,
	// index, log and Job; without it they are kept, and said so.
	Purge  bool
	DryRun bool
	Out    io.Writer
}

// Uninstall deletes, in the reverse order of Install, the package's
// entities and the Kubernetes objects; users' images are never touched.
func (u *Uninstaller) Uninstall(ctx context.Context) error {
	pkg, err := ReadManifest(u.Manifest, u.Values.params(""))
	if err != nil {
		return err
	}
	feed, err := u.Whisk.hasAlarms()
	if err != nil {
		return fmt.Errorf("reaching OpenWhisk (--apihost, --auth): %w", whiskError(err))
	}
	ents := u.Whisk.entities(pkg, feed)
	for i := len(ents) - 1; i >= 0; i-- {
		e := ents[i]
		_, found, err := e.get()
		if err != nil {
			return fmt.Errorf("reading %s: %w", e, whiskError(err))
		}
		c := Absent
		if found {
			c = Deleted
			if !u.DryRun {
				if err := e.del(); err != nil {
					return fmt.Errorf("deleting %s: %w", e, whiskError(err))
				}
			}
		}
		u.line(c, e.String())
	}
	objects, err := Render(u.Values.template())
	if err != nil {
		return err
	}
	objects = append(objects,
		namespaced("v1", "Secret", BuildNamespace, u.Values.RegistrySecret),
		namespaced("v1", "ConfigMap", BuildNamespace, BuildkitdConf))
	var buildNamespace *unstructured.Unstructured
	for i := len(objects) - 1; i >= 0; i-- {
		o := objects[i]
		if o.GetKind() == "Namespace" && o.GetName() == BuildNamespace {
			buildNamespace = o
			continue
		}
		c, err := u.Cluster.Delete(ctx, o, u.DryRun)
		if err != nil {
			return err
		}
		u.line(c, Describe(o))
	}
	if u.Purge {
		c, err := u.Cluster.Delete(ctx, buildNamespace, u.DryRun)
		if err != nil {
			return err
		}
		u.line(c, Describe(buildNamespace)+" (--purge: every build's Job, record, index and log with it)")
		fmt.Fprintln(u.Out, "kept: users' images in the registry")
		return nil
	}
	return u.kept(ctx)
}

// kept says what stays: the build namespace with the users' builds.
func (u *Uninstaller) kept(ctx context.Context) error {
	cms, err := u.Cluster.Client.CoreV1().ConfigMaps(BuildNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("counting what is kept in %s: %w", BuildNamespace, err)
	}
	jobs, err := u.Cluster.Client.BatchV1().Jobs(BuildNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("counting what is kept in %s: %w", BuildNamespace, err)
	}
	n := 0
	for _, cm := range cms.Items {
		if cm.Name != "kube-root-ca.crt" {
			n++
		}
	}
	fmt.Fprintf(u.Out, "kept: namespace %s with %d ConfigMaps (build records, indexes, logs, contexts) and %d Jobs; `builder admin uninstall --purge` removes them\n", BuildNamespace, n, len(jobs.Items))
	fmt.Fprintln(u.Out, "kept: users' images in the registry")
	return nil
}

func (u *Uninstaller) line(c Change, what string) {
	if u.DryRun && c == Deleted {
		c = "delete"
	}
	fmt.Fprintf(u.Out, "%-9s %s\n", c, what)
}

func namespaced(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "namespace": ns},
	}}
}
