package localstack

import (
	"fmt"
	"maps"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// StandIn is a runtime image made here in place of one users pick, which
// cannot be pulled here: the Debian root filesystem of its kind
// (hack/runtimes.sh: the interpreter and the package manager) under what
// the real image's Dockerfile sets: user, HOME, WORKDIR, environment, the
// folders its launcher uses, a package it ships, and, for the newer
// generation, a /bin/extend written from that runtime's contract.
// docs/kinds.md says which file of the runtime each fact comes from.
type StandIn struct {
	// Ref is where it is pushed, under the shared runtimes/ prefix.
	Ref string
	// Kind names its root filesystem (Tools.RootFS).
	Kind string
	// User is the image's user; empty for root, with no USER set.
	User    string
	Workdir string
	Env     []string
	// Extend is its /bin/extend; empty for the generation without one.
	Extend string
	files  map[string]file
}

// ExtendPath is where a stand-in's /bin/extend is, in its layers.
const ExtendPath = "/usr/bin/extend"

// The stand-ins: for python and nodejs, the generation users pick today
// (no /bin/extend) and the newer one (with it).

// PythonV312 stands in for runtime/python/v3.12 (no /bin/extend).
func PythonV312() StandIn {
	return StandIn{Ref: "runtimes/standin-python:v3.12", Kind: "python", User: "nobody", Workdir: "/action",
		Env: pythonEnv("OW_EXECUTION_ENV=nuvolaris/runtime-python-v3.12.2"), files: pythonFiles()}
}

// PythonV313 stands in for runtime/python/v3.13, with its /bin/extend.
func PythonV313() StandIn {
	return StandIn{Ref: "runtimes/standin-python:v3.13", Kind: "python", User: "nobody", Workdir: "/action",
		Env:    pythonEnv("OW_EXECUTION_ENV=apacheopenserverless/runtime-python-v3.13.15", "PYTHONPYCACHEPREFIX=/tmp/pycache"),
		Extend: pythonExtend, files: pythonFiles()}
}

// NodejsV21 stands in for runtime/nodejs/v21 (no /bin/extend).
func NodejsV21() StandIn {
	return StandIn{Ref: "runtimes/standin-nodejs:v21", Kind: "nodejs", User: "nobody", Workdir: "/app",
		Env: nodeEnv("OW_EXECUTION_ENV=apacheopenserverless/nodejs-21.6.2"), files: nodeFiles()}
}

// NodejsV26 stands in for runtime/nodejs/v26, with its /bin/extend.
func NodejsV26() StandIn {
	return StandIn{Ref: "runtimes/standin-nodejs:v26", Kind: "nodejs", User: "nobody", Workdir: "/app",
		Env:    nodeEnv("OW_EXECUTION_ENV=apacheopenserverless/nodejs-26.7.0"),
		Extend: nodeExtend, files: nodeFiles()}
}

// PhpV83 stands in for runtime/php/v8.3 (no /bin/extend): no USER (root),
// WORKDIR /phpAction, and the packages it ships in /phpAction/composer
// (hack/runtimes.sh installs one there with composer).
func PhpV83() StandIn {
	return StandIn{Ref: "runtimes/standin-php:v8.3", Kind: "php", Workdir: "/phpAction",
		Env:   []string{standinPath, "OW_COMPILER=/bin/compile.php", "OW_EXECUTION_ENV=apacheopenserverless/action-php-v8.3"},
		files: map[string]file{"/phpAction/action/": {mode: 0o755, dir: true}}}
}

// PhpV84 stands in for runtime/php/v8.4, with its /bin/extend: USER
// nobody, WORKDIR /app, HOME=/app and COMPOSER_HOME=/app/.composer, where
// it ships its packages (hack/runtimes.sh installs one there).
func PhpV84() StandIn {
	return StandIn{Ref: "runtimes/standin-php:v8.4", Kind: "php", User: "nobody", Workdir: "/app",
		Env: []string{standinPath, "OW_COMPILER=/bin/compile.php", "OW_EXECUTION_ENV=apacheopenserverless/action-php-v8.4",
			"COMPOSER_HOME=/app/.composer", "HOME=/app"},
		Extend: phpExtend}
}

// JavaV21 stands in for runtime/java/v21 (no /bin/extend): no USER
// (root), WORKDIR /javaAction. Its root filesystem is the java one, whose
// Maven the real image lacks: the build refuses on /bin/extend's absence
// alone.
func JavaV21() StandIn {
	return StandIn{Ref: "runtimes/standin-java:v21", Kind: "java", Workdir: "/javaAction",
		Env: javaEnv("VERSION=21")}
}

// JavaV25 stands in for runtime/java/v25, with its /bin/extend: USER
// nobody, WORKDIR /javaAction, the JDK in /opt/java/openjdk, Maven with
// its local repository in /javaAction/.m2/repository (MAVEN_OPTS), where
// the image ships gson, and the launcher in /usr/java/lib/launcher.jar
// (hack/runtimes.sh makes those).
func JavaV25() StandIn {
	return StandIn{Ref: "runtimes/standin-java:v25", Kind: "java", User: "nobody", Workdir: "/javaAction",
		Env:    javaEnv("VERSION=25", "MAVEN_CONFIG=/javaAction/.m2", "MAVEN_OPTS=-Dmaven.repo.local=/javaAction/.m2/repository"),
		Extend: javaExtend}
}

// javaEnv is the java runtimes' environment (the JDK in /opt/java/openjdk,
// first on PATH), and more.
func javaEnv(more ...string) []string {
	return append([]string{"PATH=/opt/java/openjdk/bin:" + strings.TrimPrefix(standinPath, "PATH="), "JAVA_HOME=/opt/java/openjdk",
		"OW_LOG_INIT_ERROR=1", "OW_COMPILER=/bin/compile", "OW_SAVE_JAR=exec.jar"}, more...)
}

// javaExtend follows runtime/java/v25/bin/extend: Maven copies the
// dependencies of /tmp/pom.xml into /javaAction/.m2/repository, then the
// jars there are listed and the file removed; without set -e.
const javaExtend = `#!/bin/sh
if [ -f /tmp/pom.xml ]; then
    echo "Extending runtime with requested dependencies"
    cd /tmp
    mvn dependency:copy-dependencies -DoutputDirectory=/javaAction/.m2/repository
    echo "Installed dependencies in local repository"
    du -sh /javaAction/.m2/repository
    find /javaAction/.m2/repository -name "*.jar"
    rm -f pom.xml
fi
`

// phpExtend follows runtime/php/v8.4/extend: `composer global require` of
// each package the file requires, then `composer global show`, then the
// file removed; without set -e.
const phpExtend = `#!/bin/sh
if [ -f /tmp/composer.json ]; then
    echo "Extending runtime with requested packages"
    cd /tmp
    jq -r '.require | keys[]' composer.json | while read pkg; do
        composer global require "$pkg"
    done
    echo "Global packages"
    composer global show
    rm -f composer.json
fi
`

const standinPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// pythonEnv is the python runtimes' environment (HOME=/tmp), and more.
func pythonEnv(more ...string) []string {
	return append([]string{standinPath, "HOME=/tmp", "OW_LOG_INIT_ERROR=1", "OW_WAIT_FOR_ACK=1", "OW_COMPILER=/bin/compile"}, more...)
}

// nodeEnv is the nodejs runtimes' environment (HOME=/app), and more.
func nodeEnv(more ...string) []string {
	return append([]string{standinPath, "HOME=/app", "OW_LOG_INIT_ERROR=1", "OW_WAIT_FOR_ACK=1", "OW_COMPILER=/bin/compile"}, more...)
}

// nobody owns the action folders, with group root and mode 0775.
const nobody = 65534

// pythonFiles: /action, the proxy's working folder, owned by nobody. The
// shipped package is Debian's six, in the root filesystem.
func pythonFiles() map[string]file {
	return map[string]file{"/action/": {mode: 0o775, dir: true, uid: nobody}}
}

// nodeFiles: /app and /app/action owned by nobody, and a package the
// runtime ships in /node_modules, named in /package.json as the runtimes'
// `npm install` in / leaves it.
func nodeFiles() map[string]file {
	return map[string]file{
		"/app/":                                  {mode: 0o775, dir: true, uid: nobody},
		"/app/action/":                           {mode: 0o775, dir: true, uid: nobody},
		"/package.json":                          {mode: 0o644, data: []byte(`{"name":"runtime","version":"1.0.0","dependencies":{"osb-shipped":"1.0.0"}}` + "\n")},
		"/node_modules/osb-shipped/package.json": {mode: 0o644, data: []byte(`{"name":"osb-shipped","version":"1.0.0","main":"index.js"}` + "\n")},
		"/node_modules/osb-shipped/index.js":     {mode: 0o644, data: []byte("module.exports = 'shipped by the runtime';\n")},
	}
}

// pythonExtend follows runtime/python/v3.13/bin/extend: install
// /tmp/requirements.txt into the system interpreter. That one runs
// `uv pip install --python python3 --system --no-cache-dir -r`; uv is
// neither in Debian nor reachable here, so pip does the same install.
const pythonExtend = `#!/bin/sh
set -eu
requirements=/tmp/requirements.txt
if test -f "$requirements"
then
    echo "Extending Python runtime with requested requirements"
    python3 -m pip install --no-cache-dir -r "$requirements"
fi
`

// nodeExtend follows runtime/nodejs/v26/bin/extend: a global npm install
// of each dependency named in /tmp/package.json, which it then removes.
const nodeExtend = `#!/bin/sh
if [ -f /tmp/package.json ]; then
    echo "Extending runtime with requested packages"
    cd /tmp
    jq -r '.dependencies | keys[]' package.json | xargs npm install -g
    echo "Global packages"
    npm list -g --depth=0
    rm -f package.json
fi
`

// Image is the stand-in: its root filesystem from tools, then its own
// files and /bin/extend, running as its user in its WORKDIR.
func (s StandIn) Image(tools Tools) (v1.Image, error) {
	rootfs, err := tarball.LayerFromFile(tools.RootFS(s.Kind))
	if err != nil {
		return nil, fmt.Errorf("the %s root filesystem (run `make tools`): %w", s.Kind, err)
	}
	files := maps.Clone(s.files)
	if files == nil {
		files = map[string]file{}
	}
	if s.Extend != "" {
		// Debian's /bin links to usr/bin: an entry under bin/ in an upper
		// layer would hide it.
		files[ExtendPath] = file{mode: 0o755, data: []byte(s.Extend)}
	}
	// This machine's CA certificates, as an image made for a cluster
	// behind a TLS proxy carries its CA: the package managers reach their
	// registries through this machine's.
	if ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		files["/etc/ssl/certs/ca-certificates.crt"] = file{mode: 0o644, data: ca}
	}
	own, err := upperLayer(files)
	if err != nil {
		return nil, err
	}
	return configured([]v1.Layer{rootfs, own}, s.User, s.Workdir, s.Env)
}

// PushStandIn makes s from tools and pushes it to r; it returns its full
// reference.
func (r *Registry) PushStandIn(tools Tools, s StandIn) (string, error) {
	img, err := s.Image(tools)
	if err != nil {
		return "", err
	}
	if err := r.Push(s.Ref, img); err != nil {
		return "", err
	}
	return r.Host + "/" + s.Ref, nil
}
