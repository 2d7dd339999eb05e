package handlers

import (
	"context"
	"fmt"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// DeleteImage deletes an image by its digest, with its attestations.
var DeleteImage = action.Action{Name: "delete-image", Methods: web.Delete(), Run: deleteImage}

func deleteImage(ctx context.Context, inv *action.Invocation) (any, error) {
	c, image, repo, err := imageParam(ctx, inv)
	if err != nil {
		return nil, err
	}
	if err := inv.Config.CheckWritable(repo, inv.Caller.Admin); err != nil {
		return nil, err
	}
	d, err := c.Delete(ctx, image)
	if err != nil {
		return nil, err
	}
	msg := "deleted " + image + " (" + d.Digest + ")"
	if n := len(d.Attestations); n > 0 {
		msg += fmt.Sprintf(" and its %d attestation manifest(s)", n)
	}
	return types.Deleted{Deleted: true, Image: image, Digest: d.Digest, Attestations: d.Attestations, Message: msg + "; " + GCNote}, nil
}
