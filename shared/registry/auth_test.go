package registry

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/registry/registrytest"
)

func dockerSecret(name, typ, doc string) *corev1.Secret {
	s := registrytest.Secret(name, "nuvolaris", doc)
	s.Type = corev1.SecretType(typ)
	return s
}

func TestAuthenticator(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("pusher:p4ss"))
	doc := `{"auths":{"https://reg:5000/v2/":{"auth":"` + auth + `"},"other:5000":{"username":"o","password":"x"}}}`
	tests := []struct {
		name    string
		creds   Credentials
		objects []runtime.Object
		want    authn.AuthConfig
		status  int
	}{
		{"explicit user wins", Credentials{User: "u", Password: "p", Secret: "s"}, []runtime.Object{dockerSecret("s", "kubernetes.io/dockerconfigjson", doc)}, authn.AuthConfig{Username: "u", Password: "p"}, 0},
		{"secret entry with scheme and path", Credentials{Secret: "s"}, []runtime.Object{dockerSecret("s", "kubernetes.io/dockerconfigjson", doc)}, authn.AuthConfig{Username: "pusher", Password: "p4ss", Auth: auth}, 0},
		{"no secret is anonymous", Credentials{Secret: "s"}, nil, authn.AuthConfig{}, 0},
		{"wrong secret type", Credentials{Secret: "s"}, []runtime.Object{dockerSecret("s", "Opaque", doc)}, authn.AuthConfig{}, 500},
		{"not json", Credentials{Secret: "s"}, []runtime.Object{dockerSecret("s", "kubernetes.io/dockerconfigjson", "{p4ss")}, authn.AuthConfig{}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(tt.objects...)
			a, err := tt.creds.Authenticator(context.Background(), "reg:5000", cs.CoreV1().Secrets("nuvolaris"))
			if tt.status != 0 {
				require.Error(t, err)
				assert.Equal(t, tt.status, apperr.Status(err))
				assert.NotContains(t, err.Error(), "p4ss")
				return
			}
			require.NoError(t, err)
			got, err := a.Authorization()
			require.NoError(t, err)
			assert.Equal(t, tt.want.Username, got.Username)
			assert.Equal(t, tt.want.Password, got.Password)
		})
	}
}

func TestAuthenticatorForbiddenIs502(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("get", "secrets", func(a k8sAction) (bool, runtime.Object, error) {
		return true, nil, forbidden()
	})
	_, err := Credentials{Secret: "s"}.Authenticator(context.Background(), "reg:5000", cs.CoreV1().Secrets("nuvolaris"))
	require.Error(t, err)
	assert.Equal(t, http.StatusBadGateway, apperr.Status(err))
}

type k8sAction = k8stesting.Action

func forbidden() error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "s", nil)
}
