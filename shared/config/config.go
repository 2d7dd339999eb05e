// Package config reads the builder's configuration from the package
// parameters bound at deploy time (docs/contract.md, "Configuration").
package config

import (
	"context"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/reference"
)

// Defaults of the package parameters.
const (
	DefaultKubeNamespace = "nuvolaris"
	// DefaultBuildNamespace is where builds live, apart from the system
	// namespace (deploy/rbac.yaml creates it).
	DefaultBuildNamespace = "nuvolaris-builds"
	DefaultRegistryHost   = "nuvolaris-registry-svc:5000"
	DefaultRegistrySecret = "registry-pull-secret"
	DefaultAdmins         = "nuvolaris"
	// DefaultBuildkitImage is the rootless BuildKit release the build Jobs
	// run; a release tag, never a moving one like latest or rootless.
	DefaultBuildkitImage = "moby/buildkit:v0.34.2-rootless"
	// DefaultTransferImage is this project's transfer step (cmd/transfer,
	// built by `make transfer-image`), which fetches a build's source and
	// cache and pushes its image and cache: the only steps that hold the
	// registry credential. Its tag is the release that publishes it.
	DefaultTransferImage = "ghcr.io/apache/openserverless-builder/transfer:v0.1.0"
	DefaultBuildTimeout  = 1800 * time.Second
	// DefaultBuildDisk fits a large Python stack (several GiB installed)
	// with BuildKit's copy of its layers for the export.
	DefaultBuildDisk = "20Gi"
	// DefaultMaxActiveBuilds is how many unfinished builds a user may have.
	DefaultMaxActiveBuilds = 3
	// DefaultMaxRetainedBuilds is how many finished builds a user keeps.
	DefaultMaxRetainedBuilds = 20
	// DefaultRecordRetentionDays is how long build records are kept.
	DefaultRecordRetentionDays = 30
	// DefaultMaxContextBytes bounds a build context: 256 KiB.
	DefaultMaxContextBytes = 256 << 10
	// MaxContextBytesLimit is what one ConfigMap can hold (the API server's
	// limit): max_context_bytes may not exceed it.
	MaxContextBytesLimit = 1 << 20
	// ClusterConfigMap holds the cluster's settings; its annotation
	// registry_host names the internal registry.
	ClusterConfigMap = "config"
	registryHostKey  = "registry_host"
)

// Config is the builder's configuration for one activation.
type Config struct {
	// KubeNamespace holds the cluster's configuration: ConfigMap config
	// and the registry Secret the registry actions read.
	KubeNamespace string
	// BuildNamespace holds the builds: Jobs, contexts, records, the
	// buildkitd ConfigMap and the push Secret the Jobs mount.
	BuildNamespace   string
	Kubeconfig       string // kubeconfig YAML: a secret, never logged or returned
	RegistryHost     string // as given; "" means look it up (ResolveRegistryHost)
	RegistrySecret   string
	RegistryUser     string
	RegistryPassword string // a secret, never logged or returned
	RegistryInsecure bool
	BuildkitImage    string
	TransferImage    string
	BuildTimeout     time.Duration
	// AllowPrivileged lets build Jobs run BuildKit privileged, for clusters
	// where rootless BuildKit cannot create user namespaces.
	AllowPrivileged bool
	// RegistryAliases are other host names of the cluster registry.
	RegistryAliases []string
	// SharedRepositories are repository prefixes every user may build FROM.
	SharedRepositories []string
	// MaxActiveBuilds is how many unfinished builds a user may have; 0 is
	// no limit. Admins are exempt.
	MaxActiveBuilds int
	// MaxRetainedBuilds is how many finished builds a user keeps; send
	// deletes older ones.
	MaxRetainedBuilds int
	// MaxContextBytes bounds the build context (Dockerfile and
	// requirements file).
	MaxContextBytes int
	// RecordRetention is how long build records outlive their Jobs.
	RecordRetention time.Duration
	// BuildCache imports and exports BuildKit's cache at
	// <user>/buildcache:<kind> in the cluster registry.
	BuildCache bool
	// Provenance attaches BuildKit's provenance attestation (mode=min).
	Provenance bool
	// BuildDisk bounds the ephemeral storage of a build pod (build_disk):
	// the daemon's state, where the layers are, is its size.
	BuildDisk resource.Quantity
	// AllowedSources are the registry and repository prefixes users may
	// build FROM outside the cluster registry (allowed_sources); "*"
	// allows any.
	AllowedSources []string
	// Builders is the catalog of named sources (builders).
	Builders map[string]Builder
	// RegistryPullHost is the host in the images users deploy with
	// (registry_pull_host); "" is the push host.
	RegistryPullHost string
	// RegistryMirrors maps a public registry (as go-containerregistry
	// names it: index.docker.io for Docker Hub) to the mirror that serves
	// it to this cluster (registry_mirrors): send resolves sources there
	// and the default buildkitd.toml pulls them from there.
	RegistryMirrors map[string]string
}

