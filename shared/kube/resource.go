package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// object is a pointer to an API type: what the REST client decodes into.
type object[T any] interface {
	*T
	runtime.Object
	GetName() string
}

// list is a pointer to an API list type.
type list[L any] interface {
	*L
	runtime.Object
}

// Resource is one namespaced resource of one API group, with the verbs the
// builder uses. It has the method set of client-go's typed clients, so code
// written against small interfaces of those works with either.
type Resource[T, L any, PT object[T], PL list[L]] struct {
	client rest.Interface
	params runtime.ParameterCodec
	ns     string
	name   string // plural resource name, such as configmaps
}

func (r Resource[T, L, PT, PL]) request(verb func() *rest.Request) *rest.Request {
	return verb().Namespace(r.ns).Resource(r.name)
}

// Get reads one object.
func (r Resource[T, L, PT, PL]) Get(ctx context.Context, name string, opts metav1.GetOptions) (PT, error) {
	out := PT(new(T))
	err := r.request(r.client.Get).Name(name).VersionedParams(&opts, r.params).Do(ctx).Into(out)
	return out, err
}

// List reads one page of objects.
func (r Resource[T, L, PT, PL]) List(ctx context.Context, opts metav1.ListOptions) (PL, error) {
	out := PL(new(L))
	err := r.request(r.client.Get).VersionedParams(&opts, r.params).Do(ctx).Into(out)
	return out, err
}

// Create creates obj and returns it as stored.
func (r Resource[T, L, PT, PL]) Create(ctx context.Context, obj PT, opts metav1.CreateOptions) (PT, error) {
	out := PT(new(T))
	err := r.request(r.client.Post).VersionedParams(&opts, r.params).Body(obj).Do(ctx).Into(out)
	return out, err
}

// Update replaces obj and returns it as stored.
func (r Resource[T, L, PT, PL]) Update(ctx context.Context, obj PT, opts metav1.UpdateOptions) (PT, error) {
	out := PT(new(T))
	err := r.request(r.client.Put).Name(obj.GetName()).VersionedParams(&opts, r.params).Body(obj).Do(ctx).Into(out)
	return out, err
}

// Patch changes one object by a patch of type pt, and returns it as stored.
func (r Resource[T, L, PT, PL]) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (PT, error) {
	out := PT(new(T))
	err := r.request(func() *rest.Request { return r.client.Patch(pt) }).Name(name).SubResource(subresources...).
		VersionedParams(&opts, r.params).Body(data).Do(ctx).Into(out)
	return out, err
}

// Delete deletes one object.
func (r Resource[T, L, PT, PL]) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return r.request(r.client.Delete).Name(name).Body(&opts).Do(ctx).Error()
}

// PodResource is the pods resource, with their logs.
type PodResource struct {
	Resource[corev1.Pod, corev1.PodList, *corev1.Pod, *corev1.PodList]
}

// GetLogs is the request for a pod's log; Stream it.
func (r PodResource) GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request {
	return r.request(r.client.Get).Name(name).SubResource("log").VersionedParams(opts, r.params)
}
