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

// sourceLayoutName is the name buildctl gives the layout (--oci-layout),
// which the build's named context refers to.
const sourceLayoutName = "source"

// cacheEntry is the tag under which BuildKit lists the exported cache in
// the layout, and push-cache finds it.
const cacheEntry = "cache"

// fetch fetches the pinned source into the layout. It holds the credential
// only for a cluster source the caller may read (send decided it); a
// source elsewhere is fetched anonymously, so that no answer of another
// registry, a redirect included, can obtain the credential.
func (p Plan) fetch() corev1.Container {
	args := transferArgs("fetch", p.Base.Insecure, p.fetchFrom())
	return p.transfer(names.StepFetch, args, p.Base.Credential, false)
}

// fetchFrom is where the fetch step fetches the source, pinned by digest.
func (p Plan) fetchFrom() string {
	if p.Base.Fetch != "" {
		return p.Base.Fetch
	}
	return p.From()
}

// fetchCache fetches the cache send found, by its digest, into the same
// layout: the source's layers it carries are already there, and are
// neither fetched nor written again.
func (p Plan) fetchCache() corev1.Container {
	return p.transfer(names.StepFetchCache, transferArgs("fetch", p.Insecure, p.cacheAt()), true, false)
}

// cacheAt is the cache send found: host/<user>/buildcache@digest.
func (p Plan) cacheAt() string {
	return p.Cache[:strings.LastIndex(p.Cache, ":")] + "@" + p.CacheDigest
}

// push pushes the built image, its provenance included, from the layout;
// it prints the pushed digest, which logs reports.
func (p Plan) push() corev1.Container {
	args := transferArgs("push", p.Insecure, p.mounts(true)...)
	return p.transfer(names.StepPush, append(args, p.Image, p.Image), true, true)
}

// pushCache pushes the exported cache for the next build.
func (p Plan) pushCache() corev1.Container {
	args := transferArgs("push", p.Insecure, p.mounts(false)...)
	return p.transfer(names.StepPushCache, append(args, cacheEntry, p.Cache), true, true)
}

// mounts are a push's --mount flags: the images the registry holds that
// the layout holds too, whose layers the push mounts rather than uploads.
// The source is one only when send found it on the cluster registry and
// the caller may read it (the fetch held the credential); the user's own
// cache, fetched by this build, is one for the image.
func (p Plan) mounts(cache bool) []string {
	var out []string
	if p.Base.Credential {
		out = append(out, "--mount", p.fetchFrom())
	}
	if cache && p.importsCache() {
		out = append(out, "--mount", p.cacheAt())
	}
	return out
}

// transferArgs are a transfer command's argv: plain HTTP when insecure,
// on the pod's one layout.
func transferArgs(command string, insecure bool, args ...string) []string {
	out := []string{command}
	if insecure {
		out = append(out, "--insecure")
	}
	out = append(out, "--layout", layoutDir)
	return append(out, args...)
}

// transfer is a step of the transfer image (cmd/transfer): unprivileged,
// read-only, with the layout (read-only for a push) and, when credential,
// the registry Secret as its docker config.
func (p Plan) transfer(name string, args []string, credential, readOnly bool) corev1.Container {
	c := corev1.Container{
		Name:            name,
		Image:           p.Transfer,
		Command:         []string{"transfer"},
		Args:            args,
		SecurityContext: restricted(),
		Resources:       resources("50m", "64Mi", "1", "512Mi", resource.MustParse("16Mi"), resource.MustParse("256Mi")),
		VolumeMounts:    []corev1.VolumeMount{{Name: volumeLayouts, MountPath: layoutDir, ReadOnly: readOnly}},
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
		{Name: volumeLayouts, MountPath: layoutDir},
		{Name: "run", MountPath: socketDir},
	}
	if len(p.Secrets) > 0 {
		mounts = append(mounts, corev1.VolumeMount{Name: volumeSecrets, MountPath: secretsDir, ReadOnly: true})
	}
	return mounts
}

// buildArgs are buildctl's arguments: the build FROM the source in the
// layout, the image written into it, the cache imported from and exported
// into it, and the provenance attestation. One layout for all: a blob the
// fetch wrote is not written again by an export, which finds it there.
func (p Plan) buildArgs() []string {
	args := []string{
		"--addr", DaemonAddress,
		"build", "--progress=plain",
		"--frontend", "dockerfile.v0",
		"--local", "context=" + workspaceDir,
		"--local", "dockerfile=" + workspaceDir,
		"--oci-layout", sourceLayoutName + "=" + layoutDir,
		// oci-artifact=false: attestations as BuildKit stored them before
		// 0.32, without an OCI subject, so that pushing them to a registry
		// without the referrers API adds no sha256-… fallback tag.
		"--output", "type=oci,tar=false,dest=" + layoutDir + ",name=" + p.Image + ",oci-mediatypes=true,oci-artifact=false",
	}
	if p.Base.Digest != "" {
		args = append(args, "--opt", "context:"+contextName(p.From())+"=oci-layout://"+sourceLayoutName+"@"+p.Base.Digest)
	}
	if p.importsCache() {
		args = append(args, "--import-cache", "type=local,src="+layoutDir+",digest="+p.CacheDigest)
	}
	if p.Cache != "" {
		// mode=max keeps every step's layers; an OCI image manifest is what
		// the distribution registry stores.
		args = append(args, "--export-cache", "type=local,dest="+layoutDir+",mode=max,image-manifest=true,oci-mediatypes=true,tag="+cacheEntry)
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
