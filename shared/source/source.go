// Package source decides whether a caller may build FROM an image: a build
// pulls its source with the builder's registry credential wherever that
// credential applies, so a source in the cluster registry must be one the
// caller may read (docs/contract.md, "Isolation").
package source

import (
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/identity"
)

// ServiceName is the cluster registry's Service in OpenServerless.
const ServiceName = "nuvolaris-registry-svc"

// ServicePort is the port of the registry Service.
const ServicePort = "5000"

// Policy says which hosts are the cluster registry, which of its
// repositories every user may build from, and what users may build from
// elsewhere.
type Policy struct {
	hosts map[string]bool // host names, lower case, without port
	// endpoints are the cluster registry's host:port names exactly (the
	// service's with its port), lower case: what a client may be pointed
	// at, and presents the Secret's credential to.
	endpoints map[string]bool
	shared    []string // repository prefixes anyone may read
	allowed   []string // prefixes of host/repository outside the cluster registry
	exact     []string // sources whose repositories are allowed as they are (the builders')
}

// Cluster describes the cluster registry's names.
type Cluster struct {
	// RegistryHost is the resolved registry host[:port].
	RegistryHost string
	// KubeNamespace is where the registry Service lives.
	KubeNamespace string
	// Aliases are other names of the registry (registry_aliases).
	Aliases []string
	// CredentialHosts are the hosts the registry Secret holds a credential
	// for: the build presents it to each of them.
	CredentialHosts []string
	// Shared are repository prefixes every user may build from.
	Shared []string
	// Allowed are the prefixes users may build from outside the cluster
	// registry (allowed_sources): a host and a repository prefix, such as
	// docker.io/apache/openserverless-runtime-; "*" allows any.
	Allowed []string
	// Builders are the sources of the builder catalog, allowed as they are.
	Builders []string
}

// NewPolicy returns the policy for c. Hosts are compared by name alone, case
// folded, whatever their port: a port can only make a source look foreign,
// never make a foreign one look like ours, so ignoring it refuses more, not
// less.
func NewPolicy(c Cluster) Policy {
	p := Policy{hosts: map[string]bool{}, endpoints: map[string]bool{}, shared: c.Shared, exact: c.Builders}
	for _, a := range c.Allowed {
		p.allowed = append(p.allowed, canonical(a))
	}
	add := func(h string) {
		if n := hostname(h); n != "" {
			p.hosts[n] = true
			p.endpoints[endpoint(h)] = true
		}
	}
	add(c.RegistryHost)
	add(ServiceName + ":" + ServicePort)
	if c.KubeNamespace != "" {
		for _, suffix := range []string{"", ".svc", ".svc.cluster.local"} {
			add(ServiceName + "." + c.KubeNamespace + suffix + ":" + ServicePort)
		}
	}
	for _, h := range c.Aliases {
		add(h)
	}
	for _, h := range c.CredentialHosts {
		add(h)
	}
	return p
}

// hostname is host without its port, in lower case, with docker.io spelt
// as go-containerregistry resolves it (index.docker.io).
func hostname(host string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	if r, err := name.NewRegistry(host); err == nil {
		host = r.RegistryStr()
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.Trim(host, "[]"), ".")
}

// InCluster reports whether host[:port] is the cluster registry.
func (p Policy) InCluster(host string) bool { return p.hosts[hostname(host)] }

// ClusterEndpoint reports whether host[:port] is exactly one of the
// cluster registry's names with its port, or a host the registry Secret
// has a credential for: where a client would read what users own, or
// present the builder's credential. (InCluster, for sources, is wider:
// any port.)
func (p Policy) ClusterEndpoint(host string) bool { return p.endpoints[endpoint(host)] }

// CheckMirror refuses a registry_mirrors entry whose mirror is the
// cluster registry or a host the registry Secret has a credential for:
// users own repositories there, and BuildKit would pull with the
// builder's credential, so user apache would decide what
// docker.io/apache/... is for everyone. It is the operator's to mend: 500,
// from send and updatetoml alike.
func (p Policy) CheckMirror(from, mirror string) error {
	if p.ClusterEndpoint(mirror) {
		return apperr.New(http.StatusInternalServerError, "registry_mirrors: the mirror of %s, %s, is the cluster registry or a host the registry Secret holds a credential for: an operator must configure a mirror of its own", from, mirror)
	}
	return nil
}

