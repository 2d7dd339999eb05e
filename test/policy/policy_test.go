// Package policy evaluates the CEL of deploy/admission.yaml with cel-go,
// as the API server does, over the Jobs the builder makes and the pods the
// Job controller makes of them, and over every case of test/policycases:
// a policy edit that admits one of them fails here in a second, before
// test/e2e proves the same on the real API server.
package policy

import (
	"cmp"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/test/policycases"
)

const (
	buildkitImage = "moby/buildkit:v0.34.2-rootless@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	transferImage = "ghcr.io/apache/openserverless-builder/transfer:v0.1.0@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	digest        = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// policy is one ValidatingAdmissionPolicy of deploy/admission.yaml, its
// expressions compiled.
type policy struct {
	variables   []compiled
	validations []validation
}

type compiled struct {
	name string
	prg  cel.Program
}

type validation struct {
	expr, message compiled
	text          string
}

// load reads deploy/admission.yaml with its parameters filled in as
// envsubst does, and compiles the policy named name.
func load(t *testing.T, name string, privileged bool) policy {
	t.Helper()
	return compilePolicy(t, readPolicy(t), name, privileged)
}

// readPolicy is deploy/admission.yaml as it is in the repository.
func readPolicy(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "admission.yaml"))
	require.NoError(t, err)
	return string(raw)
}

// compilePolicy compiles the policy named name of raw, the text of
// deploy/admission.yaml.
func compilePolicy(t *testing.T, raw, name string, privileged bool) policy {
	t.Helper()
	values := map[string]string{
		"BUILD_NAMESPACE": "nuvolaris-builds", "BUILDKIT_IMAGE": buildkitImage, "TRANSFER_IMAGE": transferImage,
		"REGISTRY_SECRET": "registry-pull-secret", "ALLOW_PRIVILEGED": "false",
	}
	if privileged {
		values["ALLOW_PRIVILEGED"] = "true"
	}
	text := os.Expand(raw, func(k string) string {
		v, ok := values[k]
		require.True(t, ok, "no value for %s", k)
		return v
	})
	env, err := cel.NewEnv(
		cel.Variable("object", cel.DynType), cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType), cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(ext.StringsVersion(2)),
	)
	require.NoError(t, err)
	compile := func(name, expr string) compiled {
		ast, iss := env.Compile(expr)
		require.NoError(t, iss.Err(), "%s: %s", name, expr)
		prg, err := env.Program(ast)
		require.NoError(t, err)
		return compiled{name, prg}
	}
	for _, doc := range strings.Split(text, "\n---\n") {
		var p admissionv1.ValidatingAdmissionPolicy
		require.NoError(t, yaml.Unmarshal([]byte(doc), &p))
		if p.Kind != "ValidatingAdmissionPolicy" || p.Name != name {
			continue
		}
		var out policy
		for _, v := range p.Spec.Variables {
			out.variables = append(out.variables, compile(v.Name, v.Expression))
		}
		for _, v := range p.Spec.Validations {
			val := validation{expr: compile("validation", v.Expression), text: v.Message}
			if v.MessageExpression != "" {
				val.message = compile("message", v.MessageExpression)
			}
			out.validations = append(out.validations, val)
		}
		return out
	}
	t.Fatalf("no policy %s", name)
	return policy{}
}

// refusals evaluates p over a request on obj (old for an UPDATE) and
// returns the message of each validation that refuses it; an expression
// that fails to evaluate refuses too, as failurePolicy Fail does.
func (p policy) refusals(t *testing.T, op string, obj, old map[string]any) []string {
	t.Helper()
	vars := map[string]ref.Val{}
	act := map[string]any{
		"object": obj, "oldObject": old, "variables": vars,
		"request": map[string]any{"operation": op, "userInfo": map[string]any{"username": "system:serviceaccount:nuvolaris:openserverless-builder"}},
	}
	if obj == nil {
		act["object"] = nil
	}
	if old == nil {
		act["oldObject"] = nil
	}
	for _, v := range p.variables {
		val, _, err := v.prg.Eval(act)
		require.NoError(t, err, "variable %s", v.name)
		vars[v.name] = val
	}
	var out []string
	for _, v := range p.validations {
		val, _, err := v.expr.prg.Eval(act)
		if err != nil {
			out = append(out, "error: "+err.Error())
			continue
		}
		if val.Value() == true {
			continue
		}
		msg := v.text
		if v.message.prg != nil {
			m, _, err := v.message.prg.Eval(act)
			require.NoError(t, err, "the message of a refusal")
			msg = m.Value().(string)
		}
		out = append(out, msg)
	}
	return out
}

