//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/localstack"
	"github.com/apache/openserverless-builder/test/whiskfake"
)

// The seed's example commands (../shared/seed/DEPLOYER.md), verbatim.
const (
	seedSend         = "task builder:send SOURCE=apache/openserverless-runtime-python:v3.13-2506091954 TARGET=devel:python3.13-custom KIND=python REQUIREMENTS=$(base64 -i deploy/samples/requirements.txt)"
	seedListImages   = "task builder:list-images CATALOG=devel"
	seedDeleteImage  = "task builder:delete-image IMAGE=devel:alpine"
	seedLogs         = "task builder:logs"
	seedListCatalogs = "task builder:list-catalogs"
	seedUpdateToml   = "task builder:updatetoml"
)

// TestSeedTasks runs the seed's commands as an admin types them, with the
// real go-task on the repository's Taskfile.yml, the builder command and an
// OpenWhisk API serving the zips on the local stack. The seed's source is
// on Docker Hub, which the stack reaches through its mirror, as an
// air-gapped cluster does (registry_mirrors). Bad or missing variables
// stop a task before any call.
func TestSeedTasks(t *testing.T) {
	ctx := context.Background()
	task := localstack.DefaultTools().Task()
	_, err := os.Stat(task)
	require.NoError(t, err, "go-task is missing: run `make tools`")
	builder := builderCommand(t)

	api := whiskfake.New(filepath.Join(stack.root, "build"), bound(), map[string]string{"uuid-admin:key": "nuvolaris"})
	defer api.Close()
	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, ".wskprops"), []byte("APIHOST="+api.URL+"\nAUTH=uuid-admin:key\nNAMESPACE=nuvolaris\n"), 0o600))
	marker := filepath.Join(home, "pwned")
	run := func(command string) (int, string) {
		t.Helper()
		cmd := exec.Command("bash", "-c", command)
		cmd.Dir = stack.root
		cmd.Env = []string{"HOME=" + home, "PATH=" + filepath.Dir(builder) + ":" + filepath.Dir(task) + ":/usr/local/bin:/usr/bin:/bin"}
		return runCommand(t, cmd)
	}

	t.Run("task --list says what each task does", func(t *testing.T) {
		code, out := run("task --list")
		require.Equal(t, 0, code, out)
		for _, name := range []string{"send", "logs", "cleanjobs", "updatetoml", "list-catalogs", "list-images", "get-image", "delete-image", "builds", "cancel", "ensure", "builders"} {
			assert.Regexp(t, `(?m)^\* builder:`+name+`:\s+\S`, out, name)
		}
	})

	t.Run("bad variables stop before any call", func(t *testing.T) {
		for _, tt := range []struct{ command, names string }{
			{"task builder:send SOURCE=apache/openserverless-runtime-python:v3.13-2506091954 KIND=python", "TARGET"},
			{"task builder:send TARGET=devel:x KIND=python", "SOURCE"},
			{"task builder:send SOURCE=a:b TARGET=devel:x KIND=cobol", "KIND"},
			{"task builder:send SOURCE=a:b TARGET=devel KIND=python", "TARGET"},
			{"task builder:send SOURCE=a:b TARGET=devel:x KIND=python REQUIREMENTS='not base64!'", "REQUIREMENTS"},
			{"task builder:list-images", "CATALOG"},
			{"task builder:get-image", "IMAGE"},
			{"task builder:delete-image", "IMAGE"},
			{"task builder:cleanjobs MAX_AGE_HOURS=soon", "MAX_AGE_HOURS"},
			{"task builder:logs TAIL=many", "TAIL"},
			{"task builder:cancel", "ID"},
			{"task builder:ensure", "BUILDER"},
		} {
			code, out := run(tt.command)
			assert.NotEqual(t, 0, code, "%s: %s", tt.command, out)
			assert.Contains(t, out, tt.names, tt.command)
		}
		assert.Empty(t, api.Calls(), "no task reached the API")
	})

	t.Run("values never reach a shell", func(t *testing.T) {
		code, out := run("task builder:send 'SOURCE=$(touch " + marker + ")' 'TARGET=devel:x;touch " + marker + "' KIND=python")
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "not an image reference", "the action refused the source")
		assert.NoFileExists(t, marker)
	})

	// The seed deletes devel:alpine: it is there first.
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	require.NoError(t, stack.registry.Push("devel:alpine", img))

	code, out := run(seedUpdateToml)
	require.Equal(t, 0, code, out)
	cm, err := stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, names.BuildkitdConfigMap, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data["buildkitd.toml"], "mirrors = ['"+stack.mirror.Host+"']", "Docker Hub through the mirror")

	code, out = run(seedSend)
	require.Equal(t, 0, code, out)
	job := regexp.MustCompile(`build-nuvolaris-[0-9a-z]+`).FindString(out)
	require.NotEmpty(t, job, out)

	// The seed's logs shows the last build: poll it until the build ends.
	status := regexp.MustCompile(`(?m)^STATUS\s+(\S+)$`)
	deadline := time.Now().Add(4 * time.Minute)
	var st string
	for {
		code, out = run(seedLogs)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, job, "the last build is the seed's")
		m := status.FindStringSubmatch(out)
		require.NotNil(t, m, out)
		if st = m[1]; types.Done(st) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	require.Equal(t, types.Succeeded, st, out)
	// Built FROM it, or (#37) the image of an earlier build of the same
	// content, whose log says it is of that source.
	assert.Contains(t, out, "apache/openserverless-runtime-python:v3.13-2506091954", "built FROM the seed's source")

	code, out = run(seedListImages)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "python3.13-custom")
	assert.Contains(t, out, "alpine")

	code, out = run("task builder:get-image IMAGE=devel:python3.13-custom")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "sha256:")

	code, out = run(seedListCatalogs)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "devel")

	code, out = run(seedDeleteImage)
	require.Equal(t, 0, code, out)
	code, out = run("task builder:delete-image IMAGE=devel:python3.13-custom")
	require.Equal(t, 0, code, out)
	code, out = run(seedListImages)
	assert.NotContains(t, out, "python3.13-custom", "deleted: %d", code)
	assert.NotContains(t, out, "alpine", "deleted")

	code, out = run("task builder:cleanjobs MAX_AGE_HOURS=0")
	require.Equal(t, 0, code, out)
	_, err = stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, job, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "cleanjobs removed the finished build: %v", err)
}
