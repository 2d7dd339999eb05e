package handlers

import (
	"context"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/web"
)

// GetImage reports the manifest, digest and config of an image.
var GetImage = action.Action{Name: "get-image", Methods: web.Read(), Run: getImage}

func getImage(ctx context.Context, inv *action.Invocation) (any, error) {
	c, image, err := imageParam(ctx, inv)
	if err != nil {
		return nil, err
	}
	return c.Get(ctx, image)
}
