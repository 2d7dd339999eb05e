package buildspec

import (
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/apache/openserverless-builder/shared/names"
)

// The pod's volumes that decide who holds what.
const (
	volumeCredential = "docker-config"
	volumeLayouts    = "layouts"
	// volumeSecrets is the build's own Secret of build secrets, mounted in
	// the build step alone.
	volumeSecrets = "build-secrets"
)

// sourceLayoutName is the name buildctl gives the source's layout
// (--oci-layout), which the build's named context refers to.
const sourceLayoutName = "source"

// fetch pulls the pinned source into its layout. It holds the credential
// only for a cluster source the caller may read (send decided it); a
// source elsewhere is fetched anonymously, so that no answer of another
// registry, a redirect included, can obtain the credential.
func (p Plan) fetch() corev1.Container {
	from := p.Base.Fetch
	if from == "" {
		from = p.From()
	}
	args := craneArgs("pull", p.Base.Insecure, "--format=oci", from, sourceLayout)
	return p.crane(names.StepFetch, args, p.Base.Credential, false)
}

// fetchCache pulls the cache send found, by its digest.
func (p Plan) fetchCache() corev1.Container {
	repo := p.Cache[:strings.LastIndex(p.Cache, ":")] // host/<user>/buildcache
	args := craneArgs("pull", p.Insecure, "--format=oci", repo+"@"+p.CacheDigest, cacheLayout)
	return p.crane(names.StepFetchCache, args, true, false)
}

// push pushes the built image, its provenance included, from its layout;
// it prints the pushed digest, which logs reports.
func (p Plan) push() corev1.Container {
	return p.crane(names.StepPush, craneArgs("push", p.Insecure, imageLayout, p.Image), true, true)
}

// pushCache pushes the exported cache for the next build.
func (p Plan) pushCache() corev1.Container {
	return p.crane(names.StepPushCache, craneArgs("push", p.Insecure, cacheOutLayout, p.Cache), true, true)
}

// craneArgs is a crane command's argv: plain HTTP when insecure.
func craneArgs(command string, insecure bool, args ...string) []string {
	out := []string{command}
	if insecure {
		out = append(out, "--insecure")
	}
	return append(out, args...)
}

// crane is a step of the crane image: unprivileged, read-only, with the
// layouts (read-only for a push) and, when credential, the registry
// Secret as its docker config.
func (p Plan) crane(name string, args []string, credential, readOnly bool) corev1.Container {
	c := corev1.Container{
		Name:            name,
		Image:           p.Crane,
		Command:         []string{"crane"},
		Args:            args,
		SecurityContext: restricted(),
		Resources:       resources("50m", "64Mi", "1", "512Mi", resource.MustParse("16Mi"), resource.MustParse("256Mi")),
		VolumeMounts:    []corev1.VolumeMount{{Name: volumeLayouts, MountPath: layoutsDir, ReadOnly: readOnly}},
	}
	if credential {
		c.Env = []corev1.EnvVar{{Name: "DOCKER_CONFIG", Value: dockerDir}}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: volumeCredential, MountPath: dockerDir, ReadOnly: true})
	}
	return c
}

// daemon is the buildkitd sidecar: rootless unless the operator opted into
// privileged BuildKit. It mounts no credential and talks to no registry.
func (p Plan) daemon() corev1.Container {
	c := corev1.Container{
		Name:          names.StepDaemon,
		Image:         p.Buildkit,
		RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways),
		Command:       []string{"rootlesskit", "buildkitd"},
		// Rootless BuildKit in a pod cannot mount a fresh /proc: the build
		// steps share this container's process namespace, where no process
		// holds a credential.
		Args: []string{"--addr", DaemonAddress, "--oci-worker-no-process-sandbox"},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                ptr(int64(1000)),
			RunAsGroup:               ptr(int64(1000)),
			AllowPrivilegeEscalation: ptr(true), // newuidmap is setuid
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
			AppArmorProfile:          &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined},
		},
		StartupProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"buildctl", "--addr", DaemonAddress, "debug", "workers"},
			}},
			PeriodSeconds:    1,
			TimeoutSeconds:   5,
			FailureThreshold: 120,
		},
		Resources: resources("250m", "512Mi", "2", "4Gi", resource.MustParse("1Gi"), p.Disk),
		VolumeMounts: []corev1.VolumeMount{
			{Name: "buildkitd-config", MountPath: buildkitDir, ReadOnly: true},
			{Name: "buildkit-state", MountPath: stateDir},
			{Name: "run", MountPath: socketDir},
		},
	}
	if p.Privileged {
		c.Command, c.Args = []string{"buildkitd"}, []string{"--addr", DaemonAddress}
		c.SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
	}
	return c
}

