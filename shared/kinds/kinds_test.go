package kinds

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKinds(t *testing.T) {
	files := map[string]string{
		"python": "requirements.txt", "nodejs": "package.json", "php": "composer.json",
		"java": "pom.xml", "go": "go.mod", "ruby": "Gemfile", "dotnet": "project.json",
	}
	assert.Len(t, Names(), len(files))
	for name, file := range files {
		k, ok := Lookup(name)
		require.True(t, ok, name)
		assert.Equal(t, file, k.File)
		assert.NotEmpty(t, k.Install)
	}
	_, ok := Lookup("cobol")
	assert.False(t, ok)
}

func TestByFile(t *testing.T) {
	for file, want := range map[string]string{
		"requirements.txt": "python", "deploy/samples/requirements.txt": "python", "package.json": "nodejs",
		"composer.json": "php", "pom.xml": "java", "./go.mod": "go", "Gemfile": "ruby", "project.json": "dotnet",
	} {
		k, ok := ByFile(file)
		require.True(t, ok, file)
		assert.Equal(t, want, k.Name, file)
	}
	_, ok := ByFile("deps.txt")
	assert.False(t, ok)
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		kind string
		want []string
	}{
		// /bin/extend alone, else the kind's package manager.
		{"python", []string{"if [ -x /bin/extend ]; then /bin/extend; else python3 -m pip install", "; fi && rm -f /tmp/requirements.txt"}},
		// The nodejs runtime's /bin/extend removes package.json: a copy is
		// kept for the check after it.
		{"nodejs", []string{"then cp /tmp/package.json /tmp/sent.package.json && /bin/extend && g=$(npm root -g)", `require("/tmp/sent.package.json")`,
			"; else npm install --omit=dev", "rm -f /tmp/package.json /tmp/sent.package.json"}},
		// php 8.4's /bin/extend reads COMPOSER_HOME's composer.json: the
		// file's repositories go there first, and a check comes after.
		{"php", []string{"then cp /tmp/composer.json /tmp/sent.composer.json && if [ -n \"${COMPOSER_HOME:-}\" ]; then",
			"; fi && /bin/extend && php -r", "did not install", "; else mkdir -p /phpAction/user", "composer install --no-dev",
			`require "/phpAction/user/vendor/autoload.php";`}},
		// go 1.25's /bin/extend removes go.mod: the download runs after it,
		// from the copy.
		{"go", []string{"then cp /tmp/go.mod /tmp/sent.go.mod && /bin/extend && mkdir -p /tmp/gomod && cp /tmp/sent.go.mod /tmp/gomod/go.mod",
			"; else mkdir -p /tmp/gomod && cp /tmp/go.mod /tmp/gomod/go.mod", "GOPATH=/home/go"}},
	} {
		k, ok := Lookup(tc.kind)
		require.True(t, ok)
		for _, w := range tc.want {
			assert.Contains(t, k.Run(), w, tc.kind)
		}
	}
}

// TestRefusals runs each refusing kind's install as the build would: it
// fails, and says why on its standard error.
func TestRefusals(t *testing.T) {
	for kind, why := range map[string]string{
		"java":   "package the dependencies in the action's jar",
		"ruby":   "vendor the gems in the action's zip",
		"dotnet": "no .NET SDK to restore packages with",
	} {
		k, ok := Lookup(kind)
		require.True(t, ok)
		var stderr bytes.Buffer
		cmd := exec.Command("sh", "-c", k.Install+"; echo not reached")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, kind)
		assert.Equal(t, 1, exit.ExitCode(), kind)
		assert.Empty(t, out, kind)
		assert.Contains(t, stderr.String(), "builder: cannot install the "+kind+" dependencies: this "+kind+" runtime has no /bin/extend", kind)
		assert.Contains(t, stderr.String(), why, kind)
	}
}
