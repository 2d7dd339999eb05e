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

// Where rootless BuildKit (user 1000, HOME /home/user) reads its files,
// and where the steps hand each other the OCI layout.
const (
	workspaceDir = "/workspace"
	buildkitDir  = "/home/user/.config/buildkit"
	stateDir     = "/home/user/.local/share/buildkit"
	socketDir    = "/run/buildkit"
	// dockerDir holds the registry credential, in fetch and push steps
	// only.
	dockerDir = "/registry-auth"
	// secretsDir holds the build secrets, in the build step only.
	secretsDir = "/build-secrets"
	// layoutDir is the OCI layout every step shares: the fetched source
	// and cache, the built image and cache, each blob once.
	layoutDir = "/layouts"
)

// DaemonAddress is where buildkitd listens, on the emptyDir the daemon
// and the build step share.
const DaemonAddress = "unix://" + socketDir + "/buildkitd.sock"

// Plan is everything a build's objects are made from.
type Plan struct {
	Request
	// Base is the image the build is FROM: the source as send resolved it.
	Base      Base
	ID        string
	User      string // full user name
	Namespace string
	Image     string // full reference pushed: host/repo:tag
	// PullImage is the image users deploy with: Image with the pull host
	// (registry_pull_host), which the annotation and every result name.
	PullImage string
	Insecure  bool   // plain-HTTP registry
	Secret    string // dockerconfigjson Secret of the fetch and push steps
	Buildkit  string // BuildKit image
	Transfer  string // transfer image (cmd/transfer): the fetch and push steps
	Timeout   time.Duration
	// Privileged runs BuildKit privileged, for clusters where rootless
	// BuildKit cannot create user namespaces (an operator's opt-in).
	Privileged bool
	// Cache is the registry reference of the user's BuildKit cache for the
	// kind (host/<user>/buildcache:<kind>); "" builds without a cache.
	Cache string
	// CacheDigest is the digest send found at Cache: the cache the build
	// imports. "" when there is none yet: no step fetches it.
	CacheDigest string
	// Note is what the build's status says beside it (AnnotationNote), "":
	// nothing.
	Note string
	// Provenance attaches BuildKit's provenance attestation (mode=min).
	Provenance bool
	// Disk bounds the pod's ephemeral storage (build_disk): the daemon's
	// limit, its state's and the layouts' emptyDirs.
	Disk resource.Quantity
	// Identity is what the build makes (Identity): the Job's annotation
	// and the image's label.
	Identity string
}

// Base is what a request's source was resolved to: the image the build
// is FROM.
type Base struct {
	Digest string // the image's digest
	User   string // the user the image runs as; "" is root
	// Fetch is where the fetch step pulls the image, pinned by digest: the
	// registry send resolved it at. Insecure is plain HTTP to it;
	// Credential fetches with the registry credential (a cluster source
	// the caller may read), else it goes anonymously.
	Fetch      string
	Insecure   bool
	Credential bool
}

// NewPlan is the one place a plan is assembled: the request of user, build
// id, pushing to the registry at host, FROM base, configured by cfg.
func NewPlan(req Request, user, id, host string, base Base, cfg config.Config) Plan {
	p := Plan{
		Request:    req,
		Base:       base,
		ID:         id,
		User:       user,
		Namespace:  cfg.BuildNamespace,
		Image:      host + "/" + req.Target(),
		PullImage:  cfg.PullHost(host) + "/" + req.Target(),
		Insecure:   cfg.RegistryInsecure,
		Secret:     cfg.RegistrySecret,
		Buildkit:   cfg.BuildkitImage,
		Transfer:   cfg.TransferImage,
		Timeout:    cfg.BuildTimeout,
		Privileged: cfg.AllowPrivileged,
		Provenance: cfg.Provenance,
		Disk:       cfg.BuildDisk,
		Identity:   Identity(req.Kind, base.Digest, req.File),
	}
	p.Cache = CacheRef(req, user, host, cfg)
	return p
}

// CacheRef is the registry reference of user's build cache for the
// request's kind on the registry at host; "" when the build keeps none.
func CacheRef(req Request, user, host string, cfg config.Config) string {
	if !keepsCache(req, user, cfg) {
		return ""
	}
	return host + "/" + names.CacheRepository(user) + ":" + req.Kind.Name
}

// keepsCache reports whether the build keeps a cache: build_cache on, and a
// file to install (a build without one is its source alone, with no step
// to cache: BuildKit exports no cache for it).
func keepsCache(req Request, user string, cfg config.Config) bool {
	return cfg.BuildCache && req.File != nil && reference.ValidRepository(names.CacheRepository(user))
}

