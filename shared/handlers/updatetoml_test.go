package handlers

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildkitd"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/registry/registrytest"
	"github.com/apache/openserverless-builder/shared/types"
)

var admin = identity.Caller{Name: "nuvolaris", Admin: true}

func runUpdate(t *testing.T, cs *fake.Clientset, caller identity.Caller, p params.Params) (types.TOMLWritten, error) {
	t.Helper()
	res, err := updateTOML(context.Background(), actiontest.Invocation(t, cs, caller, p))
	if err != nil {
		return types.TOMLWritten{}, err
	}
	return res.(types.TOMLWritten), nil
}

func stored(t *testing.T, cs *fake.Clientset) string {
	cm, err := cs.CoreV1().ConfigMaps(buildNS).Get(context.Background(), names.BuildkitdConfigMap, metav1.GetOptions{})
	require.NoError(t, err)
	return cm.Data[buildkitd.Key]
}

func TestUpdate(t *testing.T) {
	cs := fake.NewClientset()
	res, err := runUpdate(t, cs, admin, params.Params{"registry_host": "reg.local:5000"})
	require.NoError(t, err)
	assert.Equal(t, true, res.Changed)
	assert.Equal(t, buildkitd.Default("reg.local:5000", true, nil), stored(t, cs))

	res, err = runUpdate(t, cs, admin, params.Params{"registry_host": "reg.local:5000"})
	require.NoError(t, err)
	assert.Equal(t, false, res.Changed, "the same TOML again changes nothing")

	custom := "debug = true\n[worker.oci]\n  max-parallelism = 2\n"
	res, err = runUpdate(t, cs, admin, params.Params{"toml": custom})
	require.NoError(t, err)
	assert.Equal(t, true, res.Changed)
	assert.Equal(t, custom, stored(t, cs))
}

func TestUpdateRejects(t *testing.T) {
	cs := fake.NewClientset()
	_, err := runUpdate(t, cs, admin, params.Params{"toml": "ok = true\n"})
	require.NoError(t, err)

	_, err = runUpdate(t, cs, admin, params.Params{"toml": "[registry\nhttp = yes"})
	require.Error(t, err)
	assert.Equal(t, http.StatusBadRequest, apperr.Status(err))
	assert.Contains(t, err.Error(), "line 1")
	assert.Equal(t, "ok = true\n", stored(t, cs), "invalid TOML leaves the ConfigMap untouched")

	_, err = runUpdate(t, cs, identity.Caller{Name: "devel", Web: true}, params.Params{"toml": "ok = false\n"})
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, apperr.Status(err))
	assert.Equal(t, "ok = true\n", stored(t, cs))
}

// TestUpdateMirrors: the default points Docker Hub at its mirror, and
// refuses a mirror that is the cluster registry, leaving the ConfigMap
// as it was.
func TestUpdateMirrors(t *testing.T) {
	cs := fake.NewClientset()
	_, err := runUpdate(t, cs, admin, params.Params{"registry_host": "reg.local:5000", "registry_mirrors": "docker.io=mirror.local:5001"})
	require.NoError(t, err)
	assert.Equal(t, buildkitd.Default("reg.local:5000", true, map[string]string{"index.docker.io": "mirror.local:5001"}), stored(t, cs))
	assert.Contains(t, stored(t, cs), "mirrors = ['mirror.local:5001']")

	// The registry Secret holds a credential for creds.local:5000 too: as
	// a mirror, BuildKit would present it there (send refuses it alike).
	_, err = cs.CoreV1().Secrets(buildNS).Create(context.Background(),
		registrytest.Secret("registry-pull-secret", buildNS, registrytest.DockerConfig("creds.local:5000", "u", "p")), metav1.CreateOptions{})
	require.NoError(t, err)
	for _, mirror := range []string{"reg.local:5000", "nuvolaris-registry-svc:5000", "alias.local:5000", "creds.local:5000"} {
		_, err = runUpdate(t, cs, admin, params.Params{"registry_host": "reg.local:5000", "registry_aliases": "alias.local:5000", "registry_mirrors": "docker.io=" + mirror})
		require.Error(t, err, mirror)
		assert.Equal(t, http.StatusInternalServerError, apperr.Status(err), "an operator's to mend, as from send")
		assert.Contains(t, err.Error(), "registry_mirrors")
		assert.Contains(t, stored(t, cs), "mirrors = ['mirror.local:5001']", "untouched")
	}
}
