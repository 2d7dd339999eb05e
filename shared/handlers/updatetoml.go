package handlers

import (
	"context"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/buildkitd"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/pin"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/shared/web"
)

// UpdateTOML creates or replaces the buildkitd.toml ConfigMap (admins).
var UpdateTOML = action.Action{Name: "updatetoml", Methods: web.Write(), Run: updateTOML}

func updateTOML(ctx context.Context, inv *action.Invocation) (any, error) {
	if err := inv.Caller.RequireAdmin("updatetoml"); err != nil {
		return nil, err
	}
	text, err := inv.Params.String("toml", "")
	if err != nil {
		return nil, err
	}
	if text != "" {
		if err := buildkitd.Check(text); err != nil {
			return nil, err
		}
	}
	k, err := inv.Kube()
	if err != nil {
		return nil, err
	}
	cfg := inv.Config
	if text == "" {
		host, err := cfg.ResolveRegistryHost(ctx, k.Core.ConfigMaps(cfg.KubeNamespace))
		if err != nil {
			return nil, err
		}
		// Never the cluster registry, nor a host the credential is for, as
		// a mirror: the one check send makes too.
		if err := pin.CheckMirrors(ctx, inv, host); err != nil {
			return nil, err
		}
		text = buildkitd.Default(host, cfg.RegistryInsecure, cfg.RegistryMirrors)
	}
	// The build pods mount it: it lives beside them.
	cms := k.Core.ConfigMaps(cfg.BuildNamespace)
	changed, err := buildkitd.Apply(ctx, cms, cfg.BuildNamespace, text)
	if err != nil {
		return nil, err
	}
	msg := "ConfigMap " + names.BuildkitdConfigMap + " is unchanged"
	if changed {
		msg = "ConfigMap " + names.BuildkitdConfigMap + " written; builds started from now on use it"
	}
	return types.TOMLWritten{ConfigMap: names.BuildkitdConfigMap, Changed: changed, Message: msg}, nil
}
