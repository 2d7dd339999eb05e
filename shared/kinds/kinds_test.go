package kinds

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
		// java 25's /bin/extend removes pom.xml and leaves the jars where
		// the compile step does not look: Maven lists them offline from
		// the copy, and the launcher's jar names them.
		{"java", []string{"then cp /tmp/pom.xml /tmp/sent.pom.xml && /bin/extend && cd /tmp && { mvn -B -q -o",
			"-f /tmp/sent.pom.xml dependency:build-classpath", "did not install the dependencies of pom.xml",
			`python3 -c 'import zipfile`, "; else echo 'builder: cannot install the java dependencies"}},
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

// TestLauncherClassPath runs the java kind's manifest step on a launcher
// jar: the jars listed join its Class-Path after those it named, each
// line of the manifest fits the JAR format's 72 bytes, and its other
// attributes and entries stay.
func TestLauncherClassPath(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 runs this step in the java images; install it (./hack/setup.sh)")
	}
	long := "/javaAction/.m2/repository/org/example/a-rather-long-artifact-name/1.2.3/a-rather-long-artifact-name-1.2.3.jar"
	for _, tc := range []struct {
		name, manifest, classpath string
		want                      []string
	}{
		{"no Class-Path yet", "Manifest-Version: 1.0\r\nCreated-By: 17 (Debian)\r\n\r\n",
			"/javaAction/.m2/repository/osb/greeting/1.0.0/greeting-1.0.0.jar:" + long + "\n",
			[]string{"/javaAction/.m2/repository/osb/greeting/1.0.0/greeting-1.0.0.jar", long}},
		{"built from a custom image", "Manifest-Version: 1.0\nCreated-By: 17 (Debian)\nClass-Path: /old/a.jar\n  /old/b.jar\n\n",
			"/old/b.jar:/new/c.jar", []string{"/old/a.jar", "/old/b.jar", "/new/c.jar"}},
		{"nothing to add", "Manifest-Version: 1.0\nCreated-By: 17 (Debian)\n\n", "\n", nil},
		{"a long line of UTF-8", "Manifest-Version: 1.0\nCreated-By: 17 (Debian)\nImplementation-Title: " + strings.Repeat("é", 60) + "\n\n",
			"/new/c.jar", []string{"/new/c.jar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			jar, list := filepath.Join(dir, "launcher.jar"), filepath.Join(dir, "classpath.txt")
			writeJar(t, jar, map[string]string{"META-INF/MANIFEST.MF": tc.manifest, "Launcher.class": "bytecode"})
			require.NoError(t, os.WriteFile(list, []byte(tc.classpath), 0o644))
			script := strings.NewReplacer("/usr/java/lib/launcher.jar", jar, "/tmp/classpath.txt", list).Replace(launcherClassPath)
			out, err := exec.Command("python3", "-c", script).CombinedOutput()
			require.NoError(t, err, "%s", out)

			entries := readJar(t, jar)
			assert.Equal(t, "bytecode", entries["Launcher.class"])
			manifest := entries["META-INF/MANIFEST.MF"]
			for _, line := range strings.Split(manifest, "\n") {
				assert.LessOrEqual(t, len(line), 72, "manifest line %q", line)
			}
			attrs := map[string]string{}
			for _, line := range strings.Split(strings.ReplaceAll(manifest, "\n ", ""), "\n") {
				if k, v, ok := strings.Cut(line, ": "); ok {
					attrs[k] = v
				}
			}
			assert.Equal(t, "1.0", attrs["Manifest-Version"])
			assert.Equal(t, "17 (Debian)", attrs["Created-By"])
			if strings.Contains(tc.manifest, "Implementation-Title") {
				assert.Equal(t, strings.Repeat("é", 60), attrs["Implementation-Title"])
			}
			if tc.want == nil {
				assert.NotContains(t, attrs, "Class-Path")
				return
			}
			assert.Equal(t, tc.want, strings.Fields(attrs["Class-Path"]))
		})
	}
}

func writeJar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = io.WriteString(w, data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func readJar(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	files := map[string]string{}
	for _, f := range zr.File {
		r, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		files[f.Name] = string(data)
	}
	return files
}
