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
	return []Case{
		// The Job.
		{"parallelism 500", func(j *batchv1.Job) { j.Spec.Parallelism = ptr(int32(500)) }, "parallelism"},
		{"completions 500", func(j *batchv1.Job) { j.Spec.Completions = ptr(int32(500)) }, "completions"},
		{"retries", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr(int32(6)) }, "backoffLimit"},
		{"no deadline", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = nil }, "activeDeadlineSeconds"},
		{"a deadline past 24 hours", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr(int64(86401)) }, "activeDeadlineSeconds"},
		{"no TTL", func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = nil }, "ttlSecondsAfterFinished"},
		{"indexed", func(j *batchv1.Job) { m := batchv1.IndexedCompletion; j.Spec.CompletionMode = &m }, "completionMode"},
		{"a pod failure policy", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}}}
		}, "podFailurePolicy"},
		{"no managed-by label", func(j *batchv1.Job) { delete(j.Spec.Template.Labels, names.LabelManagedBy) }, "app.kubernetes.io/managed-by"},

		// The pod.
		{"a node", pod(func(s *corev1.PodSpec) { s.NodeName = "control-plane" }), "nodeName"},
		{"a node selector", pod(func(s *corev1.PodSpec) {
			s.NodeSelector = map[string]string{"node-role.kubernetes.io/control-plane": ""}
		}), "nodeSelector"},
		{"every toleration", pod(func(s *corev1.PodSpec) { s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}} }), "tolerations"},
		{"node-critical priority", pod(func(s *corev1.PodSpec) { s.PriorityClassName = "system-node-critical" }), "priorityClassName"},
		{"a runtime class", pod(func(s *corev1.PodSpec) { s.RuntimeClassName = ptr("unconfined") }), "runtimeClassName"},
		{"the host's users", pod(func(s *corev1.PodSpec) { s.HostUsers = &yes }), "hostUsers"},
		{"sysctls", pod(func(s *corev1.PodSpec) {
			s.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}}}
		}), "securityContext"},
		{"a pod user", pod(func(s *corev1.PodSpec) { s.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr(int64(0))} }), "securityContext"},
		{"another service account", pod(func(s *corev1.PodSpec) { s.ServiceAccountName = "openserverless-builder" }), "serviceAccountName"},
		{"a token", pod(func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = nil }), "automountServiceAccountToken"},
		{"host aliases", pod(func(s *corev1.PodSpec) {
			s.HostAliases = []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"registry"}}}
		}), "hostAliases"},
		{"the host's network", pod(func(s *corev1.PodSpec) { s.HostNetwork = true }), "hostNetwork"},
		{"the host's processes", pod(func(s *corev1.PodSpec) { s.HostPID = true }), "hostPID"},
		{"the host's IPC", pod(func(s *corev1.PodSpec) { s.HostIPC = true }), "hostIPC"},
		{"a shared process namespace", pod(func(s *corev1.PodSpec) { s.ShareProcessNamespace = &yes }), "shareProcessNamespace"},
		{"service links", pod(func(s *corev1.PodSpec) { s.EnableServiceLinks = &yes }), "enableServiceLinks"},
		{"pull secrets", pod(func(s *corev1.PodSpec) {
			s.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry-pull-secret"}}
		}), "imagePullSecrets"},
		{"affinity", pod(func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"cp"}}}}}}}}
		}), "affinity"},
		{"a DNS of its own", pod(func(s *corev1.PodSpec) {
			s.DNSPolicy = corev1.DNSNone
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"127.0.0.1"}}
		}), "dnsPolicy"},
		{"a restart policy", pod(func(s *corev1.PodSpec) { s.RestartPolicy = corev1.RestartPolicyOnFailure }), "restartPolicy"},
		{"a long grace period", pod(func(s *corev1.PodSpec) { s.TerminationGracePeriodSeconds = ptr(int64(86400)) }), "terminationGracePeriodSeconds"},

		// The steps.
		{"the BuildKit image running a shell", step(names.ContainerName, func(c *corev1.Container) { c.Command, c.Args = []string{"sh", "-c"}, []string{"id"} }), "refused: build"},
		{"buildkitd with other flags", step(names.DaemonContainer, func(c *corev1.Container) { c.Args = append(c.Args, "--debug") }), "refused: buildkitd"},
		{"buildctl with another output", step(names.ContainerName, func(c *corev1.Container) {
			for i, a := range c.Args {
				if a == "--output" {
					c.Args[i+1] = "type=image,name=registry:5000/victim:latest,push=true"
				}
			}
		}), "refused: build"},
		{"crane auth get", step(names.StepPush, func(c *corev1.Container) { c.Args = []string{"auth", "get", "registry:5000"} }), "refused: push"},
		{"crane delete", step(names.StepPush, func(c *corev1.Container) { c.Args = []string{"delete", "registry:5000/victim@sha256:" + hex64} }), "refused: push"},
		{"crane cp", step(names.StepFetch, func(c *corev1.Container) {
			c.Args = []string{"cp", "registry:5000/victim:v1", "registry:5000/thief:v1"}
		}), "refused: fetch"},
		{"crane push from elsewhere", step(names.StepPush, func(c *corev1.Container) { c.Args[len(c.Args)-2] = "/registry-auth" }), "refused: push"},
		{"crane with a flag for a reference", step(names.StepPush, func(c *corev1.Container) { c.Args[len(c.Args)-1] = "--verbose" }), "refused: push"},
		{"crane running a shell", step(names.StepPush, func(c *corev1.Container) {
			c.Command, c.Args = []string{"sh", "-c"}, []string{"cat /registry-auth/config.json"}
		}), "refused: push"},
		{"the BuildKit image by tag", step(names.ContainerName, func(c *corev1.Container) { c.Image = config.DefaultBuildkitImage }), "refused: build"},
		{"the crane image by tag", step(names.StepPush, func(c *corev1.Container) { c.Image = config.DefaultCraneImage }), "refused: push"},
		{"another image", step(names.StepPush, func(c *corev1.Container) { c.Image = "busybox:1" }), "refused: push"},
		{"the BuildKit image in a crane step", pod(func(s *corev1.PodSpec) { Step(s, names.StepFetch).Image = Step(s, names.ContainerName).Image }), "refused: fetch"},
		{"another step", pod(func(s *corev1.PodSpec) {
			extra := *Step(s, names.StepPush)
			extra.Name = "loot"
			s.Containers = append(s.Containers, extra)
		}), "nothing else"},
		{"root", sc(names.ContainerName, func(x *corev1.SecurityContext) { x.RunAsUser, x.RunAsNonRoot = ptr(int64(0)), nil }), "refused: build"},
		{"capabilities", sc(names.DaemonContainer, func(x *corev1.SecurityContext) {
			x.Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "SYS_MODULE", "NET_ADMIN", "SYS_PTRACE"}}
		}), "refused: buildkitd"},
		{"a capability in a crane step", sc(names.StepPush, func(x *corev1.SecurityContext) { x.Capabilities.Add = []corev1.Capability{"NET_RAW"} }), "refused: push"},
		{"an unmasked /proc", func(j *batchv1.Job) {
			m := corev1.UnmaskedProcMount
			Step(&j.Spec.Template.Spec, names.DaemonContainer).SecurityContext.ProcMount = &m
			j.Spec.Template.Spec.HostUsers = new(bool) // the API demands it beside Unmasked
		}, "hostUsers"},
		{"no seccomp", sc(names.ContainerName, func(x *corev1.SecurityContext) { x.SeccompProfile.Type = corev1.SeccompProfileTypeUnconfined }), "refused: build"},
		{"no AppArmor", sc(names.StepPush, func(x *corev1.SecurityContext) {
			x.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
		}), "refused: push"},
		{"escalation", sc(names.StepFetch, func(x *corev1.SecurityContext) { x.AllowPrivilegeEscalation = &yes }), "refused: fetch"},
		{"a writable root", sc(names.StepFetch, func(x *corev1.SecurityContext) { x.ReadOnlyRootFilesystem = &no }), "refused: fetch"},
		{"privilege", sc(names.DaemonContainer, func(x *corev1.SecurityContext) { x.Privileged = &yes }), "refused: buildkitd"},
		{"a daemon as root", sc(names.DaemonContainer, func(x *corev1.SecurityContext) { x.RunAsUser = ptr(int64(0)) }), "refused: buildkitd"},
		{"an SELinux type", sc(names.StepFetch, func(x *corev1.SecurityContext) { x.SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t"} }), "refused: fetch"},
		{"a host port", step(names.ContainerName, func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 22, HostPort: 22}}
		}), "refused: build"},
		{"a start hook", step(names.StepPush, func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "id"}}}}
		}), "refused: push"},
		{"a probe that runs a command", step(names.StepPush, func(c *corev1.Container) {
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "id"}}}}
		}), "refused: push"},
		{"a terminal", step(names.ContainerName, func(c *corev1.Container) { c.Stdin, c.TTY = true, true }), "refused: build"},
		{"a daemon probe of its own", step(names.DaemonContainer, func(c *corev1.Container) {
			c.StartupProbe.Exec.Command = []string{"sh", "-c", "id"}
		}), "refused: buildkitd"},
		{"environment from a Secret", step(names.StepPush, func(c *corev1.Container) {
			c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "couchdb-admin"}}}}
		}), "refused: push"},
		{"a Secret's value", step(names.ContainerName, func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "registry-pull-secret"}, Key: ".dockerconfigjson"}}}}
		}), "refused: build"},
		{"the registry Secret in the daemon", step(names.DaemonContainer, func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "docker-config", MountPath: "/tmp/x"})
		}), "refused: buildkitd"},
		{"the registry Secret in the build step", step(names.ContainerName, func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "docker-config", MountPath: "/home/user/.docker"})
		}), "refused: build"},
		{"a sub-path mount", step(names.ContainerName, func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "layouts", MountPath: "/x", SubPath: "state"})
		}), "refused: build"},
		{"no disk limit", step(names.ContainerName, func(c *corev1.Container) { delete(c.Resources.Limits, corev1.ResourceEphemeralStorage) }), "refused: build"},

		// The volumes.
		{"another Secret", pod(func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "loot", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "couchdb-admin"}}})
		}), "refused: loot"},
		{"the registry Secret by another name", volume("docker-config", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "couchdb-admin"}}), "refused: docker-config"},
		{"a hostPath", volume("layouts", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}), "refused: layouts"},
		{"an NFS share", volume("layouts", corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "10.0.0.1", Path: "/"}}), "refused: layouts"},
		{"a CSI volume", volume("layouts", corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io"}}), "refused: layouts"},
		{"a claim", volume("layouts", corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}), "refused: layouts"},
		{"an iSCSI disk", volume("run", corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "10.0.0.1:3260", IQN: "iqn.2001-04.com.example:storage", Lun: 0}}), "refused: run"},
		{"CephFS with a Secret", volume("run", corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{
			Monitors: []string{"10.0.0.1:6789"}, SecretRef: &corev1.LocalObjectReference{Name: "couchdb-admin"}}}), "refused: run"},
		{"a projected token", volume("run", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
			ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}), "refused: run"},
		{"another build's context", volume("workspace", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "build-victim-0123456789"}}}), "refused: workspace"},
		{"an unbounded emptyDir", volume("layouts", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}), "refused: layouts"},
		{"an emptyDir in memory", volume("layouts", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("1Gi"))}}), "refused: layouts"},
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