// ParamNames are the package parameters FromParams reads: the manifest
// binds every one of them.
func ParamNames() []string {
	return []string{
		"admin_namespaces", "allowed_sources", "build_cache", "build_disk", "build_namespace", "build_timeout_seconds", "builders", "buildkit_image", "buildkit_privileged",
		"kube_namespace", "kubeconfig", "max_active_builds", "max_context_bytes", "max_retained_builds",
		"provenance", "record_retention_days", "registry_aliases", "registry_host", "registry_insecure",
		"registry_mirrors", "registry_password", "registry_pull_host", "registry_secret", "registry_user", "shared_repositories",
		"transfer_image",
	}
}

// FromParams reads and checks the configuration parameters.
func FromParams(p params.Params) (Config, error) {
	var c Config
	var err error
	str := func(key, def string) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = p.String(key, def)
		return strings.TrimSpace(v)
	}
	c.KubeNamespace = str("kube_namespace", DefaultKubeNamespace)
	c.BuildNamespace = str("build_namespace", DefaultBuildNamespace)
	c.Kubeconfig = str("kubeconfig", "")
	c.RegistryHost = str("registry_host", "")
	c.RegistrySecret = str("registry_secret", DefaultRegistrySecret)
	c.RegistryUser = str("registry_user", "")
	c.RegistryPassword = str("registry_password", "")
	c.BuildkitImage = str("buildkit_image", DefaultBuildkitImage)
	c.TransferImage = str("transfer_image", DefaultTransferImage)
	c.RegistryPullHost = str("registry_pull_host", "")
	builders := str("builders", "")
	allowed := str("allowed_sources", "")
	disk := str("build_disk", DefaultBuildDisk)
	aliases := str("registry_aliases", "")
	shared := str("shared_repositories", "")
	mirrors := str("registry_mirrors", "")
	if err != nil {
		return Config{}, err
	}
	if _, err := Admins(p); err != nil {
		return Config{}, err
	}
	if c.RegistryInsecure, err = p.Bool("registry_insecure", true); err != nil {
		return Config{}, err
	}
	if c.AllowPrivileged, err = p.Bool("buildkit_privileged", false); err != nil {
		return Config{}, err
	}
	if c.BuildCache, err = p.Bool("build_cache", true); err != nil {
		return Config{}, err
	}
	if c.Provenance, err = p.Bool("provenance", true); err != nil {
		return Config{}, err
	}
	secs, err := p.Int("build_timeout_seconds", int(DefaultBuildTimeout/time.Second))
	if err != nil {
		return Config{}, err
	}
	if secs < 10 || secs > 24*3600 {
		return Config{}, apperr.BadRequest("build_timeout_seconds must be between 10 and 86400, got %d", secs)
	}
	c.BuildTimeout = time.Duration(secs) * time.Second
	if err := c.readLimits(p); err != nil {
		return Config{}, err
	}
	c.RegistryAliases = List(aliases)
	for _, a := range c.RegistryAliases {
		if err := CheckRegistryHost(a); err != nil {
			return Config{}, apperr.BadRequest("registry_aliases: %q is not a registry host[:port]", a)
		}
	}
	for _, s := range List(shared) {
		s = strings.Trim(s, "/")
		if !reference.ValidRepository(s) {
			return Config{}, apperr.BadRequest("shared_repositories: %q is not a repository prefix such as runtimes or runtimes/python", s)
		}
		c.SharedRepositories = append(c.SharedRepositories, s)
	}
	for _, ns := range [][2]string{{"kube_namespace", c.KubeNamespace}, {"build_namespace", c.BuildNamespace}} {
		if errs := validation.IsDNS1123Label(ns[1]); len(errs) > 0 {
			return Config{}, apperr.BadRequest("%s %q is not a namespace name: %s", ns[0], ns[1], strings.Join(errs, "; "))
		}
	}
	if errs := validation.IsDNS1123Subdomain(c.RegistrySecret); len(errs) > 0 {
		return Config{}, apperr.BadRequest("registry_secret %q is not a Secret name", c.RegistrySecret)
	}
	if c.RegistryHost != "" {
		if err := CheckRegistryHost(c.RegistryHost); err != nil {
			return Config{}, err
		}
	}
	if err := checkPinned("buildkit_image", c.BuildkitImage, DefaultBuildkitImage); err != nil {
		return Config{}, err
	}
	if err := checkPinned("transfer_image", c.TransferImage, DefaultTransferImage); err != nil {
		return Config{}, err
	}
	if c.RegistryPullHost != "" {
		if err := CheckRegistryHost(c.RegistryPullHost); err != nil {
			return Config{}, apperr.BadRequest("registry_pull_host %q is not a registry host[:port]", c.RegistryPullHost)
		}
	}
	if c.RegistryMirrors, err = parseMirrors(mirrors); err != nil {
		return Config{}, err
	}
	if c.Builders, err = parseBuilders(builders); err != nil {
		return Config{}, err
	}
	if c.BuildDisk, err = resource.ParseQuantity(disk); err != nil || c.BuildDisk.Cmp(resource.MustParse("1Gi")) < 0 || c.BuildDisk.Cmp(resource.MustParse("1Ti")) > 0 {
		return Config{}, apperr.BadRequest("build_disk %q is not a size from 1Gi to 1Ti, such as %s", disk, DefaultBuildDisk)
	}
	c.AllowedSources = DefaultAllowedSources()
	if allowed != "" {
		c.AllowedSources = List(allowed)
	}
	return c, nil
}