// object is obj as the API server hands it to CEL: its JSON fields.
func object(t *testing.T, obj runtime.Object, kind, apiVersion string) map[string]any {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	require.NoError(t, err)
	u["kind"], u["apiVersion"] = kind, apiVersion
	return u
}

// podOf is the pod the Job controller makes of job, with what the API
// server's defaults and admission plugins add (service account,
// tolerations, priority, scheduler, DNS policy...).
func podOf(job *batchv1.Job) *corev1.Pod {
	tmpl := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
	pod.Name = job.Name + "-x7k2p"
	pod.Labels[names.LabelJobName] = job.Name
	pod.Labels["batch.kubernetes.io/controller-uid"] = "c0ffee"
	s := &pod.Spec
	grace := int64(30)
	preempt := corev1.PreemptLowerPriority
	priority := int32(0)
	if s.PreemptionPolicy == nil {
		s.PreemptionPolicy = &preempt
	}
	if s.Priority == nil {
		s.Priority = &priority
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = &grace
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = cmp.Or(s.DeprecatedServiceAccount, "default")
	}
	if s.DeprecatedServiceAccount == "" {
		s.DeprecatedServiceAccount = s.ServiceAccountName
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	wait := int64(300)
	for _, key := range []string{"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"} {
		s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &wait})
	}
	for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range list {
			c := &list[i]
			c.TerminationMessagePath = cmp.Or(c.TerminationMessagePath, "/dev/termination-log")
			c.TerminationMessagePolicy = cmp.Or(c.TerminationMessagePolicy, corev1.TerminationMessageReadFile)
			list[i].ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	return pod
}

// plans are the shapes the builder makes: with and without a file, a
// cache to import and export, provenance, plain HTTP, a privileged daemon.
func plans(t *testing.T, privileged bool) map[string]buildspec.Plan {
	t.Helper()
	conf := func(p params.Params) config.Config {
		p["buildkit_image"], p["transfer_image"] = buildkitImage, transferImage
		if privileged {
			p["buildkit_privileged"] = true
		}
		c, err := config.FromParams(p)
		require.NoError(t, err)
		return c
	}
	python, _ := kinds.Lookup("python")
	file := []byte("requests==2.32.3\n")
	src := buildspec.Base{Digest: digest, Fetch: "registry.example.com:5000/runtimes/python@" + digest, Credential: true}
	req := func(file []byte) buildspec.Request {
		return buildspec.Request{Source: "registry.example.com:5000/runtimes/python:3.13", Repo: "devel", Tag: "py-custom", Kind: python, File: file}
	}
	cached := buildspec.NewPlan(req(file), "devel", "0123456789", "nuvolaris-registry-svc:5000", src, conf(params.Params{"registry_insecure": true}))
	cached.CacheDigest = digest
	// The cases' base carries build secrets: their volume and mount are
	// the ones an attacker would change.
	cached.Secrets = map[string][]byte{"netrc": []byte("machine 127.0.0.1 login a password b")}
	public := buildspec.Base{Digest: digest, Fetch: "index.docker.io/apache/openserverless-runtime-python@" + digest}
	// A plan whose fetch step pulls the source as given, tag and digest.
	asGiven := buildspec.NewPlan(req(file), "devel", "0123456789", "nuvolaris-registry-svc:5000", buildspec.Base{Digest: digest}, conf(params.Params{}))
	out := map[string]buildspec.Plan{
		"the source as given":       asGiven,
		"a file, a cache to import": cached,
		"no file": buildspec.NewPlan(req(nil), "devel", "0123456789", "nuvolaris-registry-svc:5000", src,
			conf(params.Params{"build_cache": false, "provenance": false})),
		"a public source": buildspec.NewPlan(buildspec.Request{Source: "apache/openserverless-runtime-python:v3.13-2506091954", Repo: "a.b/c_d", Tag: "v1.0-x", Kind: python, File: file},
			"a.b", "fedcba9876", "registry.example.com", public, conf(params.Params{})),
	}
	return out
}

