package admin

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/apache/openserverless-builder/deploy"
)

// The files of deploy/, in the order they are applied: the namespaces and
// identities first, then what admits builds, then what limits them.
var files = []string{"rbac.yaml", "admission.yaml", "networkpolicy.yaml"}

// placeholder is a ${NAME} of a deploy/ file. Only these are filled: the
// CEL of admission.yaml holds other dollar signs ('...$').
var placeholder = regexp.MustCompile(`\$\{([A-Z_]+)\}`)

// Render returns the objects of deploy/ with their ${NAMES} filled from
// values. A name without a value is an error: an object half-filled
// would admit or refuse what nobody chose.
func Render(values map[string]string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := fs.ReadFile(deploy.Files, f)
		if err != nil {
			return nil, fmt.Errorf("reading deploy/%s: %w", f, err)
		}
		objs, err := renderFile(f, data, values)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func renderFile(name string, data []byte, values map[string]string) ([]*unstructured.Unstructured, error) {
	missing := map[string]bool{}
	filled := placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
		key := string(placeholder.FindSubmatch(m)[1])
		v, ok := values[key]
		if !ok {
			missing[key] = true
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		keys := make([]string, 0, len(missing))
		for k := range missing {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("deploy/%s: no value for %v", name, keys)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(filled), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("deploy/%s: %w", name, err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}
