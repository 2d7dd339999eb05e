// Package policycases holds the Jobs that deploy/admission.yaml must
// refuse: each the builder's own Job with one thing changed, as an
// attacker holding the builder's rights would change it. The policy's CEL
// test (test/policy) and the real API server's (test/e2e) run the same
// cases, so a policy edit that admits one fails fast and on the server.
package policycases

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/names"
)

// Case is one change to a build Job that the policy refuses.
type Case struct {
	Name string
	Edit func(*batchv1.Job)
	// Says is what the refusal names: the field, or the step or volume
	// after "refused: ".
	Says string
	// Server is why the real API server cannot show the policy's refusal
	// ("" when it can): its own validation refuses the Job first, or it
	// drops the field while its feature gate is off. test/e2e then checks
	// that the Job is refused or the change dropped; the policy must
	// still refuse it for when the API allows it.
	Server string
	// Privileged: the case is made on the Job of a privileged daemon
	// (buildkit_privileged), against the policy that allows one.
	Privileged bool
}

// Cases are the refusals, one per clause of the policy.
func Cases() []Case {
	pod := func(f func(*corev1.PodSpec)) func(*batchv1.Job) {
		return func(j *batchv1.Job) { f(&j.Spec.Template.Spec) }
	}
	step := func(name string, f func(*corev1.Container)) func(*batchv1.Job) {
		return pod(func(s *corev1.PodSpec) { f(Step(s, name)) })
	}
	sc := func(name string, f func(*corev1.SecurityContext)) func(*batchv1.Job) {
		return step(name, func(c *corev1.Container) { f(c.SecurityContext) })
	}
	// volume replaces the source of the pod's volume name.
	volume := func(name string, src corev1.VolumeSource) func(*batchv1.Job) {
		return pod(func(s *corev1.PodSpec) {
			for i := range s.Volumes {
				if s.Volumes[i].Name == name {
					s.Volumes[i].VolumeSource = src
				}
			}
		})
	}
	yes, no := true, false
	const (
		validation = "the API's own validation refuses it"
		gated      = "the API drops the field unless its feature gate is on"
	)
	// mount replaces the first mount of step name with f's edit of it.
	mount := func(name string, f func(*corev1.VolumeMount)) func(*batchv1.Job) {
		return step(name, func(c *corev1.Container) { f(&c.VolumeMounts[0]) })
	}
	return []Case{
		// The Job.
		{"parallelism 500", func(j *batchv1.Job) { j.Spec.Parallelism = ptr(int32(500)) }, "parallelism", "", false},
		{"completions 500", func(j *batchv1.Job) { j.Spec.Completions = ptr(int32(500)) }, "completions", "", false},
		{"retries", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr(int32(6)) }, "backoffLimit", "", false},
		{"no deadline", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = nil }, "activeDeadlineSeconds", "", false},
		{"a deadline past 24 hours", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr(int64(86401)) }, "activeDeadlineSeconds", "", false},
		{"no TTL", func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = nil }, "ttlSecondsAfterFinished", "", false},
		{"indexed", func(j *batchv1.Job) { m := batchv1.IndexedCompletion; j.Spec.CompletionMode = &m }, "completionMode", "", false},
		{"a pod failure policy", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}}}
		}, "podFailurePolicy", "", false},
		{"no managed-by label", func(j *batchv1.Job) { delete(j.Spec.Template.Labels, names.LabelManagedBy) }, "app.kubernetes.io/managed-by", "", false},
		{"a selector of its own", func(j *batchv1.Job) {
			j.Spec.ManualSelector = &yes
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{names.LabelBuildID: j.Labels[names.LabelBuildID]}}
		}, "manualSelector", "", false},
		{"a success policy", func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr(int32(1))}}}
		}, "successPolicy", validation, false},
		{"a backoff per index", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr(int32(3)) }, "backoffLimitPerIndex", validation, false},
		{"failed indexes", func(j *batchv1.Job) { j.Spec.MaxFailedIndexes = ptr(int32(3)) }, "maxFailedIndexes", validation, false},
		{"gang scheduling", func(j *batchv1.Job) { j.Spec.Scheduling = &batchv1.JobSchedulingConfiguration{} }, "scheduling", gated, false},

		// The pod.
		{"a node", pod(func(s *corev1.PodSpec) { s.NodeName = "control-plane" }), "nodeName", "", false},
		{"a node selector", pod(func(s *corev1.PodSpec) {
			s.NodeSelector = map[string]string{"node-role.kubernetes.io/control-plane": ""}
		}), "nodeSelector", "", false},
		{"every toleration", pod(func(s *corev1.PodSpec) { s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}} }), "tolerations", "", false},
		{"node-critical priority", pod(func(s *corev1.PodSpec) { s.PriorityClassName = "system-node-critical" }), "priorityClassName", "", false},
		{"a runtime class", pod(func(s *corev1.PodSpec) { s.RuntimeClassName = ptr("unconfined") }), "runtimeClassName", "", false},
		{"the host's users", pod(func(s *corev1.PodSpec) { s.HostUsers = &yes }), "hostUsers", "", false},
		{"sysctls", pod(func(s *corev1.PodSpec) {
			s.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}}}
		}), "securityContext", "", false},
		{"a pod user", pod(func(s *corev1.PodSpec) { s.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr(int64(0))} }), "securityContext", "", false},
		{"another service account", pod(func(s *corev1.PodSpec) { s.ServiceAccountName = "openserverless-builder" }), "serviceAccountName", "", false},
		{"a token", pod(func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = nil }), "automountServiceAccountToken", "", false},
		{"host aliases", pod(func(s *corev1.PodSpec) {
			s.HostAliases = []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"registry"}}}
		}), "hostAliases", "", false},
		{"the host's network", pod(func(s *corev1.PodSpec) { s.HostNetwork = true }), "hostNetwork", "", false},
		{"the host's processes", pod(func(s *corev1.PodSpec) { s.HostPID = true }), "hostPID", "", false},
		{"the host's IPC", pod(func(s *corev1.PodSpec) { s.HostIPC = true }), "hostIPC", "", false},
		{"a shared process namespace", pod(func(s *corev1.PodSpec) { s.ShareProcessNamespace = &yes }), "shareProcessNamespace", "", false},
		{"service links", pod(func(s *corev1.PodSpec) { s.EnableServiceLinks = &yes }), "enableServiceLinks", "", false},
		{"pull secrets", pod(func(s *corev1.PodSpec) {
			s.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry-pull-secret"}}
		}), "imagePullSecrets", "", false},
		{"affinity", pod(func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"cp"}}}}}}}}
		}), "affinity", "", false},
		{"a DNS of its own", pod(func(s *corev1.PodSpec) {
			s.DNSPolicy = corev1.DNSNone
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"127.0.0.1"}}
		}), "dnsPolicy", "", false},
		{"a restart policy", pod(func(s *corev1.PodSpec) { s.RestartPolicy = corev1.RestartPolicyOnFailure }), "restartPolicy", "", false},
		{"a long grace period", pod(func(s *corev1.PodSpec) { s.TerminationGracePeriodSeconds = ptr(int64(86400)) }), "terminationGracePeriodSeconds", "", false},
		{"a scheduler of its own", pod(func(s *corev1.PodSpec) { s.SchedulerName = "attacker-scheduler" }), "schedulerName", "", false},
		{"another service account, the old way", pod(func(s *corev1.PodSpec) { s.DeprecatedServiceAccount = "openserverless-builder" }), "serviceAccount", "", false},
		{"a priority", pod(func(s *corev1.PodSpec) { s.Priority = ptr(int32(1000000000)) }), "priority", "", false},
		{"another preemption policy", pod(func(s *corev1.PodSpec) { s.PreemptionPolicy = ptr(corev1.PreemptionPolicy("Always")) }), "preemptionPolicy", validation, false},
		{"a toleration with a value", pod(func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, Value: "x"}}
		}), "tolerations", validation, false},
		{"a pod deadline", pod(func(s *corev1.PodSpec) { s.ActiveDeadlineSeconds = ptr(int64(86400)) }), "activeDeadlineSeconds", "", false},
		{"a host name", pod(func(s *corev1.PodSpec) { s.Hostname = "registry" }), "hostname", "", false},
		{"a subdomain", pod(func(s *corev1.PodSpec) { s.Subdomain = "registry" }), "subdomain", "", false},
		{"a DNS config", pod(func(s *corev1.PodSpec) { s.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"attacker.example"}} }), "dnsConfig", "", false},
		{"a readiness gate", pod(func(s *corev1.PodSpec) {
			s.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/ready"}}
		}), "readinessGates", "", false},
		{"an overhead", pod(func(s *corev1.PodSpec) {
			s.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}), "overhead", "", false},
		{"a spread", pod(func(s *corev1.PodSpec) {
			s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}}}
		}), "topologySpreadConstraints", "", false},
		{"a host name as FQDN", pod(func(s *corev1.PodSpec) { s.SetHostnameAsFQDN = &yes }), "setHostnameAsFQDN", "", false},
		{"an OS", pod(func(s *corev1.PodSpec) { s.OS = &corev1.PodOS{Name: corev1.Linux} }), "os", "", false},
		{"a scheduling gate", pod(func(s *corev1.PodSpec) {
			s.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}}
		}), "schedulingGates", "", false},
		{"a resource claim", pod(func(s *corev1.PodSpec) {
			s.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: ptr("gpu")}}
		}), "resourceClaims", "", false},
		{"pod resources", pod(func(s *corev1.PodSpec) {
			s.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi")}}
		}), "resources", "", false},
		{"a host name override", pod(func(s *corev1.PodSpec) { s.HostnameOverride = ptr("registry") }), "hostnameOverride", gated, false},
		{"a scheduling group", pod(func(s *corev1.PodSpec) {
			s.SchedulingGroup = &corev1.PodSchedulingGroup{PodGroupName: ptr("group")}
		}), "schedulingGroup", gated, false},
		{"an eviction responder", pod(func(s *corev1.PodSpec) {
			s.EvictionResponders = []corev1.EvictionResponder{{Name: "example.com/responder"}}
		}), "evictionResponders", gated, false},

		// The steps.
		{"the BuildKit image running a shell", step(names.StepBuild, func(c *corev1.Container) { c.Command, c.Args = []string{"sh", "-c"}, []string{"id"} }), "refused: build", "", false},
		{"buildkitd with other flags", step(names.StepDaemon, func(c *corev1.Container) { c.Args = append(c.Args, "--debug") }), "refused: buildkitd", "", false},
		{"buildctl with another output", step(names.StepBuild, func(c *corev1.Container) {
			for i, a := range c.Args {
				if a == "--output" {
					c.Args[i+1] = "type=image,name=registry:5000/victim:latest,push=true"
				}
			}
		}), "refused: build", "", false},
		{"transfer with another command", step(names.StepPush, func(c *corev1.Container) { c.Args = []string{"auth", "get", "registry:5000"} }), "refused: push", "", false},
		{"transfer delete", step(names.StepPush, func(c *corev1.Container) { c.Args = []string{"delete", "registry:5000/victim@sha256:" + hex64} }), "refused: push", "", false},
		{"transfer fetch of a tag", step(names.StepFetch, func(c *corev1.Container) {
			c.Args[len(c.Args)-1] = "registry:5000/victim:v1"
		}), "refused: fetch", "", false},
		{"transfer fetch into another layout", step(names.StepFetch, func(c *corev1.Container) {
			c.Args = []string{"fetch", "--layout", "/registry-auth", "registry:5000/victim@sha256:" + hex64}
		}), "refused: fetch", "", false},
		{"transfer push from elsewhere", step(names.StepPush, func(c *corev1.Container) { c.Args[len(c.Args)-2] = "/registry-auth" }), "refused: push", "", false},
		{"transfer push of the image elsewhere", step(names.StepPush, func(c *corev1.Container) { c.Args[len(c.Args)-1] = "registry:5000/victim:latest" }), "refused: push", "", false},
		{"transfer with a flag for a reference", step(names.StepPush, func(c *corev1.Container) { c.Args[len(c.Args)-1] = "--verbose" }), "refused: push", "", false},
		{"transfer mounting a path", step(names.StepPush, func(c *corev1.Container) {
			c.Args = append(c.Args[:4:4], append([]string{"--mount", "/registry-auth"}, c.Args[4:]...)...)
		}), "refused: push", "", false},
		{"transfer mounting three origins", step(names.StepPush, func(c *corev1.Container) {
			var m []string
			for range 3 {
				m = append(m, "--mount", "registry:5000/victim@sha256:"+hex64)
			}
			c.Args = append(c.Args[:4:4], append(m, c.Args[4:]...)...)
		}), "refused: push", "", false},
		{"transfer running a shell", step(names.StepPush, func(c *corev1.Container) {
			c.Command, c.Args = []string{"sh", "-c"}, []string{"cat /registry-auth/config.json"}
		}), "refused: push", "", false},
		{"the BuildKit image by tag", step(names.StepBuild, func(c *corev1.Container) { c.Image = config.DefaultBuildkitImage }), "refused: build", "", false},
		{"the transfer image by tag", step(names.StepPush, func(c *corev1.Container) { c.Image = config.DefaultTransferImage }), "refused: push", "", false},
		{"another image", step(names.StepPush, func(c *corev1.Container) { c.Image = "busybox:1" }), "refused: push", "", false},
		{"the BuildKit image in a transfer step", pod(func(s *corev1.PodSpec) { Step(s, names.StepFetch).Image = Step(s, names.StepBuild).Image }), "refused: fetch", "", false},
		{"another step", pod(func(s *corev1.PodSpec) {
			extra := *Step(s, names.StepPush)
			extra.Name = "loot"
			s.Containers = append(s.Containers, extra)
		}), "nothing else", "", false},
		{"root", sc(names.StepBuild, func(x *corev1.SecurityContext) { x.RunAsUser, x.RunAsNonRoot = ptr(int64(0)), nil }), "refused: build", "", false},
		{"capabilities", sc(names.StepDaemon, func(x *corev1.SecurityContext) {
			x.Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "SYS_MODULE", "NET_ADMIN", "SYS_PTRACE"}}
		}), "refused: buildkitd", "", false},
		{"a capability in a transfer step", sc(names.StepPush, func(x *corev1.SecurityContext) { x.Capabilities.Add = []corev1.Capability{"NET_RAW"} }), "refused: push", "", false},
		{"an unmasked /proc", func(j *batchv1.Job) {
			m := corev1.UnmaskedProcMount
			Step(&j.Spec.Template.Spec, names.StepDaemon).SecurityContext.ProcMount = &m
			j.Spec.Template.Spec.HostUsers = new(bool) // the API demands it beside Unmasked
		}, "hostUsers", "", false},
		{"no seccomp", sc(names.StepBuild, func(x *corev1.SecurityContext) { x.SeccompProfile.Type = corev1.SeccompProfileTypeUnconfined }), "refused: build", "", false},
		{"no AppArmor", sc(names.StepPush, func(x *corev1.SecurityContext) {
			x.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
		}), "refused: push", "", false},
		{"escalation", sc(names.StepFetch, func(x *corev1.SecurityContext) { x.AllowPrivilegeEscalation = &yes }), "refused: fetch", "", false},
		{"a writable root", sc(names.StepFetch, func(x *corev1.SecurityContext) { x.ReadOnlyRootFilesystem = &no }), "refused: fetch", "", false},
		{"privilege", sc(names.StepDaemon, func(x *corev1.SecurityContext) { x.Privileged = &yes }), "refused: buildkitd", "", false},
		{"a daemon as root", sc(names.StepDaemon, func(x *corev1.SecurityContext) { x.RunAsUser = ptr(int64(0)) }), "refused: buildkitd", "", false},
		{"an SELinux type", sc(names.StepFetch, func(x *corev1.SecurityContext) { x.SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t"} }), "refused: fetch", "", false},
		{"a host port", step(names.StepBuild, func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 22, HostPort: 22}}
		}), "refused: build", "", false},
		{"a start hook", step(names.StepPush, func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "id"}}}}
		}), "refused: push", "", false},
		{"a probe that runs a command", step(names.StepPush, func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "id"}}}}
		}), "refused: push", "", false},
		{"a terminal", step(names.StepBuild, func(c *corev1.Container) { c.Stdin, c.TTY = true, true }), "refused: build", "", false},
		{"a daemon probe of its own", step(names.StepDaemon, func(c *corev1.Container) {
			c.StartupProbe.Exec.Command = []string{"sh", "-c", "id"}
		}), "refused: buildkitd", "", false},
		{"environment from a Secret", step(names.StepPush, func(c *corev1.Container) {
			c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "couchdb-admin"}}}}
		}), "refused: push", "", false},
		{"a Secret's value", step(names.StepBuild, func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "registry-pull-secret"}, Key: ".dockerconfigjson"}}}}
		}), "refused: build", "", false},
		{"the registry Secret in the daemon", step(names.StepDaemon, func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "docker-config", MountPath: "/tmp/x"})
		}), "refused: buildkitd", "", false},
		{"the registry Secret in the build step", step(names.StepBuild, func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "docker-config", MountPath: "/home/user/.docker"})
		}), "refused: build", "", false},
		{"a sub-path mount", step(names.StepBuild, func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "layouts", MountPath: "/x", SubPath: "state"})
		}), "refused: build", "", false},
		{"no disk limit", step(names.StepBuild, func(c *corev1.Container) { delete(c.Resources.Limits, corev1.ResourceEphemeralStorage) }), "refused: build", "", false},
		{"a daemon with a read-only root", sc(names.StepDaemon, func(x *corev1.SecurityContext) { x.ReadOnlyRootFilesystem = &yes }), "refused: buildkitd", "", false},
		{"a daemon that asks to be non-root", sc(names.StepDaemon, func(x *corev1.SecurityContext) { x.RunAsNonRoot = &yes }), "refused: buildkitd", "", false},
		{"a privileged daemon with capabilities", sc(names.StepDaemon, func(x *corev1.SecurityContext) {
			x.Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_MODULE"}}
		}), "refused: buildkitd", "", true},
		{"a privileged daemon as a user", sc(names.StepDaemon, func(x *corev1.SecurityContext) { x.RunAsUser = ptr(int64(0)) }), "refused: buildkitd", "", true},
		{"a privileged transfer step", sc(names.StepFetch, func(x *corev1.SecurityContext) { x.Privileged = &yes }), "refused: fetch", validation, false},
		{"an unmasked /proc in a step", sc(names.StepBuild, func(x *corev1.SecurityContext) { x.ProcMount = ptr(corev1.UnmaskedProcMount) }), "refused: build", validation, false},
		{"Windows options", sc(names.StepPush, func(x *corev1.SecurityContext) {
			x.WindowsOptions = &corev1.WindowsSecurityContextOptions{RunAsUserName: ptr("ContainerAdministrator")}
		}), "refused: push", "", false},
		{"a sub-path of an allowed mount", mount(names.StepBuild, func(m *corev1.VolumeMount) { m.SubPath = "state" }), "refused: build", "", false},
		{"a sub-path expression", mount(names.StepBuild, func(m *corev1.VolumeMount) { m.SubPathExpr = "$(HOSTNAME)" }), "refused: build", "", false},
		{"mount propagation", mount(names.StepBuild, func(m *corev1.VolumeMount) { m.MountPropagation = ptr(corev1.MountPropagationHostToContainer) }), "refused: build", "", false},
		{"a recursive read-only mount", mount(names.StepPush, func(m *corev1.VolumeMount) {
			m.ReadOnly, m.RecursiveReadOnly = true, ptr(corev1.RecursiveReadOnlyIfPossible)
		}), "refused: push", "", false},
		{"bind mount options", mount(names.StepPush, func(m *corev1.VolumeMount) { m.BindMountOptions = []string{"rw"} }), "refused: push", gated, false},
		{"a resize policy", step(names.StepPush, func(c *corev1.Container) {
			c.ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired}}
		}), "refused: push", "", false},
		{"container restart rules", step(names.StepPush, func(c *corev1.Container) {
			c.RestartPolicyRules = []corev1.ContainerRestartRule{{Action: corev1.ContainerRestartRuleActionRestart,
				ExitCodes: &corev1.ContainerRestartRuleOnExitCodes{Operator: corev1.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{1}}}}
		}), "refused: push", gated, false},
		{"a working directory", step(names.StepBuild, func(c *corev1.Container) { c.WorkingDir = "/layouts" }), "refused: build", "", false},
		{"a readiness probe", step(names.StepPush, func(c *corev1.Container) {
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "id"}}}}
		}), "refused: push", "", false},
		{"a block device", step(names.StepPush, func(c *corev1.Container) {
			c.VolumeDevices = []corev1.VolumeDevice{{Name: "layouts", DevicePath: "/dev/xvda"}}
		}), "refused: push", validation, false},
		{"stdin", step(names.StepBuild, func(c *corev1.Container) { c.Stdin = true }), "refused: build", "", false},
		{"stdin once", step(names.StepBuild, func(c *corev1.Container) { c.StdinOnce = true }), "refused: build", "", false},
		{"a TTY", step(names.StepBuild, func(c *corev1.Container) { c.TTY = true }), "refused: build", "", false},
		{"a termination message path", step(names.StepPush, func(c *corev1.Container) { c.TerminationMessagePath = "/layouts/message" }), "refused: push", "", false},
		{"a termination message policy", step(names.StepPush, func(c *corev1.Container) {
			c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
		}), "refused: push", "", false},
		{"a fetch step as a sidecar", step(names.StepFetch, func(c *corev1.Container) { c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways) }), "refused: fetch", "", false},
		{"a startup probe", step(names.StepPush, func(c *corev1.Container) {
			c.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "id"}}}}
		}), "refused: push", "", false},
		{"a claim in a step", step(names.StepPush, func(c *corev1.Container) { c.Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}} }), "refused: push", validation, false},

		// The volumes.
		{"another Secret", pod(func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "loot", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "couchdb-admin"}}})
		}), "refused: loot", "", false},
		{"the registry Secret by another name", volume("docker-config", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "couchdb-admin"}}), "refused: docker-config", "", false},
		{"a hostPath", volume("layouts", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}), "refused: layouts", "", false},
		{"an NFS share", volume("layouts", corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "10.0.0.1", Path: "/"}}), "refused: layouts", "", false},
		{"a CSI volume", volume("layouts", corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io"}}), "refused: layouts", "", false},
		{"a claim", volume("layouts", corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}), "refused: layouts", "", false},
		{"an iSCSI disk", volume("run", corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "10.0.0.1:3260", IQN: "iqn.2001-04.com.example:storage", Lun: 0}}), "refused: run", "", false},
		{"CephFS with a Secret", volume("run", corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{
			Monitors: []string{"10.0.0.1:6789"}, SecretRef: &corev1.LocalObjectReference{Name: "couchdb-admin"}}}), "refused: run", "", false},
		{"a projected token", volume("run", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
			ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}), "refused: run", "", false},
		{"another build's context", volume("workspace", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "build-victim-0123456789"}}}), "refused: workspace", "", false},
		{"a context's chosen items", pod(func(s *corev1.PodSpec) {
			for i := range s.Volumes {
				if cm := s.Volumes[i].ConfigMap; cm != nil {
					cm.Items = []corev1.KeyToPath{{Key: "Dockerfile", Path: "Dockerfile"}}
				}
			}
		}), "refused: workspace", "", false},
		{"an optional context", pod(func(s *corev1.PodSpec) {
			for i := range s.Volumes {
				if cm := s.Volumes[i].ConfigMap; cm != nil {
					cm.Optional = &yes
				}
			}
		}), "refused: workspace", "", false},
		{"another build's secrets", volume("build-secrets", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "build-victim-0123456789-secrets"}}), "refused: build-secrets", "", false},
		{"the build secrets by chosen items", pod(func(s *corev1.PodSpec) {
			for i := range s.Volumes {
				if s.Volumes[i].Name == "build-secrets" {
					s.Volumes[i].Secret.Items = []corev1.KeyToPath{{Key: "netrc", Path: "netrc"}}
				}
			}
		}), "refused: build-secrets", "", false},
		{"optional build secrets", pod(func(s *corev1.PodSpec) {
			for i := range s.Volumes {
				if s.Volumes[i].Name == "build-secrets" {
					s.Volumes[i].Secret.Optional = &yes
				}
			}
		}), "refused: build-secrets", "", false},
		{"the build secrets in the daemon", step(names.StepDaemon, func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "build-secrets", MountPath: "/build-secrets", ReadOnly: true})
		}), "refused: buildkitd", "", false},
		{"the build secrets in a push step", step(names.StepPush, func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "build-secrets", MountPath: "/build-secrets", ReadOnly: true})
		}), "refused: push", "", false},
		{"the build secrets writable", step(names.StepBuild, func(c *corev1.Container) {
			for i := range c.VolumeMounts {
				if c.VolumeMounts[i].Name == "build-secrets" {
					c.VolumeMounts[i].ReadOnly = false
				}
			}
		}), "refused: build", "", false},
		{"the registry credential as a build secret", step(names.StepBuild, func(c *corev1.Container) {
			c.Args = append(c.Args, "--secret", "id=netrc,src=/layouts/../registry-auth/config.json")
		}), "refused: build", "", false},
		{"a build argument", step(names.StepBuild, func(c *corev1.Container) {
			c.Args = append(c.Args, "--opt", "build-arg:TOKEN=x")
		}), "refused: build", "", false},
		{"an unbounded emptyDir", volume("layouts", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}), "refused: layouts", "", false},
		{"an emptyDir in memory", volume("layouts", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("1Gi"))}}), "refused: layouts", "", false},
	}
}

// hex64 is a digest's hex.
const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Step is the container of s named name, init containers included; an
// empty container when there is none.
func Step(s *corev1.PodSpec, name string) *corev1.Container {
	for i := range s.InitContainers {
		if s.InitContainers[i].Name == name {
			return &s.InitContainers[i]
		}
	}
	for i := range s.Containers {
		if s.Containers[i].Name == name {
			return &s.Containers[i]
		}
	}
	return &corev1.Container{}
}

func ptr[T any](v T) *T { return &v }