// TestPolicyAdmitsTheBuildersJobs: every shape of Job the builder makes,
// and the pod the Job controller makes of it, pass; so do its resumption
// and the updates of an unchanged pod (a finalizer removed, a node bound).
func TestPolicyAdmitsTheBuildersJobs(t *testing.T) {
	for _, privileged := range []bool{false, true} {
		p := load(t, "openserverless-builder-jobs", privileged)
		for what, plan := range plans(t, privileged) {
			job := plan.Job()
			jobObj := object(t, job, "Job", "batch/v1")
			assert.Empty(t, p.refusals(t, "CREATE", jobObj, nil), "%s (privileged %v): the Job", what, privileged)
			resumed := job.DeepCopy()
			resumed.Spec.Suspend = new(bool)
			assert.Empty(t, p.refusals(t, "UPDATE", object(t, resumed, "Job", "batch/v1"), jobObj), "%s: resumed", what)

			pod := podOf(job)
			podObj := object(t, pod, "Pod", "v1")
			assert.Empty(t, p.refusals(t, "CREATE", podObj, nil), "%s (privileged %v): its pod", what, privileged)
			bound := pod.DeepCopy()
			bound.Spec.NodeName, bound.Finalizers = "node-1", nil
			assert.Empty(t, p.refusals(t, "UPDATE", object(t, bound, "Pod", "v1"), object(t, bound, "Pod", "v1")), "%s: a finalizer removed", what)
		}
	}
}

// TestPolicyRefusesEachCase: every case of test/policycases is refused,
// in the Job and in the pod made of it, by a message that names it.
func TestPolicyRefusesEachCase(t *testing.T) {
	policies := map[bool]policy{false: load(t, "openserverless-builder-jobs", false), true: load(t, "openserverless-builder-jobs", true)}
	for _, c := range policycases.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			p, plan := policies[c.Privileged], plans(t, c.Privileged)["a file, a cache to import"]
			job := plan.Job()
			c.Edit(job)
			got := p.refusals(t, "CREATE", object(t, job, "Job", "batch/v1"), nil)
			require.NotEmpty(t, got, "the Job is refused")
			assert.Contains(t, strings.Join(got, "\n"), c.Says)
			if !reflect.DeepEqual(job.Spec.Template, plan.Job().Spec.Template) {
				// A change to what runs is refused in the pod too.
				assert.NotEmpty(t, p.refusals(t, "CREATE", object(t, podOf(job), "Pod", "v1"), nil), "its pod is refused")
			}
		})
	}
}

// TestPolicyRefusesChangesToPods: an ephemeral container added to a build
// pod, or a pod whose spec changes, is refused; so is a Job's template
// changed while it waits.
func TestPolicyRefusesChangesToPods(t *testing.T) {
	p := load(t, "openserverless-builder-jobs", false)
	job := plans(t, false)["no file"].Job()
	pod := podOf(job)
	old := object(t, pod, "Pod", "v1")

	debug := pod.DeepCopy()
	debug.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debug", Image: buildkitImage, Command: []string{"sh"}}}}
	assert.Contains(t, strings.Join(p.refusals(t, "UPDATE", object(t, debug, "Pod", "v1"), old), "\n"), "ephemeral")

	resized := pod.DeepCopy()
	resized.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resized.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
	resized.Spec.Containers[0].Image = "busybox:1"
	assert.NotEmpty(t, p.refusals(t, "UPDATE", object(t, resized, "Pod", "v1"), old), "another image in a running pod")

	retemplated := job.DeepCopy()
	retemplated.Spec.Template.Spec.NodeSelector = map[string]string{"node-role.kubernetes.io/control-plane": ""}
	assert.Contains(t, strings.Join(p.refusals(t, "UPDATE", object(t, retemplated, "Job", "batch/v1"), object(t, job, "Job", "batch/v1")), "\n"), "nodeSelector")
}

