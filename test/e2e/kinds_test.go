//go:build e2e

package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/test/localstack"
)

var (
	standInsOnce sync.Once
	standIns     map[string]string // Ref → full reference
	standInsErr  error
)

// standIn pushes the runtime stand-ins once and returns s's reference.
func standIn(t *testing.T, s localstack.StandIn) string {
	t.Helper()
	bases(t) // buildkitd.toml
	standInsOnce.Do(func() {
		standIns = map[string]string{}
		for _, s := range []localstack.StandIn{localstack.PythonV312(), localstack.PythonV313(), localstack.NodejsV21(), localstack.NodejsV26(), localstack.PhpV83(), localstack.PhpV84(), localstack.JavaV21(), localstack.JavaV25()} {
			ref, err := stack.registry.PushStandIn(localstack.DefaultTools(), s)
			if err != nil {
				standInsErr = err
				return
			}
			standIns[s.Ref] = ref
		}
	})
	require.NoError(t, standInsErr)
	return standIns[s.Ref]
}

// pythonProbe runs /opt/probe/main.py as the python runtime runs an action:
// from a folder under its action root (/action/action), as nobody, with the
// image's HOME and nothing from the build's environment, and pip cut off
// from any index.
const pythonProbe = `#!/bin/sh
set -eu
d=/action/action/1/bin
mkdir -p $d && cp /opt/probe/main.py $d/ && chown -R nobody $d
cd $d && setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME=/tmp PYTHONPYCACHEPREFIX=/tmp/pycache \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PIP_NO_INDEX=1 python3 main.py
`

// nodeProbe requires as the nodejs runtime's launcher does: from an action
// folder under its action root (/app/action), as nobody, HOME=/app, with
// npm offline.
const nodeProbe = `#!/bin/sh
set -eu
d=/app/action/1/bin
mkdir -p $d && cp /opt/probe/index.js $d/ && chown -R nobody $d
cd $d && setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME=/app \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin npm_config_offline=true node index.js
`

// phpProbe runs /opt/probe/index.php as the php runtime runs an action
// (runtime/php/v8.3/compile.php): from an action folder under
// /phpAction/action, given the runtime's vendor folder since it has none,
// as root (the image sets no USER), with composer's network cut.
const phpProbe = `#!/bin/sh
set -eu
d=/phpAction/action/1/src
mkdir -p $d && cp /opt/probe/index.php $d/ && cp -a /phpAction/composer/vendor $d/vendor
cd $d && env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin COMPOSER_DISABLE_NETWORK=1 php index.php
`

// php84Probe is phpProbe for runtime/php/v8.4 (runtime/php/v8.5/compile.php
// copies /app/.composer/vendor): under /app/action, as nobody, HOME=/app.
const php84Probe = `#!/bin/sh
set -eu
d=/app/action/1/src
mkdir -p $d && cp /opt/probe/index.php $d/ && cp -a /app/.composer/vendor $d/vendor && chown -R nobody $d
cd $d && setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME=/app \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin COMPOSER_DISABLE_NETWORK=1 php index.php
`

// javaProbe compiles and runs /opt/probe/Main.java as the java runtime's
// compile step and launcher do (runtime/java/v25/bin/compile): from an
// action folder under /javaAction/action, as nobody, javac and java given
// the launcher's jar and the gson jars of /javaAction/.m2/repository, and
// nothing else but the action's folder; no Maven runs.
const javaProbe = `#!/bin/sh
set -eu
d=/javaAction/action/1/src
mkdir -p $d && cp /opt/probe/Main.java $d/ && chown -R nobody $d
cd $d && setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/opt/java/openjdk/bin:/usr/sbin:/usr/bin:/sbin:/bin sh -c '
cp=/usr/java/lib/launcher.jar:$(find /javaAction/.m2/repository -name "*.jar" | grep gson | tr "\n" ":")
javac -encoding UTF-8 -cp "$cp" -d . Main.java && java -Dfile.encoding=UTF-8 -cp "$cp$PWD" Launcher "Main#main"'
`

