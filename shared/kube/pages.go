package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PageSize is how many objects a list asks the API server for at once.
const PageSize = 500

// Cached is the revision of a list read from the API server's watch
// cache as it stands (resourceVersion=0): what the caller's few objects
// cost, whatever the namespace holds, at most the cache's delay behind
// the latest write (milliseconds while its watch runs).
const Cached = "0"

// ListPages lists the objects that selector selects, page by page: page
// gets the options of each page (limit and continue token) and returns the
// next token, "" after the last page.
//
// rv is how fresh the first page must be. "" is a consistent read, which
// an API server whose etcd cannot confirm its cache is current (etcd
// before 3.4.31 or 3.5.13) answers from etcd by reading every object of
// the resource in the namespace. Cached reads the watch cache as it
// stands. Any other revision reads the watch cache once it has seen that
// revision (resourceVersionMatch=NotOlderThan): use the revision of an
// object of the same resource, whose own event brings the cache there;
// the cache of another resource may wait for an event that never comes.
func ListPages(ctx context.Context, selector, rv string, page func(metav1.ListOptions) (next string, err error)) error {
	opts := metav1.ListOptions{LabelSelector: selector, Limit: PageSize}
	switch rv {
	case "":
	case Cached:
		opts.ResourceVersion = Cached
	default:
		opts.ResourceVersion, opts.ResourceVersionMatch = rv, metav1.ResourceVersionMatchNotOlderThan
	}
	for {
		next, err := page(opts)
		if err != nil {
			return err
		}
		if next == "" {
			return ctx.Err()
		}
		// A continue token carries the list's revision itself.
		opts.Continue, opts.ResourceVersion, opts.ResourceVersionMatch = next, "", ""
	}
}
