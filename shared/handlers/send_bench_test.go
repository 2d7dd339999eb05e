package handlers

import (
	"bytes"
	"context"
	"log"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/action/actiontest"
	"github.com/apache/openserverless-builder/shared/actionloop"
	"github.com/apache/openserverless-builder/shared/web"
)

// BenchmarkSendFake is send from activation to result, through the action
// glue (identity, configuration, validation, the source resolved against
// an in-process registry), against the fake clientset: the builder's own
// cost, without a remote network. Creates are answered by a
// reactor: the fake's field-managed tracker rebuilds a REST mapper on every
// create, which would measure the fake, not the builder.
func BenchmarkSendFake(b *testing.B) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject()
		obj.(metav1.Object).SetUID(types.UID("uid"))
		return true, obj, nil
	})
	// The resume of the admitted build, likewise.
	cs.PrependReactor("patch", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: a.(k8stesting.PatchAction).GetName()}}, nil
	})
	env := actiontest.Env(cs)
	env.Transport = sourceRegistry(b)
	h := env.Handler(Send)
	value := map[string]any(seedParams())
	value["__ow_method"], value["__ow_user"], value["registry_host"] = "post", "devel", "registry.local:5000"
	// The reactor stores nothing, so the per-user limit, which lists what
	// was created, is off here; the benchmarks on the API server keep it.
	value["max_active_builds"] = 0
	act := actionloop.Activation{
		Value:  value,
		Fields: map[string]string{"namespace": "nuvolaris", "action_name": "/nuvolaris/builder/send"},
		Log:    log.New(&bytes.Buffer{}, "", 0),
	}
	b.ReportAllocs()
	for b.Loop() {
		res := h(context.Background(), act)
		if r := res.(web.Response); r.StatusCode != 200 {
			b.Fatal(r.Body)
		}
	}
}
