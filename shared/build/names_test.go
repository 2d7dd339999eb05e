package build

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestNamesFitForEveryUserLength(t *testing.T) {
	seen := map[string]string{}
	for n := 1; n <= 300; n++ {
		user := strings.Repeat("a", n-1) + "z"
		if n > 3 {
			user = "a." + strings.Repeat("b", n-4) + "_c" // dots and underscores are valid in a user name
		}
		name := JobName(user, "0123456789")
		assert.Empty(t, validation.IsDNS1123Label(name), "job name %q for user of %d", name, n)
		label := UserLabel(user)
		assert.Empty(t, validation.IsValidLabelValue(label), "label %q for user of %d", label, n)
		if other, dup := seen[label]; dup {
			t.Errorf("users %q and %q share label %q", other, user, label)
		}
		seen[label] = user
	}
}

func TestJobNameShape(t *testing.T) {
	assert.Equal(t, "build-devel-abc", JobName("devel", "abc"))
	assert.Equal(t, "build-a-b-c-abc", JobName("a.b_c", "abc"))
	assert.Equal(t, "build-user-abc", JobName("___", "abc"))
	assert.Equal(t, "app.kubernetes.io/managed-by=openserverless-builder,builder.openserverless.apache.org/user=devel", UserSelector("devel"))
	assert.Equal(t, "app.kubernetes.io/managed-by=openserverless-builder", UserSelector(""))
}

func TestNewID(t *testing.T) {
	a, err := NewID()
	assert.NoError(t, err)
	b, _ := NewID()
	assert.Len(t, a, 10)
	assert.NotEqual(t, a, b)
}
