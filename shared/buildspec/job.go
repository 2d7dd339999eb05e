package buildspec

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/reference"
)

// TTLAfterFinished is how long Kubernetes keeps a finished build before its
// TTL controller removes it; cleanjobs usually removes it sooner.
const TTLAfterFinished = 7 * 24 * time.Hour

// Where rootless BuildKit (user 1000, HOME /home/user) reads its files.
const (
	workspaceDir = "/workspace"
	dockerDir    = "/home/user/.docker"
	buildkitDir  = "/home/user/.config/buildkit"
	stateDir     = "/home/user/.local/share/buildkit"
	socketDir    = "/run/buildkit"
)

// DaemonAddress is where buildkitd listens, on the emptyDir the two
// containers share.
const DaemonAddress = "unix://" + socketDir + "/buildkitd.sock"

// Plan is everything a build's objects are made from.
type Plan struct {
	Request
	// SourceDigest and SourceUser are what send resolved the source to:
	// the digest the build is FROM, and the user its image runs as ("" is
	// root).
	SourceDigest string
	SourceUser   string
	ID           string
	User         string // full user name
	Namespace    string
	Image        string // full reference pushed: host/repo:tag
	// PullImage is the image users deploy with: Image with the pull host
	// (registry_pull_host), which the annotation and every result name.
	PullImage string
	Insecure  bool   // plain-HTTP registry
	Secret    string // dockerconfigjson Secret for the push
	Buildkit  string // BuildKit image
	Timeout   time.Duration
	// Privileged runs BuildKit privileged, for clusters where rootless
	// BuildKit cannot create user namespaces (an operator's opt-in).
	Privileged bool
	// Cache is the registry reference of the user's BuildKit cache for the
	// kind (host/<user>/buildcache:<kind>); "" builds without a cache.
	Cache string
	// Provenance attaches BuildKit's provenance attestation (mode=min).
	Provenance bool
	// Disk bounds the pod's ephemeral storage (build_disk): the daemon's
	// limit and its state's emptyDir.
	Disk resource.Quantity
}

// Source is what a request's source was resolved to.
type Source struct {
	Digest string // what the build is FROM
	User   string // the user the image runs as; "" is root
}

// NewPlan is the one place a plan is assembled: the request of user, build
// id, pushing to the registry at host, FROM src, configured by cfg.
func NewPlan(req Request, user, id, host string, src Source, cfg config.Config) Plan {
	p := Plan{
		Request:      req,
		SourceDigest: src.Digest,
		SourceUser:   src.User,
		ID:           id,
		User:         user,
		Namespace:    cfg.BuildNamespace,
		Image:        host + "/" + req.Target(),
		PullImage:    cfg.PullHost(host) + "/" + req.Target(),
		Insecure:     cfg.RegistryInsecure,
		Secret:       cfg.RegistrySecret,
		Buildkit:     cfg.BuildkitImage,
		Timeout:      cfg.BuildTimeout,
		Privileged:   cfg.AllowPrivileged,
		Provenance:   cfg.Provenance,
		Disk:         cfg.BuildDisk,
	}
	if cache := names.CacheRepository(user); cfg.BuildCache && reference.ValidRepository(cache) {
		p.Cache = host + "/" + cache + ":" + req.Kind.Name
	}
	return p
}

// buildArgs are buildctl's arguments: the build, its output, the cache
// import and export, and the provenance attestation.
func (p Plan) buildArgs() []string {
	insecure := ""
	if p.Insecure {
		insecure = ",registry.insecure=true"
	}
	args := []string{
		"--addr", DaemonAddress,
		"build", "--progress=plain",
		"--frontend", "dockerfile.v0",
		"--local", "context=" + workspaceDir,
		"--local", "dockerfile=" + workspaceDir,
		"--output", "type=image,name=" + p.Image + ",push=true" + insecure,
	}
	if p.Cache != "" {
		// mode=max keeps every step's layers; an OCI image manifest is what
		// the distribution registry stores. A missing cache (the first
		// build) is not an error.
		args = append(args,
			"--import-cache", "type=registry,ref="+p.Cache+insecure,
			"--export-cache", "type=registry,ref="+p.Cache+",mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"+insecure)
	}
	if p.Provenance {
		args = append(args, "--opt", "attest:provenance=mode=min")
	}
	return args
}

// Name of the Job and ConfigMap.
func (p Plan) Name() string { return names.JobName(p.User, p.ID) }

func (p Plan) meta() metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      p.Name(),
		Namespace: p.Namespace,
		Labels: map[string]string{
			names.LabelManagedBy: names.ManagedBy,
			names.LabelUser:      names.UserLabel(p.User),
			names.LabelBuildID:   p.ID,
		},
		Annotations: map[string]string{
			names.AnnotationUser:         p.User,
			names.AnnotationTarget:       p.Target(),
			names.AnnotationSource:       p.Source,
			names.AnnotationSourceDigest: p.SourceDigest,
			names.AnnotationKind:         p.Kind.Name,
			names.AnnotationImage:        p.PullImage,
		},
	}
}

