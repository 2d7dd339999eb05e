// Package pin resolves what a build request builds on before anything is
// created: the registry host, the push Secret, the source pinned to its
// digest and user, and the digest of the user's cache (docs/contract.md,
// "Sources").
package pin

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/registry"
	"github.com/apache/openserverless-builder/shared/source"
)

// SourceTimeout bounds the resolution of a source, well within the
// actions' time limit (60 s for send, manifest.yaml): a registry that does
// not answer by then is 503.
const SourceTimeout = 20 * time.Second

// Pinned is what a request builds on.
type Pinned struct {
	// Host is the cluster registry the build pushes to.
	Host string
	// Secret is the push Secret the build mounts, read once.
	Secret registry.Secret
	// Base is the source pinned to its digest and user: what the build is
	// FROM.
	Base buildspec.Base
	// Cache waits for the lookup of the user's cache's digest ("" for
	// none), which runs while the source is resolved and the quota read.
	Cache func() (string, error)
}

// Request pins req, after the source rules and after checking that every
// repository the build pushes to (image and cache) is the caller's to
// write: send and ensure start with it, before any network call.
func Request(ctx context.Context, inv *action.Invocation, req buildspec.Request) (Pinned, error) {
	cfg := inv.Config
	for _, repo := range req.Pushes(inv.Caller.Name, cfg) {
		if err := cfg.CheckWritable(repo, inv.Caller.Admin); err != nil {
			return Pinned{}, err
		}
	}
	k, err := inv.Kube()
	if err != nil {
		return Pinned{}, err
	}
	var p Pinned
	if p.Host, err = cfg.ResolveRegistryHost(ctx, k.Core.ConfigMaps(cfg.KubeNamespace)); err != nil {
		return Pinned{}, err
	}
	// The push Secret the build mounts, in the build namespace: the
	// credential send may use is the one the build would use.
	if p.Secret, err = (registry.Credentials{Secret: cfg.RegistrySecret}).ReadSecret(ctx, k.Core.Secrets(cfg.BuildNamespace)); err != nil {
		return Pinned{}, err
	}
	// Whether the caller may build from the source is decided before any
	// registry is asked anything, the cache lookup included.
	policy := clusterPolicy(cfg, p.Host, p.Secret)
	if err := policy.Authorize(inv.Caller, req.SourceRef); err != nil {
		return Pinned{}, err
	}
	p.Cache = lookupCache(ctx, inv, p.Host, p.Secret, buildspec.CacheRef(req, inv.Caller.Name, p.Host, cfg))
	if p.Base, err = resolveSource(ctx, inv, policy, p.Secret, req.SourceRef); err != nil {
		return Pinned{}, err
	}
	return p, nil
}

// clusterPolicy is the source policy of the cluster whose registry is at
// host, with the push Secret's credential hosts.
func clusterPolicy(cfg config.Config, host string, secret registry.Secret) source.Policy {
	return source.NewPolicy(source.Cluster{
		RegistryHost:    host,
		KubeNamespace:   cfg.KubeNamespace,
		Aliases:         cfg.RegistryAliases,
		CredentialHosts: secret.Hosts(),
		Shared:          cfg.SharedRepositories,
		Allowed:         cfg.AllowedSources,
		Builders:        builderSources(cfg),
	})
}

// Image looks up the digest of the image target ("<repo>:<tag>") in the
// cluster registry, with the builder's credentials: ok is false when
// there is none.
func (p Pinned) Image(ctx context.Context, inv *action.Invocation, target string) (digest string, ok bool, err error) {
	reg, err := p.Registry(inv)
	if err != nil {
		return "", false, err
	}
	return reg.Head(ctx, target)
}

// Registry is the client of the cluster registry the build pushes to,
// with the builder's credentials: what looks up and reuses the user's
// images.
func (p Pinned) Registry(inv *action.Invocation) (*registry.Client, error) {
	return inv.Registry(p.Host, inv.Credentials().With(p.Secret, p.Host), inv.Config.RegistryInsecure)
}