// readLimits reads the fair-use limits (docs/contract.md, "Isolation").
func (c *Config) readLimits(p params.Params) error {
	var err error
	if c.MaxActiveBuilds, err = p.Int("max_active_builds", DefaultMaxActiveBuilds); err != nil {
		return err
	}
	if c.MaxRetainedBuilds, err = p.Int("max_retained_builds", DefaultMaxRetainedBuilds); err != nil {
		return err
	}
	if c.MaxContextBytes, err = p.Int("max_context_bytes", DefaultMaxContextBytes); err != nil {
		return err
	}
	days, err := p.Int("record_retention_days", DefaultRecordRetentionDays)
	if err != nil {
		return err
	}
	if days < 1 || days > 3650 {
		return apperr.BadRequest("record_retention_days must be between 1 and 3650, got %d", days)
	}
	c.RecordRetention = time.Duration(days) * 24 * time.Hour
	switch {
	case c.MaxActiveBuilds < 0:
		return apperr.BadRequest("max_active_builds must be 0 (no limit) or more, got %d", c.MaxActiveBuilds)
	case c.MaxRetainedBuilds < 0:
		return apperr.BadRequest("max_retained_builds must be 0 or more, got %d", c.MaxRetainedBuilds)
	case c.MaxContextBytes < 1024 || c.MaxContextBytes > MaxContextBytesLimit:
		return apperr.BadRequest("max_context_bytes must be between 1024 and %d (1 MiB, what a ConfigMap holds), got %d", MaxContextBytesLimit, c.MaxContextBytes)
	}
	return nil
}

// DefaultAllowedSources are the images OpenServerless runs actions on: its
// own runtimes, and the OpenWhisk runtimes its runtimes.json names.
func DefaultAllowedSources() []string {
	return []string{
		"docker.io/apache/openserverless-runtime-",
		"docker.io/openwhisk/action-",
		"docker.io/openwhisk/dockerskeleton",
		"ghcr.io/nuvolaris/go-nuvolaris-metaflow",
	}
}

