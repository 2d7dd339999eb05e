// Package actiontest runs an action's Func in tests over client-go's fake
// clientset, without the ActionLoop around it.
package actiontest

import (
	"bytes"
	"log"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/params"
)

// Env is an action.Env whose Kubernetes clients are cs's.
func Env(cs *fake.Clientset) *action.Env {
	return &action.Env{NewKube: func(config.Config) (*kube.Clients, error) {
		return &kube.Clients{Core: cs.CoreV1(), Batch: cs.BatchV1()}, nil
	}}
}

// Invocation is an invocation by caller with parameters p over cs.
func Invocation(t testing.TB, cs *fake.Clientset, caller identity.Caller, p params.Params) *action.Invocation {
	t.Helper()
	cfg, err := config.FromParams(p)
	require.NoError(t, err)
	return action.NewInvocation(Env(cs), p, caller, cfg, log.New(&bytes.Buffer{}, "", 0))
}
