package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/apache/openwhisk-wskdeploy/parsers"
	"github.com/apache/openwhisk-wskdeploy/runtimes"
)

// DigestAnnotation carries, on every entity install deploys, the SHA-256
// of the entity as deployed (its code, parameters, annotations and
// limits): install compares it to say what it would change, and skips
// what is the same.
const DigestAnnotation = "openserverless-builder-digest"

// AlarmFeed is plain OpenWhisk's alarm feed, which the manifest's trigger
// uses; OpenServerless schedules cleanjobs by its cron annotation instead.
const AlarmFeed = "/whisk.system/alarms/alarm"

// Package is the manifest's package as OpenWhisk entities.
type Package struct {
	Package  *whisk.Package
	Actions  []*whisk.Action // named <package>/<action>
	Triggers []*whisk.Trigger
	Rules    []*whisk.Rule
}

// knowRuntimes makes go:1.22, the kind of every action of the manifest, a
// kind wskdeploy accepts, as the OpenServerless controller's runtimes.json
// lists it. (wskdeploy keeps its runtimes in package variables.)
func knowRuntimes() {
	info := runtimes.OpenWhiskInfo{Runtimes: map[string][]runtimes.Runtime{"go": {{Kind: "go:1.22", Default: true}}}}
	runtimes.SupportedRunTimes = runtimes.ConvertToMap(info)
	runtimes.DefaultRunTimes = runtimes.DefaultRuntimes(info)
	runtimes.FileExtensionRuntimeKindMap = runtimes.FileExtensionRuntimes(info)
	runtimes.FileRuntimeExtensionsMap = runtimes.FileRuntimeExtensions(info)
}

// ReadManifest composes the manifest at path with wskdeploy's parser, as
// `wskdeploy -m` does: inputs from the environment, the zips it names
// read. params then replace the package inputs that must agree with the
// Kubernetes objects.
func ReadManifest(path string, params map[string]string) (*Package, error) {
	knowRuntimes()
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	p := parsers.NewYAMLParser()
	m, err := p.ParseManifest(path)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest %s: %w", path, err)
	}
	none := whisk.KeyValue{}
	pkgs, inputs, err := p.ComposeAllPackages(map[string]parsers.Parameter{}, m, path, none)
	if err != nil {
		return nil, fmt.Errorf("the manifest %s: %w", path, err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("the manifest %s has %d packages; the builder's has one", path, len(pkgs))
	}
	out := &Package{}
	for _, pkg := range pkgs {
		out.Package = pkg
	}
	for k, v := range params {
		set(&out.Package.Parameters, k, v)
	}
	records, err := p.ComposeActionsFromAllPackages(m, path, none, inputs)
	if err != nil {
		return nil, fmt.Errorf("the manifest %s (run `make build` for the zips it names): %w", path, err)
	}
	for _, r := range records {
		a := r.Action
		a.Name = r.Packagename + "/" + a.Name
		out.Actions = append(out.Actions, a)
	}
	sort.Slice(out.Actions, func(i, j int) bool { return out.Actions[i].Name < out.Actions[j].Name })
	if out.Triggers, err = p.ComposeTriggersFromAllPackages(m, path, none, inputs); err != nil {
		return nil, fmt.Errorf("the manifest %s: %w", path, err)
	}
	if out.Rules, err = p.ComposeRulesFromAllPackages(m, none, inputs); err != nil {
		return nil, fmt.Errorf("the manifest %s: %w", path, err)
	}
	return out, nil
}

// set sets key in kv, replacing its value when present.
func set(kv *whisk.KeyValueArr, key string, value any) {
	for i := range *kv {
		if (*kv)[i].Key == key {
			(*kv)[i].Value = value
			return
		}
	}
	*kv = append(*kv, whisk.KeyValue{Key: key, Value: value})
}

// value is key's value in kv, nil when absent.
func value(kv whisk.KeyValueArr, key string) any {
	for _, e := range kv {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}

// stamp sets DigestAnnotation on an entity to the digest of the rest of
// it, and returns the digest. wskdeploy composes parameters and
// annotations from maps, in no order: they are sorted first, so that the
// same manifest makes the same digest.
func stamp(annotations *whisk.KeyValueArr, entity any, params ...*whisk.KeyValueArr) (string, error) {
	for _, kv := range append(params, annotations) {
		sort.SliceStable(*kv, func(i, j int) bool { return (*kv)[i].Key < (*kv)[j].Key })
	}
	kept := whisk.KeyValueArr{}
	for _, a := range *annotations {
		if a.Key != DigestAnnotation && a.Key != "" {
			kept = append(kept, a)
		}
	}
	*annotations = kept
	b, err := json.Marshal(entity)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	*annotations = append(kept, whisk.KeyValue{Key: DigestAnnotation, Value: d})
	return d, nil
}

// isNotFound says whether a call to the OpenWhisk API found nothing.
func isNotFound(resp *http.Response, err error) bool {
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return true
	}
	var werr *whisk.WskError
	return errors.As(err, &werr) && werr.ExitCode == http.StatusNotFound
}
