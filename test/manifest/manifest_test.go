// Package manifest checks manifest.yaml with wskdeploy's own parser.
package manifest

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/apache/openwhisk-wskdeploy/parsers"
	"github.com/apache/openwhisk-wskdeploy/runtimes"
	"github.com/apache/openwhisk-wskdeploy/utils"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/config"
)

// loadOpenServerlessRuntimes makes go:1.22 a known kind, as the
// OpenServerless controller's runtimes.json does.
func loadOpenServerlessRuntimes() {
	info := runtimes.OpenWhiskInfo{Runtimes: map[string][]runtimes.Runtime{
		"go":     {{Kind: "go:1.22", Default: true}},
		"nodejs": {{Kind: "nodejs:20", Default: true}},
		"python": {{Kind: "python:3.12", Default: true}},
	}}
	runtimes.SupportedRunTimes = runtimes.ConvertToMap(info)
	runtimes.DefaultRunTimes = runtimes.DefaultRuntimes(info)
	runtimes.FileExtensionRuntimeKindMap = runtimes.FileExtensionRuntimes(info)
	runtimes.FileRuntimeExtensionsMap = runtimes.FileRuntimeExtensions(info)
}

func annotations(kv whisk.KeyValueArr) map[string]any {
	m := map[string]any{}
	for _, a := range kv {
		m[a.Key] = a.Value
	}
	return m
}

func TestManifest(t *testing.T) {
	loadOpenServerlessRuntimes()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	for _, z := range []string{"send", "logs", "registry", "cleanjobs", "updatetoml"} {
		if _, err := os.Stat(filepath.Join(root, "build", z+".zip")); err != nil {
			t.Fatalf("build/%s.zip is missing: run `make build` first (make test does)", z)
		}
	}
	t.Setenv("BUILDER_REGISTRY_HOST", "registry.example:5000")
	t.Setenv("BUILDER_REGISTRY_PASSWORD", "")
	path := filepath.Join(root, "manifest.yaml")

	p := parsers.NewYAMLParser()
	m, err := p.ParseManifest(path)
	require.NoError(t, err)

	pkgs, inputs, err := p.ComposeAllPackages(map[string]parsers.Parameter{}, m, path, whisk.KeyValue{})
	require.NoError(t, err)
	require.Contains(t, pkgs, "builder")
	params := map[string]any{}
	for _, kv := range pkgs["builder"].Parameters {
		params[kv.Key] = kv.Value
	}
	wantInputs := config.ParamNames()
	got := make([]string, 0, len(params))
	for k := range params {
		got = append(got, k)
	}
	sort.Strings(got)
	assert.Equal(t, wantInputs, got, "every configuration parameter (docs/contract.md, Configuration) is bound")
	assert.Equal(t, "registry.example:5000", params["registry_host"], "inputs come from the environment")
	assert.Equal(t, "", params["registry_password"], "an unset variable binds an empty value")

	actions, err := p.ComposeActionsFromAllPackages(m, path, whisk.KeyValue{}, inputs)
	require.NoError(t, err)
	byName := map[string]utils.ActionRecord{}
	for _, a := range actions {
		byName[a.Action.Name] = a
	}
	web := map[string]bool{"send": true, "ensure": true, "capabilities": true, "logs": true, "builds": true, "cancel": true, "cleanjobs": true, "list-catalogs": true, "list-images": true, "get-image": true, "delete-image": true, "updatetoml": false}
	require.Len(t, byName, len(web))
	for name, isWeb := range web {
		rec, ok := byName[name]
		require.True(t, ok, name)
		assert.Equal(t, "builder", rec.Packagename, name)
		assert.Equal(t, "go:1.22", rec.Action.Exec.Kind, name)
		ann := annotations(rec.Action.Annotations)
		assert.Equal(t, true, ann["final"], "%s: no caller overrides a bound parameter", name)
		if isWeb {
			assert.Equal(t, true, ann["web-export"], name)
			assert.Equal(t, true, ann["require-whisk-auth"], name)
		} else {
			assert.NotEqual(t, true, ann["web-export"], name)
		}
	}
	for _, op := range []string{"list-catalogs", "list-images", "get-image", "delete-image"} {
		params := map[string]any{}
		for _, kv := range byName[op].Action.Parameters {
			params[kv.Key] = kv.Value
		}
		assert.Equal(t, op, params["operation"], "the registry binary learns its operation from a bound parameter")
		assert.Equal(t, byName["list-catalogs"].Action.Exec.Code, byName[op].Action.Exec.Code, "one binary, deployed four times")
	}
	for zip, ops := range map[string][]string{"logs": {"logs", "builds", "cancel"}, "send": {"send", "ensure", "capabilities"}} {
		for _, op := range ops {
			params := map[string]any{}
			for _, kv := range byName[op].Action.Parameters {
				params[kv.Key] = kv.Value
			}
			assert.Equal(t, op, params["operation"])
			assert.Equal(t, byName[zip].Action.Exec.Code, byName[op].Action.Exec.Code, "one binary, deployed three times")
		}
	}
	assert.Equal(t, "0 * * * *", annotations(byName["cleanjobs"].Action.Annotations)["cron"])

	triggers, err := p.ComposeTriggersFromAllPackages(m, path, whisk.KeyValue{}, inputs)
	require.NoError(t, err)
	require.Len(t, triggers, 1)
	tr := triggers[0]
	assert.Equal(t, "builder-cleanjobs-alarm", tr.Name)
	assert.Equal(t, "/whisk.system/alarms/alarm", annotations(tr.Annotations)["feed"])
	assert.Equal(t, "0 * * * *", annotations(tr.Parameters)["cron"])

	rules, err := p.ComposeRulesFromAllPackages(m, whisk.KeyValue{}, inputs)
	require.NoError(t, err)
	require.Len(t, rules, 1)
	assert.Equal(t, "builder-cleanjobs-alarm", rules[0].Trigger)
	assert.Equal(t, "builder/cleanjobs", rules[0].Action)
}
