package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Cluster is the operator's access to Kubernetes.
type Cluster struct {
	Client  kubernetes.Interface
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
}

// NewCluster connects with the operator's configuration.
func NewCluster(cfg *rest.Config) (*Cluster, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{Client: c, dynamic: d, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}, nil
}

// Change is what applying an object does (or would do).
type Change string

const (
	Created   Change = "created"
	Changed   Change = "changed"
	Unchanged Change = "unchanged"
	Deleted   Change = "deleted"
	Absent    Change = "absent"
)

// Describe names an object as kubectl does: Kind namespace/name.
func Describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

func (c *Cluster) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: the API server does not serve %s: %w", Describe(o), gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dynamic.Resource(m.Resource).Namespace(o.GetNamespace()), nil
	}
	return c.dynamic.Resource(m.Resource), nil
}

// Plan says what applying o would change: created when it does not exist
// (or its namespace does not), else a server-side dry run of the apply
// compared with the object as it is.
func (c *Cluster) Plan(ctx context.Context, o *unstructured.Unstructured) (Change, error) {
	r, err := c.resource(o)
	if err != nil {
		return "", err
	}
	live, err := r.Get(ctx, o.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Created, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", Describe(o), err)
	}
	after, err := r.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return "", fmt.Errorf("checking %s (dry run): %w", Describe(o), err)
	}
	if sameObject(live, after) {
		return Unchanged, nil
	}
	return Changed, nil
}

// Apply applies o with server-side apply, as the builder's field manager.
func (c *Cluster) Apply(ctx context.Context, o *unstructured.Unstructured) error {
	r, err := c.resource(o)
	if err != nil {
		return err
	}
	if _, err := r.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("applying %s: %w", Describe(o), err)
	}
	return nil
}

// Delete deletes o; one already gone is Absent.
func (c *Cluster) Delete(ctx context.Context, o *unstructured.Unstructured, dryRun bool) (Change, error) {
	r, err := c.resource(o)
	if err != nil {
		return "", err
	}
	opts := metav1.DeleteOptions{}
	if dryRun {
		if _, err := r.Get(ctx, o.GetName(), metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return Absent, nil
		} else if err != nil {
			return "", fmt.Errorf("reading %s: %w", Describe(o), err)
		}
		return Deleted, nil
	}
	err = r.Delete(ctx, o.GetName(), opts)
	switch {
	case apierrors.IsNotFound(err):
		return Absent, nil
	case err != nil:
		return "", fmt.Errorf("deleting %s: %w", Describe(o), err)
	}
	return Deleted, nil
}

// Live is the object as the API server holds it, nil when absent.
func (c *Cluster) Live(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	r, err := c.resource(o)
	if err != nil {
		return nil, err
	}
	live, err := r.Get(ctx, o.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", Describe(o), err)
	}
	return live, nil
}

// sameObject compares two versions of an object without what the server
// keeps about the writes themselves.
func sameObject(a, b *unstructured.Unstructured) bool {
	return reflect.DeepEqual(comparable(a), comparable(b))
}

func comparable(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy().Object
	if m, ok := c["metadata"].(map[string]any); ok {
		for _, k := range []string{"managedFields", "resourceVersion", "generation"} {
			delete(m, k)
		}
	}
	delete(c, "status")
	// A JSON round trip makes the numbers of both one type.
	b, _ := json.Marshal(c)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
