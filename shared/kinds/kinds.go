// Package kinds is the one table of runtime kinds: each kind's requirements
// file and its install step for images without /bin/extend (docs/kinds.md).
package kinds

import "strings"

// Kind is a runtime kind the builder can extend.
type Kind struct {
	Name string
	// File is the kind's requirements file; the build copies it to
	// /tmp/<File>, where the runtime images' /bin/extend reads it.
	File string
	// Install runs, from /tmp, when the image has no /bin/extend: the kind's
	// own package manager, installing where that runtime's launcher looks.
	Install string
}

// table holds the kinds send accepts. Why each fallback installs where it does
// is in docs/kinds.md.
var table = []Kind{
	// The python launcher imports from the interpreter's site-packages.
	{"python", "requirements.txt", "python3 -m pip install --no-cache-dir -r /tmp/requirements.txt"},
	// Node resolves modules from every parent of the action: /node_modules
	// is found by every action under /action.
	{"nodejs", "package.json", "npm install --omit=dev --no-audit --no-fund --prefix /tmp && mkdir -p /node_modules && cp -a /tmp/node_modules/. /node_modules/ && rm -rf /tmp/node_modules /tmp/package-lock.json"},
	// The PHP runtime's runner loads /phpAction/composer/vendor/autoload.php.
	{"php", "composer.json", "mkdir -p /phpAction/composer && cp /tmp/composer.json /phpAction/composer/ && composer install --no-dev --no-interaction --working-dir=/phpAction/composer"},
	// The Java launcher puts every jar of /usr/java/lib on the classpath.
	{"java", "pom.xml", "mvn -q -f /tmp/pom.xml dependency:copy-dependencies -DoutputDirectory=/usr/java/lib"},
	// The Go runtime's compile step builds actions at init as the runtime's
	// user with GOPATH=/home/go, not the image's GOPATH: the modules go to
	// /home/go's module cache, writable by that user (so the compile
	// step's own `go mod download` finds them and can add to it). Go
	// ignores a go.mod in the temp root itself: download from a subdir.
	{"go", "go.mod", "mkdir -p /tmp/gomod && cp /tmp/go.mod /tmp/gomod/ && cd /tmp/gomod && GOPATH=/home/go GOFLAGS=-modcacherw go mod download && chmod -R a+rwX /home/go && rm -rf /tmp/gomod"},
	// Bundler installs into the system gems the Ruby launcher requires from.
	{"ruby", "Gemfile", "bundle install --gemfile=/tmp/Gemfile --system"},
	// The .NET runtime restores into the shared NuGet packages folder.
	{"dotnet", "project.json", "cd /tmp && dotnet restore"},
}

// Lookup returns the kind named name.
func Lookup(name string) (Kind, bool) {
	for _, k := range table {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Names lists the known kinds, for messages.
func Names() []string {
	names := make([]string, len(table))
	for i, k := range table {
		names[i] = k.Name
	}
	return names
}

// ByFile returns the kind whose requirements file is named file (its base
// name), as the builder CLI infers --kind from --requirements.
func ByFile(file string) (Kind, bool) {
	base := file
	if i := strings.LastIndexAny(base, "/\\"); i >= 0 {
		base = base[i+1:]
	}
	for _, k := range table {
		if k.File == base {
			return k, true
		}
	}
	return Kind{}, false
}
