package buildspec

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/apache/openserverless-builder/shared/kinds"
)

func TestIdentity(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	python, _ := kinds.Lookup("python")
	nodejs, _ := kinds.Lookup("nodejs")
	mended := python
	mended.Install += " --no-compile"
	base := Identity(python, d1, []byte("a\n"))
	assert.Len(t, base, 64)
	assert.Equal(t, base, Identity(python, d1, []byte("a\n")), "the same inputs, the same image")
	for name, other := range map[string]string{
		"a moved source tag":    Identity(python, d2, []byte("a\n")),
		"another file":          Identity(python, d1, []byte("b\n")),
		"another kind":          Identity(nodejs, d1, []byte("a\n")),
		"no file":               Identity(python, d1, nil),
		"a mended install step": Identity(mended, d1, []byte("a\n")),
	} {
		assert.NotEqual(t, base, other, name)
	}
}
