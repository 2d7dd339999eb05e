package build

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/params"
)

const seedSource = "apache/openserverless-runtime-python:v3.13-2506091954"

var requirements = base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nsetuptools\n"))

func seedParams() params.Params {
	return params.Params{"source": seedSource, "target": "devel:python3.13-custom", "kind": "python", "file": requirements}
}

var invocation = actiontest.Invocation

func TestSendCreatesJobAndOwnedConfigMap(t *testing.T) {
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "config", Namespace: "nuvolaris", Annotations: map[string]string{"registry_host": "registry.local:5000"},
	}})
	res, err := send(context.Background(), invocation(t, cs, devel, seedParams()))
	require.NoError(t, err)
	sent := res.(Sent)
	assert.Equal(t, "registry.local:5000/devel:python3.13-custom", sent.Image)
	assert.Equal(t, "build-devel-"+sent.ID, sent.JobName)

	job, err := cs.BatchV1().Jobs("nuvolaris").Get(context.Background(), sent.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{LabelManagedBy: ManagedBy, LabelUser: "devel", LabelBuildID: sent.ID}, job.Labels)
	assert.Equal(t, "devel:python3.13-custom", job.Annotations[AnnotationTarget])
	assert.Equal(t, seedSource, job.Annotations[AnnotationSource])
	assert.Equal(t, "python", job.Annotations[AnnotationKind])
	assert.Equal(t, int32(0), *job.Spec.BackoffLimit)
	assert.Equal(t, int64(1800), *job.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, int32(TTLAfterFinished/time.Second), *job.Spec.TTLSecondsAfterFinished)

	pod := job.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, config.DefaultBuildkitImage, c.Image)
	assert.Equal(t, []string{"buildctl-daemonless.sh"}, c.Command)
	assert.Contains(t, c.Args, "type=image,name=registry.local:5000/devel:python3.13-custom,push=true,registry.insecure=true")
	assert.Nil(t, c.SecurityContext.Privileged, "rootless by default")
	assert.Equal(t, int64(1000), *c.SecurityContext.RunAsUser)
	assert.False(t, c.Resources.Limits.Memory().IsZero())
	assert.False(t, c.Resources.Requests.Cpu().IsZero())
	for _, a := range append(c.Command, c.Args...) {
		assert.NotContains(t, a, "sleep")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	assert.Equal(t, "registry-pull-secret", volumes["docker-config"].Secret.SecretName)
	assert.Equal(t, BuildkitdConfigMap, volumes["buildkitd-config"].ConfigMap.Name)
	assert.Equal(t, sent.JobName, volumes["workspace"].ConfigMap.Name)

	cm, err := cs.CoreV1().ConfigMaps("nuvolaris").Get(context.Background(), sent.JobName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "beautifulsoup4\nsetuptools\n", cm.Data["requirements.txt"])
	assert.Contains(t, cm.Data["Dockerfile"], "FROM "+seedSource+"\n")
	require.Len(t, cm.OwnerReferences, 1)
	assert.Equal(t, "Job", cm.OwnerReferences[0].Kind)
	assert.Equal(t, sent.JobName, cm.OwnerReferences[0].Name)
	assert.Equal(t, job.UID, cm.OwnerReferences[0].UID)
	assert.Equal(t, job.Labels, cm.Labels)
	assert.Equal(t, job.Annotations, cm.Annotations, "the ConfigMap names the same build, image included")
	assert.Equal(t, sent.Image, cm.Annotations[AnnotationImage])
}

func TestSendOptions(t *testing.T) {
	cs := fake.NewClientset()
	p := seedParams()
	p["registry_host"] = "ext.registry:443"
	p["registry_insecure"] = false
	p["buildkit_privileged"] = true
	p["build_timeout_seconds"] = "600"
	res, err := send(context.Background(), invocation(t, cs, identity.Caller{Name: "nuvolaris", Admin: true}, p))
	require.NoError(t, err)
	job, err := cs.BatchV1().Jobs("nuvolaris").Get(context.Background(), res.(Sent).JobName, metav1.GetOptions{})
	require.NoError(t, err)
	c := job.Spec.Template.Spec.Containers[0]
	assert.Contains(t, c.Args, "type=image,name=ext.registry:443/devel:python3.13-custom,push=true")
	assert.True(t, *c.SecurityContext.Privileged)
	assert.Equal(t, int64(600), *job.Spec.ActiveDeadlineSeconds)
}

func TestSendRejectsBadInputBeforeTouchingTheCluster(t *testing.T) {
	with := func(k string, v any) params.Params {
		p := seedParams()
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	tests := []struct {
		name   string
		p      params.Params
		status int
	}{
		{"no source", with("source", nil), 400},
		{"source with newline", with("source", "busybox\nRUN id"), 400},
		{"no target", with("target", nil), 400},
		{"target without tag", with("target", "devel"), 400},
		{"target not ours", with("target", "other:v1"), 403},
		{"bad tag", with("target", "devel:-x"), 400},
		{"no kind", with("kind", nil), 400},
		{"unknown kind", with("kind", "cobol"), 400},
		{"file not base64", with("file", "%%%"), 400},
		{"file binary", with("file", base64.StdEncoding.EncodeToString([]byte{0xff, 0})), 400},
		{"file too large", with("file", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", MaxContextBytes-10)))), 413},
		{"source an object", with("source", map[string]any{}), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			_, err := send(context.Background(), invocation(t, cs, devel, tt.p))
			require.Error(t, err)
			assert.Equal(t, tt.status, apperr.Status(err), "%v", err)
			assert.Empty(t, cs.Actions(), "nothing may reach the cluster")
		})
	}
}

func TestSendLeavesNothingWhenConfigMapFails(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is down")
	})
	_, err := send(context.Background(), invocation(t, cs, devel, seedParams()))
	require.Error(t, err)
	assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
	jobs, _ := cs.BatchV1().Jobs("nuvolaris").List(context.Background(), metav1.ListOptions{})
	assert.Empty(t, jobs.Items, "the Job goes when its ConfigMap cannot be made")
	var deleted bool
	for _, a := range cs.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "jobs" {
			deleted = true
			assert.Equal(t, metav1.DeletePropagationBackground, *d.GetDeleteOptions().PropagationPolicy)
		}
	}
	assert.True(t, deleted)
}

func TestSendJobFailureCreatesNothing(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "jobs", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("forbidden")
	})
	_, err := send(context.Background(), invocation(t, cs, devel, seedParams()))
	require.Error(t, err)
	assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
	cms, _ := cs.CoreV1().ConfigMaps("nuvolaris").List(context.Background(), metav1.ListOptions{})
	assert.Empty(t, cms.Items)
}