// endpoint is host[:port] in lower case, with docker.io spelt as
// go-containerregistry resolves it.
func endpoint(host string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	if r, err := name.NewRegistry(host); err == nil {
		host = r.RegistryStr()
	}
	return strings.TrimSuffix(host, ".")
}

// Shared reports whether repo is under a shared prefix.
func (p Policy) Shared(repo string) bool {
	for _, s := range p.shared {
		if repo == s || strings.HasPrefix(repo, s+"/") {
			return true
		}
	}
	return false
}

// canonical spells an allowed_sources prefix as qualified spells a
// reference: lower case, Docker Hub as docker.io, a missing host docker.io.
func canonical(prefix string) string {
	prefix = strings.ToLower(strings.TrimSpace(prefix))
	if prefix == "*" {
		return prefix
	}
	first, _, _ := strings.Cut(prefix, "/")
	if !strings.ContainsAny(first, ".:") && first != "localhost" {
		prefix = "docker.io/" + prefix
	}
	if rest, ok := strings.CutPrefix(prefix, "index.docker.io/"); ok {
		prefix = "docker.io/" + rest
	}
	return prefix
}

// qualified is ref's host and repository, Docker Hub spelt docker.io.
func qualified(ref name.Reference) string {
	host := ref.Context().RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io"
	}
	return strings.ToLower(host) + "/" + ref.Context().RepositoryStr()
}

// Allowed reports whether a source outside the cluster registry is one
// users may build from.
func (p Policy) Allowed(ref name.Reference) bool {
	q := qualified(ref)
	for _, a := range p.allowed {
		if a == "*" || allows(a, q) {
			return true
		}
	}
	// The builders' sources are parsed only here, when no prefix allowed
	// the source: the defaults all stand under allowed_sources.
	for _, b := range p.exact {
		if br, err := name.ParseReference(b); err == nil && qualified(br) == q {
			return true
		}
	}
	return false
}

// allows reports whether the allowed_sources prefix a admits the
// qualified repository q: the host exactly, and the path on a "/"
// boundary, so that registry.example.com admits nothing of
// registry.example.com.attacker.io, nor ghcr.io/myorg anything of
// ghcr.io/myorgevil. A prefix that ends in "-" names the start of one
// repository name: docker.io/apache/openserverless-runtime- admits
// docker.io/apache/openserverless-runtime-python, not one nested below it.
func allows(a, q string) bool {
	a = strings.TrimSuffix(a, "/")
	if q == a || strings.HasPrefix(q, a+"/") {
		return true
	}
	if !strings.HasSuffix(a, "-") || !strings.Contains(a, "/") {
		return false
	}
	rest, ok := strings.CutPrefix(q, a)
	return ok && rest != "" && !strings.Contains(rest, "/")
}

// Authorize checks that caller may build from the source ref (parsed and
// checked by buildspec.ParseSource), before any network call: one in the
// cluster registry must be the caller's, shared, or the caller an admin;
// one elsewhere must be allowed (allowed_sources, the builders' sources),
// or the caller an admin. So no user makes send contact a host of their
// choosing.
func (p Policy) Authorize(caller identity.Caller, ref name.Reference) error {
	repo := ref.Context().RepositoryStr()
	if !p.InCluster(ref.Context().RegistryStr()) {
		if caller.Admin || p.Allowed(ref) {
			return nil
		}
		return apperr.Forbidden("source %q is not one users may build from: use a builder (capabilities lists them), an image under %s (allowed_sources), or your own repositories in the cluster registry", ref.String(), strings.Join(p.allowed, ", "))
	}
	if caller.Admin || caller.Owns(repo) || p.Shared(repo) {
		return nil
	}
	may := []string{caller.Name, caller.Name + "/..."}
	for _, s := range p.shared {
		may = append(may, s, s+"/...")
	}
	return apperr.Forbidden("source %q is in the cluster registry and not yours: you may build from the allowed sources and from %s", ref.String(), strings.Join(may, ", "))
}