// Context is the build context: the Dockerfile and the requirements file,
// keyed by file name as the ConfigMap holds them.
func (p Plan) Context() map[string]string {
	files := map[string]string{"Dockerfile": p.Dockerfile()}
	if p.File != nil {
		files[p.Kind.File] = string(p.File)
	}
	return files
}

// ConfigMap holds the build context files, owned by the build's Job, so
// that it goes when the Job goes.
func (p Plan) ConfigMap(files map[string]string, job *batchv1.Job) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: p.meta(), Data: files}
	cm.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}
	return cm
}

// ContextSize is what the API server counts against the context
// ConfigMap's limit: its keys and values.
func ContextSize(files map[string]string) int {
	n := 0
	for k, v := range files {
		n += len(k) + len(v)
	}
	return n
}

// CheckSize refuses a plan whose build context exceeds limit bytes
// (max_context_bytes) with a 413, and returns the context otherwise.
func (p Plan) CheckSize(limit int) (map[string]string, error) {
	files := p.Context()
	if ContextSize(files) > limit {
		return nil, TooLarge(limit)
	}
	return files, nil
}

// Job runs one build in a pod of two containers, so that the push
// credential stays out of reach of the build steps (docs/contract.md, "Isolation"):
//   - buildkitd, a native sidecar (an init container that keeps running),
//     runs the user's build steps and holds no credential;
//   - build runs buildctl with the registry Secret mounted as its docker
//     config; BuildKit asks buildctl for a registry's credential over its
//     session when it pushes, so the daemon never reads the file.
//
// They share only the daemon's socket, on an emptyDir, and no process
// namespace. The sidecar's startup probe holds the build container back
// until the daemon answers: no sleep, no race.
func (p Plan) Job() *batchv1.Job {
	deadline := int64(p.Timeout / time.Second)
	ttl := int32(TTLAfterFinished / time.Second)
	job := &batchv1.Job{
		ObjectMeta: p.meta(),
		Spec: batchv1.JobSpec{
			// Created suspended: no pod starts until send has admitted
			// the build and resumes it, so a refused build never runs.
			Suspend:                 ptr(true),
			BackoffLimit:            ptr(int32(0)),
			ActiveDeadlineSeconds:   &deadline,
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: p.meta().Labels, Annotations: p.meta().Annotations},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: ptr(false),
					ShareProcessNamespace:        ptr(false),
					EnableServiceLinks:           ptr(false),
					InitContainers:               []corev1.Container{p.daemon()},
					Containers: []corev1.Container{{
						Name:    names.ContainerName,
						Image:   p.Buildkit,
						Command: []string{"buildctl"},
						Args:    p.buildArgs(),
						Env:     []corev1.EnvVar{{Name: "DOCKER_CONFIG", Value: dockerDir}},
						// buildctl only talks to the daemon: no privilege.
						SecurityContext: &corev1.SecurityContext{
							RunAsUser:                ptr(int64(1000)),
							RunAsGroup:               ptr(int64(1000)),
							RunAsNonRoot:             ptr(true),
							AllowPrivilegeEscalation: ptr(false),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Resources: resources("50m", "64Mi", "500m", "256Mi", resource.MustParse("16Mi"), resource.MustParse("256Mi")),
						VolumeMounts: []corev1.VolumeMount{
							{Name: "workspace", MountPath: workspaceDir, ReadOnly: true},
							{Name: "docker-config", MountPath: dockerDir, ReadOnly: true},
							{Name: "run", MountPath: socketDir},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "workspace", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: p.Name()},
						}}},
						{Name: "docker-config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
							SecretName: p.Secret,
							Items:      []corev1.KeyToPath{{Key: corev1.DockerConfigJsonKey, Path: "config.json"}},
							// No Secret: push anonymously, as the registry
							// actions do.
							Optional: ptr(true),
						}}},
						{Name: "buildkitd-config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: names.BuildkitdConfigMap},
							Items:                []corev1.KeyToPath{{Key: "buildkitd.toml", Path: "buildkitd.toml"}},
							Optional:             ptr(true),
						}}},
						// Every emptyDir is bounded: a step cannot fill the node.
						{Name: "buildkit-state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(p.Disk)}}},
						{Name: "run", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("1Mi"))}}},
					},
				},
			},
		},
	}
	return job
}

// daemon is the buildkitd sidecar: rootless unless the operator opted into
// privileged BuildKit. It mounts no credential.
func (p Plan) daemon() corev1.Container {
	c := corev1.Container{
		Name:          names.DaemonContainer,
		Image:         p.Buildkit,
		RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways),
		Command:       []string{"rootlesskit", "buildkitd"},
		// Rootless BuildKit in a pod cannot mount a fresh /proc; the build
		// steps share this container's process namespace, which holds
		// nothing but the daemon.
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

// resources are a container's requests and limits, ephemeral storage (its
// writable layer and logs) included.
func resources(cpuReq, memReq, cpuLim, memLim string, diskReq, diskLim resource.Quantity) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse(cpuReq),
			corev1.ResourceMemory:           resource.MustParse(memReq),
			corev1.ResourceEphemeralStorage: diskReq,
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse(cpuLim),
			corev1.ResourceMemory:           resource.MustParse(memLim),
			corev1.ResourceEphemeralStorage: diskLim,
		},
	}
}

func ptr[T any](v T) *T { return &v }
