package kube

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestListPagesFollowsContinue(t *testing.T) {
	for _, rv := range []string{"", Cached, "42"} {
		var seen []metav1.ListOptions
		tokens := map[string]string{"": "a", "a": "b", "b": ""}
		err := ListPages(context.Background(), "x=y", rv, func(o metav1.ListOptions) (string, error) {
			seen = append(seen, o)
			return tokens[o.Continue], nil
		})
		assert.NoError(t, err)
		assert.Equal(t, []string{"", "a", "b"}, []string{seen[0].Continue, seen[1].Continue, seen[2].Continue})
		for _, o := range seen {
			assert.Equal(t, "x=y", o.LabelSelector)
			assert.Equal(t, int64(PageSize), o.Limit)
		}
		// The first page is read from the watch cache, at least as fresh
		// as rv; the next ones follow their token alone.
		assert.Equal(t, rv, seen[0].ResourceVersion)
		if rv == "42" {
			assert.Equal(t, metav1.ResourceVersionMatchNotOlderThan, seen[0].ResourceVersionMatch)
		} else {
			assert.Empty(t, seen[0].ResourceVersionMatch)
		}
		for _, o := range seen[1:] {
			assert.Empty(t, o.ResourceVersion)
			assert.Empty(t, o.ResourceVersionMatch)
		}
	}
	boom := errors.New("boom")
	assert.ErrorIs(t, ListPages(context.Background(), "", "", func(metav1.ListOptions) (string, error) { return "", boom }), boom)
}
