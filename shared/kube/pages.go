package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PageSize is how many objects a list asks the API server for at once.
const PageSize = 500

// ListPages lists the objects that selector selects, page by page: page
// gets the options of each page (limit and continue token) and returns the
// next token, "" after the last page.
func ListPages(ctx context.Context, selector string, page func(metav1.ListOptions) (next string, err error)) error {
	opts := metav1.ListOptions{LabelSelector: selector, Limit: PageSize}
	for {
		next, err := page(opts)
		if err != nil {
			return err
		}
		if next == "" {
			return ctx.Err()
		}
		opts.Continue = next
	}
}
