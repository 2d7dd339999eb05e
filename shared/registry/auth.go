package registry

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
)

// Credentials say where the builder's registry credentials come from.
type Credentials struct {
	User, Password string // explicit; win over the Secret
	Secret         string // name of a kubernetes.io/dockerconfigjson Secret
}

// Authenticator returns the credentials for host: User and Password when
// set, else host's entry in the Secret, else anonymous (no Secret, or no
// entry for host). secrets may be nil when User and Password are set.
func (c Credentials) Authenticator(ctx context.Context, host string, secrets kube.Secrets) (authn.Authenticator, error) {
	if c.explicit() {
		return c.With(Secret{}, host), nil
	}
	s, err := c.ReadSecret(ctx, secrets)
	if err != nil {
		return nil, err
	}
	return c.With(s, host), nil
}

// With is Authenticator for a Secret already read.
func (c Credentials) With(s Secret, host string) authn.Authenticator {
	if c.explicit() {
		return &authn.Basic{Username: c.User, Password: c.Password}
	}
	return s.Authenticator(host)
}

func (c Credentials) explicit() bool { return c.User != "" || c.Password != "" }

// Secret is the registry Secret's docker config, read and decoded once:
// the hosts it holds a credential for, and each one's credential.
type Secret struct {
	config dockerConfig // empty: no Secret
}

// ReadSecret reads the registry Secret. No Secret is an empty one.
func (c Credentials) ReadSecret(ctx context.Context, secrets kube.Secrets) (Secret, error) {
	if c.Secret == "" {
		return Secret{}, nil
	}
	s, err := secrets.Get(ctx, c.Secret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Secret{}, nil
	case err != nil:
		return Secret{}, apperr.Upstream(err, "reading the registry Secret %q", c.Secret)
	}
	if s.Type != corev1.SecretTypeDockerConfigJson {
		return Secret{}, apperr.New(500, "the registry Secret %q has type %q; it must be %s", c.Secret, s.Type, corev1.SecretTypeDockerConfigJson)
	}
	dc, err := parseDockerConfig(s.Data[corev1.DockerConfigJsonKey])
	if err != nil {
		return Secret{}, apperr.New(500, "the registry Secret %q: %v", c.Secret, err)
	}
	return Secret{config: dc}, nil
}

// Hosts are the hosts the Secret holds a credential for: the registries a
// build, which mounts it, presents it to.
func (s Secret) Hosts() []string {
	hosts := make([]string, 0, len(s.config.Auths))
	for key := range s.config.Auths {
		hosts = append(hosts, hostOf(key))
	}
	return hosts
}

// Authenticator is the Secret's credential for host, else anonymous.
func (s Secret) Authenticator(host string) authn.Authenticator {
	if cfg := s.config.entry(host); cfg != nil {
		return authn.FromConfig(*cfg)
	}
	return authn.Anonymous
}

// dockerConfig is the .dockerconfigjson document; authn.AuthConfig decodes
// the "auth" field into Username and Password.
type dockerConfig struct {
	Auths map[string]authn.AuthConfig `json:"auths"`
}

func parseDockerConfig(doc []byte) (dockerConfig, error) {
	var dc dockerConfig
	if err := json.Unmarshal(doc, &dc); err != nil {
		// json errors may quote the input: say only what is wrong.
		return dockerConfig{}, errNotDockerConfig
	}
	return dc, nil
}

// entry is the credential for host, or nil when there is none. Keys may
// carry a scheme or a path (https://host/v2/).
func (dc dockerConfig) entry(host string) *authn.AuthConfig {
	for key, e := range dc.Auths {
		if hostOf(key) == host {
			return &e
		}
	}
	return nil
}

type configError string

func (e configError) Error() string { return string(e) }

const errNotDockerConfig = configError("its .dockerconfigjson is not a docker config document with an auths object")

func hostOf(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	if i := strings.Index(key, "/"); i >= 0 {
		key = key[:i]
	}
	return key
}