// TestKindsLoadTheirDependencies: for python and nodejs, on both
// generations of runtime (without /bin/extend: the kind's own package
// manager; with it: the runtime's contract), send builds the custom image
// through the zip and the Job, and a probe build FROM that image loads the
// new dependency, and one the runtime ships, as the launcher would. A
// dependency that does not exist fails the build, with the package
// manager's own message in logs. python installs from an index on
// 127.0.0.1 named in requirements.txt; nodejs from the npm registry.
func TestKindsLoadTheirDependencies(t *testing.T) {
	// Each package has a newer version than the file admits: osbprobe is
	// pinned, osbrange bounded by a range.
	index, err := localstack.StartPythonIndex(
		localstack.Wheel{Name: "osbprobe", Version: "1.0", Source: "def hello():\n    return 'osbprobe 1.0 loaded'\n"},
		localstack.Wheel{Name: "osbprobe", Version: "2.0", Source: "def hello():\n    return 'osbprobe 2.0 loaded'\n"},
		localstack.Wheel{Name: "osbrange", Version: "1.5", Source: "__version__ = '1.5'\n"},
		localstack.Wheel{Name: "osbrange", Version: "2.5", Source: "__version__ = '2.5'\n"})
	require.NoError(t, err)
	t.Cleanup(index.Close)
	pyReq := "--index-url " + index.URL + "\nosbprobe==1.0\nosbrange<2\n"
	pyMain := "import osbprobe, osbrange, six\nprint('probe:', osbprobe.hello(), 'osbrange', osbrange.__version__, 'beside six', six.__version__)\n"
	pyUnmet := "--index-url " + index.URL + "\nosbprobe==3.0\n"
	// Each package has a newer version than the file admits: osb/greeting
	// is pinned, osb/ranged bounded by a range; "php" is a platform
	// constraint, not a package.
	greeting := func(v string) localstack.ComposerPackage {
		return localstack.ComposerPackage{Name: "osb/greeting", Version: v, Namespace: `Osb\Greeting`,
			Files: map[string]string{"Hello.php": "<?php\nnamespace Osb\\Greeting;\n\nclass Hello\n{\n    public static function hi(): string\n    {\n        return 'osb/greeting " + v + " loaded';\n    }\n}\n"}}
	}
	ranged := func(v string) localstack.ComposerPackage {
		return localstack.ComposerPackage{Name: "osb/ranged", Version: v, Namespace: `Osb\Ranged`,
			Files: map[string]string{"Version.php": "<?php\nnamespace Osb\\Ranged;\n\nclass Version\n{\n    public static function v(): string\n    {\n        return '" + v + "';\n    }\n}\n"}}
	}
	repo, err := localstack.StartComposerRepository(greeting("1.0.0"), greeting("2.0.0"), ranged("1.5.0"), ranged("2.5.0"))
	require.NoError(t, err)
	t.Cleanup(repo.Close)
	composer := func(pkg string) string {
		return `{"require": {"php": ">=8.1", "` + pkg + `": "1.0.0", "osb/ranged": "<2"}, "repositories": [{"type": "composer", "url": "` + repo.URL + `"}, {"packagist.org": false}], "config": {"secure-http": false}}`
	}
	phpMain := "<?php\nrequire __DIR__ . '/vendor/autoload.php';\necho 'probe: ', \\Osb\\Greeting\\Hello::hi(), ' osb/ranged ', \\Osb\\Ranged\\Version::v(), ' beside ', \\Osb\\Shipped\\Package::name(), \"\\n\";\n"
	// Each artifact has a newer version than the pom admits: greeting is
	// pinned, ranged bounded by a range.
	maven, err := localstack.StartMavenRepository(localstack.DefaultTools().MavenRepository(),
		localstack.MavenArtifact{Group: "osb", Artifact: "greeting", Version: "1.0.0", Class: "osb/greeting/Hello", Method: "hello", Returns: "osb:greeting 1.0.0 loaded"},
		localstack.MavenArtifact{Group: "osb", Artifact: "greeting", Version: "2.0.0", Class: "osb/greeting/Hello", Method: "hello", Returns: "osb:greeting 2.0.0 loaded"},
		localstack.MavenArtifact{Group: "osb", Artifact: "ranged", Version: "1.5.0", Class: "osb/ranged/Version", Method: "v", Returns: "osb:ranged 1.5.0"},
		localstack.MavenArtifact{Group: "osb", Artifact: "ranged", Version: "2.5.0", Class: "osb/ranged/Version", Method: "v", Returns: "osb:ranged 2.5.0"})
	require.NoError(t, err)
	t.Cleanup(maven.Close)
	// A pom names the repository as its central one, for dependencies and
	// plugins. It names the dependency plugin's version: the repository
	// serves the one Debian packages, not Maven 3.8's default (2.8).
	pom := func(version string) string {
		return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>my</groupId><artifactId>action</artifactId><version>1.0.0</version>
  <repositories><repository><id>central</id><url>` + maven.URL + `</url></repository></repositories>
  <pluginRepositories><pluginRepository><id>central</id><url>` + maven.URL + `</url></pluginRepository></pluginRepositories>
  <dependencies><dependency><groupId>osb</groupId><artifactId>greeting</artifactId><version>` + version + `</version></dependency>
    <dependency><groupId>osb</groupId><artifactId>ranged</artifactId><version>[1.0,2.0)</version></dependency></dependencies>
  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.5.0</version></plugin></plugins></build>
</project>`
	}
	javaMain := "import com.google.gson.JsonObject;\n\npublic class Main {\n    public static JsonObject main(JsonObject args) {\n" +
		"        JsonObject out = new JsonObject();\n        out.addProperty(\"probe\", osb.greeting.Hello.hello() + \" \" + osb.ranged.Version.v() + \" beside gson\");\n        return out;\n    }\n}\n"
	// is-number pinned below its latest (7.0.0), kind-of by a range below
	// its latest (6.0.3): the probe prints what it loads.
	nodeDeps := `{"dependencies":{"is-number":"6.0.0","kind-of":"<6"}}`
	nodeMain := "const isNumber = require('is-number');\nconst shipped = require('osb-shipped');\n" +
		"console.log('probe: is-number', require('is-number/package.json').version, isNumber(7), 'kind-of', require('kind-of/package.json').version, 'beside', shipped);\n"
	nodeUnmet := `{"dependencies":{"is-number":"99.0.0"}}`

	for _, tc := range []struct {
		name    string
		standIn localstack.StandIn
		kind    string
		file    string
		probe   string
		files   map[string]string
		want    string
		missing string // requirements whose constraint no version meets (or no package exists for)
		refusal string // the package manager's message for it
	}{
		{"python v3.12 (pip)", localstack.PythonV312(), "python", pyReq, pythonProbe, map[string]string{"/opt/probe/main.py": pyMain},
			"probe: osbprobe 1.0 loaded osbrange 1.5 beside six", pyUnmet, "No matching distribution found for osbprobe==3.0"},
		{"python v3.13 (/bin/extend)", localstack.PythonV313(), "python", pyReq, pythonProbe, map[string]string{"/opt/probe/main.py": pyMain},
			"probe: osbprobe 1.0 loaded osbrange 1.5 beside six", pyUnmet, "No matching distribution found for osbprobe==3.0"},
		{"nodejs v21 (npm)", localstack.NodejsV21(), "nodejs", nodeDeps, nodeProbe, map[string]string{"/opt/probe/index.js": nodeMain},
			"probe: is-number 6.0.0 true kind-of 5.1.0 beside shipped by the runtime", nodeUnmet, "No matching version found for is-number@99.0.0"},
		{"nodejs v26 (/bin/extend)", localstack.NodejsV26(), "nodejs", nodeDeps, nodeProbe, map[string]string{"/opt/probe/index.js": nodeMain},
			"probe: is-number 6.0.0 true kind-of 5.1.0 beside shipped by the runtime", nodeUnmet, "No matching version found for is-number@99.0.0"},
		{"php v8.3 (composer)", localstack.PhpV83(), "php", composer("osb/greeting"), phpProbe, map[string]string{"/opt/probe/index.php": phpMain},
			"probe: osb/greeting 1.0.0 loaded osb/ranged 1.5.0 beside shipped by the runtime", composer("osb/missing"), "osb/missing, it could not be found"},
		{"php v8.4 (/bin/extend)", localstack.PhpV84(), "php", composer("osb/greeting"), php84Probe, map[string]string{"/opt/probe/index.php": phpMain},
			"probe: osb/greeting 1.0.0 loaded osb/ranged 1.5.0 beside shipped by the runtime", composer("osb/missing"), "matching version of package osb/missing"},
		{"java v25 (/bin/extend)", localstack.JavaV25(), "java", pom("1.0.0"), javaProbe, map[string]string{"/opt/probe/Main.java": javaMain},
			`{"probe":"osb:greeting 1.0.0 loaded osb:ranged 1.5.0 beside gson"}`, pom("3.0.0"), "Could not find artifact osb:greeting:jar:3.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			source := standIn(t, tc.standIn)
			t.Parallel()
			user := "kinds-" + strings.NewReplacer(":", "-", ".", "").Replace(strings.TrimPrefix(tc.standIn.Ref, "runtimes/standin-"))
			sent, st := buildAndWait(t, user, map[string]any{
				"source": source, "target": user + "/custom:v1", "kind": tc.kind, "file": b64(tc.file),
			})
			require.Equal(t, "succeeded", st["status"], "%v", st["logs"])

			files := map[string]string{localstack.ExtendPath: tc.probe}
			for p, data := range tc.files {
				files[p] = data
			}
			probe := probeImage(t, sent["image"].(string), files)
			// The probe's file asks for nothing: its /bin/extend is the probe,
			// which installs nothing for the kind's checks to find.
			// Maven runs offline after it: the pom names the plugin the
			// custom image's build fetched.
			nothing := map[string]string{"python": "\n", "nodejs": `{"dependencies": {}}`, "php": `{"require": {}}`,
				"java": `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>probe</groupId><artifactId>probe</artifactId><version>1</version>` +
					`<build><plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.5.0</version></plugin></plugins></build></project>`}[tc.kind]
			_, st = buildAndWait(t, user, map[string]any{"source": probe, "target": user + "/probe:v1", "kind": tc.kind, "file": b64(nothing)})
			require.Equal(t, "succeeded", st["status"], "the probe loads the dependency: %v", st["logs"])
			assert.Contains(t, st["logs"], tc.want)

			_, st = buildAndWait(t, user, map[string]any{"source": source, "target": user + "/missing:v1", "kind": tc.kind, "file": b64(tc.missing)})
			assert.Equal(t, "failed", st["status"])
			assert.Contains(t, st["logs"], tc.refusal, "the package manager's own message")
		})
	}
}

// TestKindsRefusedWithoutExtend: java, ruby and dotnet images without
// /bin/extend cannot be extended where their launchers look
// (docs/kinds.md): the build fails at once, and logs says why and what to
// do instead. java is refused on its v21 stand-in; ruby and dotnet, which
// have none, on an image without /bin/extend.
func TestKindsRefusedWithoutExtend(t *testing.T) {
	_, plain := bases(t)
	java := standIn(t, localstack.JavaV21())
	for kind, tc := range map[string]struct{ source, file, why string }{
		"java":   {java, "<project/>", "package the dependencies in the action's jar"},
		"ruby":   {plain, "source 'https://rubygems.org'\n", "vendor the gems in the action's zip"},
		"dotnet": {plain, "{}", "no .NET SDK to restore packages with"},
	} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			_, st := buildAndWait(t, "refused-"+kind, map[string]any{"source": tc.source, "target": "refused-" + kind + ":v1", "kind": kind, "file": b64(tc.file)})
			assert.Equal(t, "failed", st["status"])
			assert.Contains(t, st["logs"], "builder: cannot install the "+kind+" dependencies")
			assert.Contains(t, st["logs"], tc.why)
		})
	}
}
