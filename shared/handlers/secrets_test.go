package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/types"
)

// secretValue is a build secret's value that must appear nowhere but in
// the build's Secret.
const secretValue = "machine 127.0.0.1 login osb password s3cr3t-value-7c1e"

func withSecrets(p params.Params, secrets map[string]any) params.Params {
	p["secrets"] = secrets
	return p
}

// loggedInvocation is invocation, with its log kept.
func loggedInvocation(t *testing.T, cs *fake.Clientset, p params.Params) (*action.Invocation, *bytes.Buffer) {
	t.Helper()
	cfg, err := config.FromParams(p)
	require.NoError(t, err)
	env := actiontest.Env(cs)
	env.Transport = sourceRegistry(t)
	var logged bytes.Buffer
	return action.NewInvocation(env, p, devel, cfg, log.New(&logged, "", 0)), &logged
}

// TestSendHandsBuildSecretsToTheInstallStepAlone: the values go to a
// Secret of the build's own, owned by its Job and immutable; the build
// step alone mounts it and hands each to BuildKit as a secret, which the
// Dockerfile mounts for the install step alone and names to the package
// manager in that step's shell. The value is nowhere else: not in the
// Job, the context, the index, the result or the action's log.
func TestSendHandsBuildSecretsToTheInstallStepAlone(t *testing.T) {
	cs := fake.NewClientset()
	inv, logged := loggedInvocation(t, cs, withSecrets(seedParams(), map[string]any{
		"netrc": base64.StdEncoding.EncodeToString([]byte(secretValue)),
	}))
	res, err := send(context.Background(), inv)
	require.NoError(t, err)
	sent := res.(types.Sent)
	ctx := context.Background()
	job, err := cs.BatchV1().Jobs(buildNS).Get(ctx, sent.JobName, metav1.GetOptions{})
	require.NoError(t, err)

	secret, err := cs.CoreV1().Secrets(buildNS).Get(ctx, sent.JobName+"-secrets", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"netrc": []byte(secretValue)}, secret.Data)
	assert.Equal(t, corev1.SecretTypeOpaque, secret.Type)
	assert.True(t, *secret.Immutable)
	require.Len(t, secret.OwnerReferences, 1)
	assert.Equal(t, job.UID, secret.OwnerReferences[0].UID, "it goes with the Job")
	assert.Equal(t, job.Labels, secret.Labels)

	for _, c := range append(append([]corev1.Container{}, job.Spec.Template.Spec.InitContainers...), job.Spec.Template.Spec.Containers...) {
		var mounted bool
		for _, m := range c.VolumeMounts {
			if m.Name == "build-secrets" {
				mounted = true
				assert.Equal(t, "/build-secrets", m.MountPath)
				assert.True(t, m.ReadOnly)
			}
		}
		assert.Equal(t, c.Name == names.StepBuild, mounted, "step %s", c.Name)
	}
	assert.Equal(t, []string{"id=netrc,src=/build-secrets/netrc"}, flagValues(step(t, job, names.StepBuild).Args, "--secret"))
	var vol *corev1.Volume
	for i, v := range job.Spec.Template.Spec.Volumes {
		if v.Name == "build-secrets" {
			vol = &job.Spec.Template.Spec.Volumes[i]
		}
	}
	require.NotNil(t, vol)
	assert.Equal(t, sent.JobName+"-secrets", vol.Secret.SecretName)

	cm, err := cs.CoreV1().ConfigMaps(buildNS).Get(ctx, sent.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data["Dockerfile"], "RUN --mount=type=bind,target=/builder-context --mount=type=secret,id=netrc,target=/run/secrets/netrc,required=true export NETRC=/run/secrets/netrc && export PIP_NO_INPUT=1 && cp ")
	assert.NotContains(t, cm.Data, "netrc", "no secret is part of the context")

	cms, err := cs.CoreV1().ConfigMaps(buildNS).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, text := range []string{toJSON(t, job), toJSON(t, cms), toJSON(t, res), logged.String()} {
		assert.NotContains(t, text, "s3cr3t")
		assert.NotContains(t, text, base64.StdEncoding.EncodeToString([]byte(secretValue)))
	}
}

