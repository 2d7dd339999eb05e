package handlers

import (
	"context"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/web"
)

// GetImage reports the manifest, digest and config of an image.
var GetImage = action.Action{Name: "get-image", Methods: web.Read(), Run: getImage}

func getImage(ctx context.Context, inv *action.Invocation) (any, error) {
	c, image, _, err := imageParam(ctx, inv)
	if err != nil {
		return nil, err
	}
	m, err := c.Get(ctx, image)
	if err != nil {
		return nil, err
	}
	// What users deploy with: the pull host's name of it.
	m.Image = inv.Config.PullHost(c.Host()) + "/" + m.Reference
	return m, nil
}