// Pushes are the repositories user's build of req pushes to: the target's,
// and the cache's when it keeps one. send and ensure check each is the
// user's to write before any network call.
func (r Request) Pushes(user string, cfg config.Config) []string {
	out := []string{r.Repo}
	if keepsCache(r, user, cfg) {
		out = append(out, names.CacheRepository(user))
	}
	return out
}

// Name of the Job and ConfigMap.
func (p Plan) Name() string { return names.JobName(p.User, p.ID) }

func (p Plan) meta() metav1.ObjectMeta {
	m := metav1.ObjectMeta{
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
			names.AnnotationSourceDigest: p.Base.Digest,
			names.AnnotationKind:         p.Kind.Name,
			names.AnnotationImage:        p.PullImage,
			names.AnnotationIdentity:     p.Identity,
		},
	}
	if p.Note != "" {
		m.Annotations[names.AnnotationNote] = p.Note
	}
	return m
}

// Context is the build context: the Dockerfile and the requirements file,
// keyed by file name as the ConfigMap holds them.
func (p Plan) Context() map[string]string {
	files := map[string]string{"Dockerfile": p.Dockerfile()}
	if p.File != nil {
		files[p.Kind.File] = string(p.File)
		for name, program := range p.Kind.StepFiles() {
			files[name] = program
		}
	}
	return files
}

// ConfigMap holds the build context files, owned by the build's Job, so
// that it goes when the Job goes. It is immutable, and the builder may not
// delete it while its Job owns it (deploy/admission.yaml): what the build
// runs is what send checked.
func (p Plan) ConfigMap(files map[string]string, job *batchv1.Job) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: p.meta(), Data: files, Immutable: ptr(true)}
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

// Job runs one build in a pod whose steps share one OCI layout on an
// emptyDir, so that the registry credential never reaches a process that
// runs, or talks to, the user's build steps (docs/contract.md,
// "Isolation"). In order:
//
//  1. fetch (transfer) fetches the pinned source into the layout:
//     anonymously, or with the credential for a cluster source the caller
//     may read; then fetch-cache (transfer) fetches the user's cache, when
//     send found one, asking for none of the blobs the source brought;
//  2. buildkitd, a native sidecar, runs the user's build steps;
//  3. build (buildctl) builds FROM the source in the layout, imports and
//     exports the cache there and writes the image there, each blob once:
//     neither it nor the daemon holds a credential or talks to a registry;
//  4. push and push-cache (transfer, the main containers) push the image
//     and the cache, mounting the layers the registry holds already.
//
// Only transfer steps mount the Secret, and they run no user code. The
// sidecar's startup probe holds the build step back until the daemon
// answers: no sleep, no race.
func (p Plan) Job() *batchv1.Job {
	deadline := int64(p.Timeout / time.Second)
	ttl := int32(TTLAfterFinished / time.Second)
	initContainers := []corev1.Container{p.fetch()}
	if p.importsCache() {
		initContainers = append(initContainers, p.fetchCache())
	}
	initContainers = append(initContainers, p.daemon(), p.build())
	containers := []corev1.Container{p.push()}
	if p.Cache != "" {
		containers = append(containers, p.pushCache())
	}
	return &batchv1.Job{
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
					InitContainers:               initContainers,
					Containers:                   containers,
					Volumes:                      p.volumes(),
				},
			},
		},
	}
}

// volumes are the pod's volumes; each step mounts only those it needs.
func (p Plan) volumes() []corev1.Volume {
	vols := []corev1.Volume{
		{Name: "workspace", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: p.Name()},
		}}},
		{Name: volumeCredential, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: p.Secret,
			Items:      []corev1.KeyToPath{{Key: corev1.DockerConfigJsonKey, Path: "config.json"}},
			// No Secret: fetch and push anonymously, as the registry
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
		{Name: volumeLayouts, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(p.Disk)}}},
		{Name: "run", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("1Mi"))}}},
	}
	if len(p.Secrets) > 0 {
		// Not optional: a build whose Secret is gone does not run
		// without it.
		vols = append(vols, corev1.Volume{Name: volumeSecrets, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: p.SecretName(),
		}}})
	}
	return vols
}

// SecretName names the build's Secret of build secrets.
func (p Plan) SecretName() string { return names.BuildSecretName(p.Name()) }

// SecretsObject holds the build secrets, owned by the build's Job so that it goes
// when the Job goes, and immutable: what the build reads is what send
// was given. It carries the build's labels and annotations, none of which
// holds a value.
func (p Plan) SecretsObject(job *batchv1.Job) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: p.meta(), Type: corev1.SecretTypeOpaque, Data: p.Secrets, Immutable: ptr(true)}
	s.Name = p.SecretName()
	s.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))}
	return s
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
