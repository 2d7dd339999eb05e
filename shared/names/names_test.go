package names

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/apache/openserverless-builder/shared/reference"
)

func TestNamesFitForEveryUserLength(t *testing.T) {
	seen := map[string]string{}
	for n := 1; n <= 300; n++ {
		user := strings.Repeat("a", n-1) + "z"
		if n > 3 {
			user = "a." + strings.Repeat("b", n-4) + "_c" // dots and underscores are valid in a user name
		}
		for _, id := range []string{"0123456789", "0123456789abcdef0123"} { // send's and ensure's
			name := JobName(user, id)
			assert.Empty(t, validation.IsDNS1123Label(name), "job name %q for user of %d", name, n)
			if other, dup := seen[name]; dup {
				t.Errorf("users %q and %q share job name %q", other, user, name)
			}
			seen[name] = user
		}
		label := UserLabel(user)
		assert.Empty(t, validation.IsValidLabelValue(label), "label %q for user of %d", label, n)
		if other, dup := seen[label]; dup {
			t.Errorf("users %q and %q share label %q", other, user, label)
		}
		seen[label] = user
	}
}

// TestUserLabelIsInjective: a long name is cut and hashed; the result is
// never the whole name of another user, such as the user whose name is
// exactly what the cut used to be.
func TestUserLabelIsInjective(t *testing.T) {
	long := strings.Repeat("a", 70)
	sum := sha256.Sum256([]byte(long))
	oldCut := strings.Repeat("a", 46) + "-" + hex.EncodeToString(sum[:])[:16] // the label long had before
	require.Len(t, oldCut, 63)
	require.True(t, reference.ValidComponent(oldCut), "a valid user name")
	assert.NotEqual(t, UserLabel(long), UserLabel(oldCut))
	assert.Equal(t, oldCut, UserLabel(oldCut), "a name that fits is its own label")
	assert.Empty(t, validation.IsValidLabelValue(UserLabel(long)))
	assert.Len(t, UserLabel(long), 63)
	for _, user := range []string{long, strings.Repeat("b.", 40) + "c", strings.Repeat("x", 255)} {
		label := UserLabel(user)
		assert.NotEqual(t, strings.ToLower(label), label, "a cut label is never a lower-case name: %q", label)
	}
	assert.Equal(t, UserLabel("devel"), UserLabel("DEVEL"), "the same caller")
}

func TestJobNameShape(t *testing.T) {
	hash := func(user string) string {
		sum := sha256.Sum256([]byte(user))
		return hex.EncodeToString(sum[:])[:12]
	}
	for user, want := range map[string]string{
		"devel":   "build-devel-abc",
		"a-b":     "build-a-b-abc",
		"a.b_c":   "build-a-b-c--" + hash("a.b_c") + "-abc",
		"___":     "build-user--" + hash("___") + "-abc",
		"a--b":    "build-a--b--" + hash("a--b") + "-abc",
		"x-y-z.w": "build-x-y-z-w--" + hash("x-y-z.w") + "-abc",
	} {
		assert.Equal(t, want, JobName(user, "abc"), user)
	}
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

func TestIndexName(t *testing.T) {
	long := strings.Repeat("a", 80)
	for _, tc := range []struct{ user, prefix string }{
		{"devel", "index-devel-"},
		{"a.b_c", "index-a-b-c-"},
		{"___", "index-user-"},
		{long, "index-" + strings.Repeat("a", 44) + "-"},
	} {
		got := IndexName(tc.user)
		assert.True(t, strings.HasPrefix(got, tc.prefix), "%s: %s", tc.user, got)
		assert.LessOrEqual(t, len(got), 63, tc.user)
		assert.Regexp(t, `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, got)
	}
	// Users whose sanitized or cut names meet have indexes of their own.
	assert.NotEqual(t, IndexName("a.b"), IndexName("a-b"))
	assert.NotEqual(t, IndexName(long), IndexName(long+"b"))
}

// TestJobNamesKeepUsersApart: users whose names fold or cut alike get
// distinct Job names (and so contexts, records and logs) for the same
// build id, as ensure's ids are: a.b and a-b, two 70-character names that
// share 60, and a name made to look like another's folded one.
func TestJobNamesKeepUsersApart(t *testing.T) {
	long := strings.Repeat("u", 60)
	folded := JobName("a.b", "0123456789abcdef0123")
	_, rest, _ := strings.Cut(strings.TrimPrefix(folded, "build-"), "--")
	mimic := "a-b--" + rest[:12] // a user named like a.b's folded part and hash
	for _, pair := range [][2]string{
		{"a.b", "a-b"},
		{"a.b", "a_b"},
		{long + "aaaaaaaaaa", long + "bbbbbbbbbb"},
		{"a.b", mimic},
	} {
		for _, id := range []string{"0123456789", "0123456789abcdef0123"} {
			assert.NotEqual(t, JobName(pair[0], id), JobName(pair[1], id), "%q and %q", pair[0], pair[1])
			assert.NotEqual(t, RecordName(JobName(pair[0], id)), RecordName(JobName(pair[1], id)))
		}
	}
}
