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
)

// secretGetter is the part of the Secret client Authenticator needs.
type secretGetter interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
}

// Credentials say where the builder's registry credentials come from.
type Credentials struct {
	User, Password string // explicit; win over the Secret
	Secret         string // name of a kubernetes.io/dockerconfigjson Secret
}

// Authenticator returns the credentials for host: User and Password when
// set, else host's entry in the Secret, else anonymous (no Secret, or no
// entry for host). secrets may be nil when User and Password are set.
func (c Credentials) Authenticator(ctx context.Context, host string, secrets secretGetter) (authn.Authenticator, error) {
	if c.User != "" || c.Password != "" {
		return &authn.Basic{Username: c.User, Password: c.Password}, nil
	}
	if c.Secret == "" {
		return authn.Anonymous, nil
	}
	s, err := secrets.Get(ctx, c.Secret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return authn.Anonymous, nil
	case err != nil:
		return nil, apperr.Upstream(nil, "reading the registry Secret %q: %s", c.Secret, apierrors.ReasonForError(err))
	}
	if s.Type != corev1.SecretTypeDockerConfigJson {
		return nil, apperr.New(500, "the registry Secret %q has type %q; it must be %s", c.Secret, s.Type, corev1.SecretTypeDockerConfigJson)
	}
	cfg, err := AuthFor(s.Data[corev1.DockerConfigJsonKey], host)
	if err != nil {
		return nil, apperr.New(500, "the registry Secret %q: %v", c.Secret, err)
	}
	if cfg == nil {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(*cfg), nil
}

// SecretHosts returns the hosts the Secret holds a credential for: the
// registries a build, which mounts that Secret, presents it to. No Secret
// is no host.
func (c Credentials) SecretHosts(ctx context.Context, secrets secretGetter) ([]string, error) {
	if c.Secret == "" {
		return nil, nil
	}
	s, err := secrets.Get(ctx, c.Secret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, apperr.Upstream(nil, "reading the registry Secret %q: %s", c.Secret, apierrors.ReasonForError(err))
	}
	var dc dockerConfig
	if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &dc); err != nil {
		return nil, apperr.New(500, "the registry Secret %q: %v", c.Secret, errNotDockerConfig)
	}
	hosts := make([]string, 0, len(dc.Auths))
	for key := range dc.Auths {
		hosts = append(hosts, hostOf(key))
	}
	return hosts, nil
}

// dockerConfig is the .dockerconfigjson document; authn.AuthConfig decodes
// the "auth" field into Username and Password.
type dockerConfig struct {
	Auths map[string]authn.AuthConfig `json:"auths"`
}

// AuthFor returns the entry of a .dockerconfigjson document for host, or nil
// when it has none. Keys may carry a scheme or a path (https://host/v2/).
func AuthFor(doc []byte, host string) (*authn.AuthConfig, error) {
	var dc dockerConfig
	if err := json.Unmarshal(doc, &dc); err != nil {
		// json errors may quote the input: say only what is wrong.
		return nil, errNotDockerConfig
	}
	for key, entry := range dc.Auths {
		if hostOf(key) == host {
			e := entry
			return &e, nil
		}
	}
	return nil, nil
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