// build runs buildctl, a regular init container after the daemon's: it
// has no docker config, so the daemon cannot obtain a credential through
// its session, whatever a registry answers.
func (p Plan) build() corev1.Container {
	return corev1.Container{
		Name:            names.StepBuild,
		Image:           p.Buildkit,
		Command:         []string{"buildctl"},
		Args:            p.buildArgs(),
		SecurityContext: restricted(),
		Resources:       resources("50m", "64Mi", "500m", "256Mi", resource.MustParse("16Mi"), resource.MustParse("256Mi")),
		VolumeMounts:    p.buildMounts(),
	}
}

// buildMounts are the build step's volumes: the context, the layouts, the
// daemon's socket and, when the request has any, its build secrets, which
// buildctl hands the daemon through its session for the install step.
func (p Plan) buildMounts() []corev1.VolumeMount {
	mounts := []corev1.VolumeMount{
		{Name: "workspace", MountPath: workspaceDir, ReadOnly: true},
		{Name: volumeLayouts, MountPath: layoutsDir},
		{Name: "run", MountPath: socketDir},
	}
	if len(p.Secrets) > 0 {
		mounts = append(mounts, corev1.VolumeMount{Name: volumeSecrets, MountPath: secretsDir, ReadOnly: true})
	}
	return mounts
}

// buildArgs are buildctl's arguments: the build FROM the source's layout,
// the image written as a layout, the cache imported from and exported to
// layouts, and the provenance attestation.
func (p Plan) buildArgs() []string {
	args := []string{
		"--addr", DaemonAddress,
		"build", "--progress=plain",
		"--frontend", "dockerfile.v0",
		"--local", "context=" + workspaceDir,
		"--local", "dockerfile=" + workspaceDir,
		"--oci-layout", sourceLayoutName + "=" + sourceLayout,
		// oci-artifact=false: attestations as BuildKit stored them before
		// 0.32, without an OCI subject, so that pushing them to a registry
		// without the referrers API adds no sha256-… fallback tag.
		"--output", "type=oci,tar=false,dest=" + imageLayout + ",name=" + p.Image + ",oci-mediatypes=true,oci-artifact=false",
	}
	if p.Base.Digest != "" {
		args = append(args, "--opt", "context:"+contextName(p.From())+"=oci-layout://"+sourceLayoutName+"@"+p.Base.Digest)
	}
	if p.importsCache() {
		args = append(args, "--import-cache", "type=local,src="+cacheLayout+",digest="+p.CacheDigest)
	}
	if p.Cache != "" {
		// mode=max keeps every step's layers; an OCI image manifest is what
		// the distribution registry stores.
		args = append(args, "--export-cache", "type=local,dest="+cacheOutLayout+",mode=max,image-manifest=true,oci-mediatypes=true")
	}
	// The image says what made it: send finds an image of the same
	// content by it, whatever its tag.
	args = append(args, "--opt", "label:"+names.LabelIdentity+"="+p.Identity)
	if p.Provenance {
		args = append(args, "--opt", "attest:provenance=mode=min")
	}
	// Secrets, never build arguments: BuildKit mounts them for the RUN
	// that names them and records them nowhere.
	for _, name := range p.SecretNames() {
		args = append(args, "--secret", "id="+name+",src="+secretsDir+"/"+name)
	}
	return args
}

func (p Plan) importsCache() bool { return p.Cache != "" && p.CacheDigest != "" }

// contextName is the name under which the Dockerfile frontend looks a FROM
// up among the named contexts: the familiar form of the reference, without
// a :latest tag.
func contextName(from string) string {
	named, err := reference.ParseNormalizedNamed(from)
	if err != nil {
		return from
	}
	return strings.TrimSuffix(reference.FamiliarString(named), ":latest")
}

// restricted is the security context of the steps that run no build step:
// an unprivileged user, no capability, no escalation, a read-only root.
func restricted() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsUser:                ptr(int64(1000)),
		RunAsGroup:               ptr(int64(1000)),
		RunAsNonRoot:             ptr(true),
		AllowPrivilegeEscalation: ptr(false),
		ReadOnlyRootFilesystem:   ptr(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}