// SharedPrefix is the shared_repositories prefix repo is under, or "".
// Shared repositories are read-only to users: every user may build FROM
// them, only admins push to or delete from them.
func (c Config) SharedPrefix(repo string) string {
	for _, s := range c.SharedRepositories {
		if repo == s || strings.HasPrefix(repo, s+"/") {
			return s
		}
	}
	return ""
}

// CheckWritable refuses a user's write (a build's target, a deletion) to a
// repository under a shared prefix, whatever the user is called: user
// runtimes owns runtimes/... by the naming rule, but must not replace the
// base image every user builds FROM.
func (c Config) CheckWritable(repo string, admin bool) error {
	if prefix := c.SharedPrefix(repo); prefix != "" && !admin {
		return apperr.Forbidden("%s is under the shared prefix %s, which every user builds FROM: only admins write there", repo, prefix)
	}
	return nil
}

// Admins reads admin_namespaces: the namespaces whose plain invocations
// are trusted (docs/contract.md, "Identity"). The caller is resolved with
// it before the rest of the configuration is read.
func Admins(p params.Params) ([]string, error) {
	admins, err := p.String("admin_namespaces", DefaultAdmins)
	if err != nil {
		return nil, err
	}
	return List(admins), nil
}

// List splits a comma-separated parameter, dropping blanks.
func List(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseMirrors reads registry_mirrors: comma-separated
// <registry>=<mirror host[:port]>, such as docker.io=mirror.local:5000.
func parseMirrors(s string) (map[string]string, error) {
	var out map[string]string
	for _, entry := range List(s) {
		from, to, ok := strings.Cut(entry, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		reg, err := name.NewRegistry(from, name.StrictValidation)
		if !ok || err != nil || strings.ContainsAny(from, "/ ") || CheckRegistryHost(to) != nil {
			return nil, apperr.BadRequest("registry_mirrors: %q is not <registry>=<mirror host[:port]>, such as docker.io=mirror.local:5000", entry)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[reg.RegistryStr()] = to
	}
	return out, nil
}

// Mirror is the mirror that serves registry (as go-containerregistry
// names it), if one is configured.
func (c Config) Mirror(registry string) (string, bool) {
	m, ok := c.RegistryMirrors[registry]
	return m, ok
}

// CheckRegistryHost checks that host is a registry host[:port].
func CheckRegistryHost(host string) error {
	if _, err := name.NewRegistry(host, name.StrictValidation); err != nil || strings.ContainsAny(host, "/ ") {
		return apperr.BadRequest("registry_host %q is not a registry host[:port]", host)
	}
	return nil
}

// checkPinned refuses a parameter's image without a tag or digest, or with
// a moving tag.
func checkPinned(param, image, example string) error {
	if _, err := name.NewDigest(image); err == nil {
		return nil
	}
	tag, err := name.NewTag(image)
	// NewTag defaults a missing tag to latest: insist on an explicit one.
	if err != nil || !strings.HasSuffix(image, ":"+tag.TagStr()) {
		return apperr.BadRequest("%s %q is not an image reference with a tag or digest", param, image)
	}
	switch tag.TagStr() {
	case "latest", "rootless", "master", "main", "nightly", "buildx-stable-1", "debug":
		return apperr.BadRequest("%s %q uses a moving tag: pin a release such as %s", param, image, example)
	}
	return nil
}

// ResolveRegistryHost is the registry to use: the registry_host parameter, else the
// registry_host annotation of ConfigMap config, else the in-cluster default.
// cms may be nil when the parameter is set.
func (c Config) ResolveRegistryHost(ctx context.Context, cms kube.ConfigMaps) (string, error) {
	if c.RegistryHost != "" {
		return c.RegistryHost, nil
	}
	cm, err := cms.Get(ctx, ClusterConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return DefaultRegistryHost, nil
	case err != nil:
		return "", apperr.Upstream(err, "reading ConfigMap %s/%s for the registry host", c.KubeNamespace, ClusterConfigMap)
	}
	host := strings.TrimSpace(cm.Annotations[registryHostKey])
	if host == "" {
		return DefaultRegistryHost, nil
	}
	if err := CheckRegistryHost(host); err != nil {
		return "", apperr.New(500, "annotation %s of ConfigMap %s/%s is not a registry host[:port]: %q", registryHostKey, c.KubeNamespace, ClusterConfigMap, host)
	}
	return host, nil
}