// TestBuildSecretsAreRefusedWhenBad: a name the kind does not read, a
// kind that reads none, secrets with no file to install, values that are
// not base64, empty or too large, and a parameter that is no object: each
// a 400 that names the fix and never the value, with nothing created.
func TestBuildSecretsAreRefusedWhenBad(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name    string
		p       params.Params
		wantMsg string
	}{
		{"a name the kind does not read", withSecrets(seedParams(), map[string]any{"npmrc": b64(secretValue)}), `build secret "npmrc" is not one of kind python: use pip.conf, netrc`},
		{"the value pasted as a name", withSecrets(seedParams(), map[string]any{secretValue: b64("x")}), "a name that is not one"},
		{"a kind that reads none", withSecrets(params.Params{"source": seedSource, "target": "devel:rb", "kind": "ruby", "file": b64("gem 'x'\n")}, map[string]any{"netrc": b64(secretValue)}), "kind ruby takes no build secrets"},
		{"no file", withSecrets(params.Params{"source": seedSource, "target": "devel:py", "kind": "python"}, map[string]any{"netrc": b64(secretValue)}), "pass them with a requirements file"},
		{"not base64", withSecrets(seedParams(), map[string]any{"netrc": secretValue}), `build secret "netrc" is not valid base64`},
		{"empty", withSecrets(seedParams(), map[string]any{"netrc": ""}), `build secret "netrc" is empty`},
		{"too large", withSecrets(seedParams(), map[string]any{"netrc": b64(strings.Repeat("s3cr3t", buildspec.MaxSecretBytes/6+1))}), `build secret "netrc" exceeds 16384 bytes`},
		{"not an object", func() params.Params { p := seedParams(); p["secrets"] = []any{secretValue}; return p }(), "must be an object"},
		{"a value that is no string", withSecrets(seedParams(), map[string]any{"netrc": 7.0}), `the value of "netrc" must be a string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			inv, logged := loggedInvocation(t, cs, tc.p)
			_, err := send(context.Background(), inv)
			require.Error(t, err)
			assert.Equal(t, http.StatusBadRequest, apperr.Status(err))
			assert.Contains(t, err.Error(), tc.wantMsg)
			assert.NotContains(t, err.Error()+logged.String(), "s3cr3t")
			assert.Empty(t, created(cs), "nothing is created")
		})
	}
}

// TestSendLeavesNothingWhenTheSecretFails: a Secret the API server will
// not create takes the Job and the index entry back, and the error says
// what was being made, not what it held.
func TestSendLeavesNothingWhenTheSecretFails(t *testing.T) {
	cs := fake.NewClientset()
	collectGarbage(cs)
	cs.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is down")
	})
	inv, logged := loggedInvocation(t, cs, withSecrets(seedParams(), map[string]any{"pip.conf": base64.StdEncoding.EncodeToString([]byte(secretValue))}))
	_, err := send(context.Background(), inv)
	require.Error(t, err)
	assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
	assert.Contains(t, err.Error(), "creating the build's Secret of build secrets")
	assert.NotContains(t, err.Error()+logged.String(), "s3cr3t")
	jobs, err := cs.BatchV1().Jobs(buildNS).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, jobs.Items)
	cms, err := cs.CoreV1().ConfigMaps(buildNS).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, cms.Items, "neither the context nor the index entry is left")
}

// TestEnsureNamesTheSameImageWhateverTheSecrets: the same file from
// another token is the same image; the build ensure starts carries the
// secrets.
func TestEnsureNamesTheSameImageWhateverTheSecrets(t *testing.T) {
	_, plain, err := runEnsure(t, fake.NewClientset(), ensureParams("osbprobe==1.0\n"))
	require.NoError(t, err)
	cs := fake.NewClientset()
	_, secret, err := runEnsure(t, cs, withSecrets(ensureParams("osbprobe==1.0\n"), map[string]any{"netrc": base64.StdEncoding.EncodeToString([]byte(secretValue))}))
	require.NoError(t, err)
	assert.Equal(t, plain.Image, secret.Image)
	s, err := cs.CoreV1().Secrets(buildNS).Get(context.Background(), secret.JobName+"-secrets", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []byte(secretValue), s.Data["netrc"])
	assert.NotContains(t, toJSON(t, secret), "s3cr3t")
}