// lookupCache starts looking up the digest of the user's cache at cache
// ("" when there is none yet), with the credential the build's fetch step
// will use, for SourceTimeout at most, and returns what waits for it: the
// Job fetches a cache that exists, so no step has to tolerate a failure;
// a lookup that fails is the build's note, not send's error. The registry may take a
// while to check a password (htpasswd's bcrypt), so the lookup runs
// beside send's other calls.
func lookupCache(ctx context.Context, inv *action.Invocation, host string, secret registry.Secret, cache string) func() (string, error) {
	if cache == "" {
		return func() (string, error) { return "", nil }
	}
	type result struct {
		digest string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		reg, err := inv.Registry(host, secret.Authenticator(host), inv.Config.RegistryInsecure)
		if err != nil {
			done <- result{err: err}
			return
		}
		ctx, cancel := context.WithTimeout(ctx, SourceTimeout)
		defer cancel()
		digest, _, err := reg.Head(ctx, strings.TrimPrefix(cache, host+"/"))
		if err != nil {
			// In the builder's words, for the build's note: the build
			// goes on without the cache (builds.Namespace.Start).
			err = apperr.UpstreamSaid(err, "looking up %s failed: %s", cache, strings.TrimSuffix(apperr.Message(err), "; try again shortly"))
		}
		done <- result{digest, err}
	}()
	return sync.OnceValues(func() (string, error) {
		r := <-done
		return r.digest, r.err
	})
}

// resolveSource resolves ref, which policy has authorized, to its digest
// and user: anonymously, or with the builder's credential for a source in
// the cluster registry that the caller may read (the build would pull it
// with that credential too).
func resolveSource(ctx context.Context, inv *action.Invocation, policy source.Policy, secret registry.Secret, ref name.Reference) (buildspec.Base, error) {
	cfg := inv.Config
	reg := ref.Context().RegistryStr()
	from, auth, insecure, credential := reg, authn.Anonymous, false, false
	if policy.InCluster(reg) {
		// The caller may read it: the build fetches it with the builder's
		// credential, and so does send.
		auth, insecure, credential = secret.Authenticator(reg), cfg.RegistryInsecure, true
	} else if mirror, ok := cfg.Mirror(reg); ok {
		// The cluster pulls this registry through its mirror
		// (registry_mirrors, and the buildkitd.toml updatetoml writes):
		// so does send, anonymously as for any outside source. Not from
		// the cluster registry: users own repositories there, and BuildKit
		// would pull with the builder's credential, so user apache would
		// decide what docker.io/apache/... is for everyone.
		if err := policy.CheckMirror(reg, mirror); err != nil {
			return buildspec.Base{}, err
		}
		from, insecure = mirror, cfg.RegistryInsecure
	}
	c, err := inv.Registry(from, auth, insecure)
	if err != nil {
		return buildspec.Base{}, err
	}
	// A registry that accepts the connection and never answers would hold
	// send until OpenWhisk kills it, with nothing said: it has SourceTimeout.
	ctx, cancel := context.WithTimeout(ctx, SourceTimeout)
	defer cancel()
	pinned, err := c.Resolve(ctx, ref)
	if err != nil {
		return buildspec.Base{}, err
	}
	// The fetch step pulls what send checked, where send checked it.
	fetch := from + "/" + ref.Context().RepositoryStr() + "@" + pinned.Digest
	return buildspec.Base{Digest: pinned.Digest, User: pinned.User, Fetch: fetch, Insecure: insecure, Credential: credential}, nil
}

// CheckMirrors refuses (500, the operator's) a registry_mirrors entry
// whose mirror is the cluster registry at host, one of its aliases, or a
// host the push Secret holds a credential for: the check send makes of
// the one mirror it uses, made of them all for the buildkitd.toml
// updatetoml writes.
func CheckMirrors(ctx context.Context, inv *action.Invocation, host string) error {
	cfg := inv.Config
	k, err := inv.Kube()
	if err != nil {
		return err
	}
	secret, err := (registry.Credentials{Secret: cfg.RegistrySecret}).ReadSecret(ctx, k.Core.Secrets(cfg.BuildNamespace))
	if err != nil {
		return err
	}
	cluster := clusterPolicy(cfg, host, secret)
	for from, mirror := range cfg.RegistryMirrors {
		if err := cluster.CheckMirror(from, mirror); err != nil {
			return err
		}
	}
	return nil
}

// builderSources are the sources of the builder catalog.
func builderSources(cfg config.Config) []string {
	out := make([]string, 0, len(cfg.Builders))
	for _, b := range cfg.Builders {
		out = append(out, b.Source)
	}
	return out
}
