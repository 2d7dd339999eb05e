package kinds

import (
	"bytes"
	"os"
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
		// The file from the context; /bin/extend alone, else the kind's
		// package manager; the file gone within the same step.
		{"python", []string{"cp /builder-context/requirements.txt /tmp/requirements.txt && if [ -x /bin/extend ]; then /bin/extend; else python3 -m pip install", "; fi && rm -f /tmp/requirements.txt"}},
		// The nodejs runtime's /bin/extend removes package.json: a copy is
		// kept for the check after it.
		{"nodejs", []string{"then cp /tmp/package.json /tmp/sent.package.json && /bin/extend && node /builder-context/nodejs-pin.js /tmp/sent.package.json && sh /builder-context/nodejs-link.sh && node /builder-context/nodejs-check.js /tmp/sent.package.json",
			"; else npm install --omit=dev", "rm -f /tmp/package.json /tmp/sent.package.json"}},
		// php 8.4's /bin/extend reads COMPOSER_HOME's composer.json: the
		// file's repositories go there first, and a check comes after.
		{"php", []string{"then cp /tmp/composer.json /tmp/sent.composer.json && php /builder-context/php-prepare.php /tmp/sent.composer.json && /bin/extend && php /builder-context/php-pin.php /tmp/sent.composer.json && php /builder-context/php-check.php /tmp/sent.composer.json",
			"; else sh /builder-context/php-install.sh /tmp/composer.json"}},
		// go 1.25's /bin/extend removes go.mod: the download runs after it,
		// from the copy.
		{"go", []string{"then cp /tmp/go.mod /tmp/sent.go.mod && /bin/extend && sh /builder-context/go-download.sh /tmp/sent.go.mod",
			"; else sh /builder-context/go-download.sh /tmp/go.mod"}},
		// java 25's /bin/extend removes pom.xml and leaves the jars where
		// the compile step does not look: Maven lists them offline from
		// the copy, and the launcher's jar names them.
		{"java", []string{"then cp /tmp/pom.xml /tmp/sent.pom.xml && /bin/extend && sh /builder-context/java-classpath.sh /tmp/sent.pom.xml",
			"; else echo 'builder: cannot install the java dependencies"}},
	} {
		k, ok := Lookup(tc.kind)
		require.True(t, ok)
		for _, w := range tc.want {
			assert.Contains(t, k.Run(), w, tc.kind)
		}
	}
}

// TestStepsAreEmbedded: every program a kind names is embedded, and
// every program of steps/ is some kind's.
func TestStepsAreEmbedded(t *testing.T) {
	named := map[string]bool{}
	for _, n := range Names() {
		k, _ := Lookup(n)
		files := k.StepFiles()
		assert.Len(t, files, len(k.Steps), n)
		for _, name := range k.Steps {
			assert.NotEmpty(t, files[name], "%s: %s", n, name)
			if name != "java-launcher.py" { // java-classpath.sh runs it
				assert.Contains(t, k.Run(), name, "%s runs %s", n, name)
			}
			named[name] = true
		}
	}
	entries, err := os.ReadDir("steps")
	require.NoError(t, err)
	for _, e := range entries {
		if !e.IsDir() {
			assert.True(t, named[e.Name()], "steps/%s is no kind's step", e.Name())
		}
	}
	// java-classpath.sh runs java-launcher.py beside it: both ship.
	java, _ := Lookup("java")
	assert.Contains(t, java.StepFiles()["java-classpath.sh"], `"$dir/java-launcher.py"`)
}

// TestStepPrograms runs the step programs' own tests (steps/tests), each
// with the interpreter the build runs that program with.
func TestStepPrograms(t *testing.T) {
	for _, tc := range []struct {
		interpreter string
		args        []string
	}{
		{"sh", []string{"steps/tests/steps_test.sh"}},
		{"node", []string{"--test", "steps/tests/"}},
		{"python3", []string{"-m", "unittest", "discover", "-s", "steps/tests", "-p", "test_*.py"}},
		{"php", []string{"steps/tests/php_test.php"}},
	} {
		t.Run(tc.interpreter, func(t *testing.T) {
			if _, err := exec.LookPath(tc.interpreter); err != nil {
				t.Fatalf("%s runs these steps in the runtime images; install it (./hack/setup.sh)", tc.interpreter)
			}
			out, err := exec.Command(tc.interpreter, tc.args...).CombinedOutput()
			require.NoError(t, err, "%s", out)
		})
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

// TestLauncherClassPath runs the java kind's manifest step on a launcher
// jar: the jars listed join its Class-Path after those it named, each
// line of the manifest fits the JAR format's 72 bytes, and its other
// attributes and entries stay.