// checkedElsewhere are the fields TestPolicyNamesEveryField leaves out,
// by type: each is checked by the policy as a whole (a step by its role,
// its volumes by name) or is the Job's own, which the API server sets.
var checkedElsewhere = map[string][]string{
	"JobSpec":     {"template", "selector", "suspend", "podReplacementPolicy", "managedBy"},
	"Container":   {"name", "image", "env", "envFrom", "command", "args", "resources", "securityContext", "volumeMounts", "imagePullPolicy"},
	"PodSpec":     {"volumes", "initContainers", "containers"},
	"VolumeMount": {"name", "mountPath", "readOnly"},
}

// TestPolicyNamesEveryField: each field of the Pod and Job APIs that a
// build could set is named by the policy, allowed with its value or
// refused: a field a newer Kubernetes adds fails here until the policy
// decides on it.
func TestPolicyNamesEveryField(t *testing.T) {
	text := readPolicy(t)
	for _, typ := range []any{corev1.PodSpec{}, corev1.Container{}, corev1.SecurityContext{}, corev1.PodSecurityContext{}, batchv1.JobSpec{}, corev1.VolumeMount{}} {
		rt := reflect.TypeOf(typ)
		for i := range rt.NumField() {
			field, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if field == "" || field == "-" || slices.Contains(checkedElsewhere[rt.Name()], field) {
				continue
			}
			assert.Contains(t, text, "."+field+")", "%s.%s is neither allowed nor refused by deploy/admission.yaml", rt.Name(), field)
		}
	}
}

// clauses are the edits that each take one clause out of the Jobs
// policy: a Job or pod field no longer named (its list entry made
// empty), or one condition on a step, a mount or a volume made true.
var clauses = []*regexp.Regexp{
	regexp.MustCompile(`\? '[A-Za-z]+' : ''`),
	regexp.MustCompile(`!has\([a-z]\.[A-Za-z.]+\)`),
}

// TestEveryClauseHasACase: taking any one clause out of the Jobs policy
// admits at least one case of test/policycases, or stops its refusal
// from naming what it refused: no clause goes untested.
func TestEveryClauseHasACase(t *testing.T) {
	raw := readPolicy(t)
	cases := policycases.Cases()
	jobs := make([]map[string]any, len(cases))
	for i, c := range cases {
		job := plans(t, c.Privileged)["a file, a cache to import"].Job()
		c.Edit(job)
		jobs[i] = object(t, job, "Job", "batch/v1")
	}
	start := strings.Index(raw, "name: openserverless-builder-jobs")
	end := start + strings.Index(raw[start:], "\n---\n")
	require.Positive(t, start)
	mutants := 0
	for _, re := range clauses {
		for _, loc := range re.FindAllStringIndex(raw[start:end], -1) {
			at, to := start+loc[0], start+loc[1]
			clause := raw[at:to]
			mutant := raw[:at] + strings.Replace(clause, clause, map[bool]string{true: "? '' : ''", false: "true"}[clause[0] == '?'], 1) + raw[to:]
			p := map[bool]policy{
				false: compilePolicy(t, mutant, "openserverless-builder-jobs", false),
				true:  compilePolicy(t, mutant, "openserverless-builder-jobs", true),
			}
			caught := false
			for i, c := range cases {
				if !strings.Contains(strings.Join(p[c.Privileged].refusals(t, "CREATE", jobs[i], nil), "\n"), c.Says) {
					caught = true
					break
				}
			}
			line := strings.Count(raw[:at], "\n") + 1
			assert.True(t, caught, "deploy/admission.yaml:%d: without %s, every case is still refused: add one to test/policycases", line, clause)
			mutants++
		}
	}
	assert.Greater(t, mutants, 80, "the clauses were found")
}
