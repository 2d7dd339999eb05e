// Package kinds is the one table of runtime kinds: each kind's requirements
// file and its install step for images without /bin/extend (docs/kinds.md).
// The steps longer than a command are programs in steps/, each in its own
// language beside its tests (steps/tests): the build carries the ones its
// kind names in its context, and runs them from ContextDir.
package kinds

import (
	"embed"
	"sort"
	"strings"
)

// steps are the kinds' step programs.
//
//go:embed steps/*.sh steps/*.js steps/*.py steps/*.php
var steps embed.FS

// ContextDir is where a build's install step finds the requirements file
// and the step programs: the build context, mounted for that step alone,
// so neither is left in the image or its history.
const ContextDir = "/builder-context"

// step is the command that runs program (a file of steps/) with args.
func step(interpreter, program string, args ...string) string {
	return strings.Join(append([]string{interpreter, ContextDir + "/" + program}, args...), " ")
}

// Kind is a runtime kind the builder can extend.
type Kind struct {
	Name string
	// File is the kind's requirements file; the install step copies it
	// from the context to /tmp/<File>, where the runtime images'
	// /bin/extend reads it, and removes it before the step ends.
	File string
	// Install runs, from /tmp, when the image has no /bin/extend: the kind's
	// own package manager, installing where that runtime's launcher looks,
	// or a refusal that says what the image lacks.
	Install string
	// Prepare, when set, runs before the image's /bin/extend: what its
	// /bin/extend needs of the file that it does not read itself.
	Prepare string
	// Extended, when set, runs after the image's /bin/extend: what the
	// runtime's launcher needs beyond what its /bin/extend does.
	Extended string
	// Steps are the programs of steps/ that Install, Prepare and Extended
	// run.
	Steps []string
	// Unattended, when set, is exported in the install step's shell
	// before anything runs: what keeps the package manager from asking
	// a question nobody can answer.
	Unattended string
	// Secrets are the build secrets the kind's package manager reads
	// (docs/kinds.md): the only names send accepts for it.
	Secrets []Secret
}

// Secret is a build secret a kind's package manager reads during the
// install step alone: BuildKit mounts it at Target for that RUN, and
// Env, when set, is the assignment that points the package manager at
// it, exported in that RUN's shell alone. Neither reaches the image.
type Secret struct {
	Name   string
	Target string
	Env    string
}

// secretFile is a secret mounted where BuildKit mounts secrets by
// default, and named to the package manager by the variable env.
func secretFile(name, env string) Secret {
	return Secret{Name: name, Target: SecretsDir + "/" + name, Env: env + "=" + SecretsDir + "/" + name}
}

// SecretsDir is where the install step finds the build secrets, mounted
// for that step alone.
const SecretsDir = "/run/secrets"

// table holds the kinds send accepts. Why each fallback installs where it does
// is in docs/kinds.md.
var table = []Kind{
	// The python launcher imports from the interpreter's site-packages.
	// pip reads a configuration file (an index URL with its credential) and
	// a .netrc (the credential of an index the file names).
	// Without PIP_NO_INPUT, an index that answers 401 makes pip prompt
	// for a user, and the build fail with a traceback of the prompt.
	{Name: "python", File: "requirements.txt", Install: "python3 -m pip install --no-cache-dir -r /tmp/requirements.txt",
		Unattended: "PIP_NO_INPUT=1",
		Secrets:    []Secret{secretFile("pip.conf", "PIP_CONFIG_FILE"), secretFile("netrc", "NETRC")}},
	// Node resolves modules from every parent of the action: /node_modules
	// is found by every action under the runtime's action root, beside the
	// packages the runtime ships there. The runtimes' /bin/extend installs
	// globally (npm install -g), where require never looks: link each
	// global package (but npm's own) into /node_modules. It installs the
	// names alone, the latest of each: the declared versions are
	// installed over them first, and checked after.
	{Name: "nodejs", File: "package.json",
		Install: "npm install --omit=dev --no-audit --no-fund --prefix /tmp && mkdir -p /node_modules && cp -a /tmp/node_modules/. /node_modules/ && rm -rf /tmp/node_modules /tmp/package-lock.json",
		Extended: step("node", "nodejs-pin.js", sent+"package.json") + " && " + step("sh", "nodejs-link.sh") + " && " +
			step("node", "nodejs-check.js", sent+"package.json"),
		Steps: []string{"nodejs-pin.js", "nodejs-link.sh", "nodejs-check.js"},
		// npm reads its user configuration (a registry and its token) from
		// the file npm_config_userconfig names.
		Secrets: []Secret{secretFile("npmrc", "NPM_CONFIG_USERCONFIG")}},
	// The PHP runtime's compile step copies /phpAction/composer/vendor into
	// an action without one, and the runner loads its autoload.php: the
	// user's packages are installed beside the ones the runtime ships there,
	// whose autoloader then loads the user's too.
	// The php runtimes' /bin/extend (8.4) runs `composer global require` of
	// each package, which reads the repositories and config of
	// COMPOSER_HOME's composer.json, not the file's, and ends with success
	// when composer failed: the file's are merged there first. It requires
	// the names alone, the latest of each, and platform entries (php,
	// ext-*) as packages: each entry is required again with its
	// constraint after it, and each package checked.
	{Name: "php", File: "composer.json",
		Install:  step("sh", "php-install.sh", "/tmp/composer.json"),
		Prepare:  step("php", "php-prepare.php", sent+"composer.json"),
		Extended: step("php", "php-pin.php", sent+"composer.json") + " && " + step("php", "php-check.php", sent+"composer.json"),
		Steps:    []string{"php-install.sh", "php-prepare.php", "php-pin.php", "php-check.php"},
		// composer reads auth.json's content from COMPOSER_AUTH, which
		// takes precedence over the auth.json of COMPOSER_HOME.
		Secrets: []Secret{{Name: "auth.json", Target: SecretsDir + "/auth.json", Env: `COMPOSER_AUTH="$(cat ` + SecretsDir + `/auth.json)"`}}},
	// The Java runtimes' compile step puts only the launcher, gson and the
	// action's own jars on the classpath, and the images without
	// /bin/extend have no Maven. The java runtimes' /bin/extend (25) copies
	// the pom's dependencies into the local repository, which that
	// classpath does not name either, and ends with success when Maven
	// failed: the launcher's jar then names them (javaClassPath).
	{Name: "java", File: "pom.xml", Install: refuse("java",
		"this java runtime has no /bin/extend and no Maven, and its compile step loads only the action's own jars: "+
			"package the dependencies in the action's jar (a jar with dependencies), or use a java runtime with /bin/extend (v25)"),
		Extended: step("sh", "java-classpath.sh", sent+"pom.xml"),
		Steps:    []string{"java-classpath.sh", "java-launcher.py"},
		// Maven 3.8 (Debian's, the runtimes') reads the user settings
		// (servers and their credentials, mirrors) from ~/.m2/settings.xml
		// of the user it runs as, root in the install step, and takes no
		// variable for another file.
		Secrets: []Secret{{Name: "settings.xml", Target: "/root/.m2/settings.xml"}}},
	// The Go runtime's compile step builds actions at init as the runtime's
	// user with GOPATH=/home/go, not the image's GOPATH: the modules go to
	// /home/go's module cache, writable by that user (so the compile
	// step's own `go mod download` finds them and can add to it). The
	// runtimes' /bin/extend (go 1.25) only removes go.mod, which would
	// leave every download to the action's init: the same download runs
	// after it, from the copy of the file sent.
	// The go command reads a go env file (GOPROXY, GONOSUMDB, GOPRIVATE,
	// a proxy's credential in its URL) from GOENV, and the credentials of
	// HTTPS hosts from NETRC.
	{Name: "go", File: "go.mod", Install: step("sh", "go-download.sh", "/tmp/go.mod"), Extended: step("sh", "go-download.sh", sent+"go.mod"),
		Steps: []string{"go-download.sh"}, Secrets: []Secret{secretFile("goenv", "GOENV"), secretFile("netrc", "NETRC")}},
	// The Ruby launcher runs actions under bundler, with the action's own
	// Gemfile: gems installed in the image are not what it loads.
	{Name: "ruby", File: "Gemfile", Install: refuse("ruby",
		"this ruby runtime has no /bin/extend, and its launcher loads gems through the action's own Gemfile: "+
			"vendor the gems in the action's zip (bundle install --path vendor/bundle)")},
	// The .NET runtime images carry no SDK to restore with, and
	// project.json is the .NET Core 1.x project format.
	{Name: "dotnet", File: "project.json", Install: refuse("dotnet",
		"this dotnet runtime has no /bin/extend and no .NET SDK to restore packages with: "+
			"publish the action with its dependencies (dotnet publish) and zip the output")},
}

// refuse is the install of a kind whose images without /bin/extend cannot
// be extended: the build fails at once with why, in the build's log.
func refuse(kind, why string) string {
	msg := "builder: cannot install the " + kind + " dependencies: " + why
	return "echo '" + strings.ReplaceAll(msg, "'", `'\''`) + "' >&2; exit 1"
}

// Run is the build's install step: the requirements file copied from the
// context, then the image's /bin/extend when it has one, else the kind's
// Install; then the file goes. It is made and removed within the one step,
// so no layer holds it.
//
// A /bin/extend may remove the file (the nodejs, php, go and java runtimes' do):
// Prepare and Extended read the copy the step keeps in /tmp/sent.<file>.
func (k Kind) Run() string {
	extend := "/bin/extend"
	if k.Prepare != "" {
		extend = k.Prepare + " && " + extend
	}
	if k.Extended != "" {
		extend += " && " + k.Extended
	}
	if k.Prepare != "" || k.Extended != "" {
		extend = "cp /tmp/" + k.File + " " + k.Sent() + " && " + extend
	}
	run := "cp " + ContextDir + "/" + k.File + " /tmp/" + k.File + " && " +
		"if [ -x /bin/extend ]; then " + extend + "; else " + k.Install + "; fi && rm -f /tmp/" + k.File + " " + k.Sent()
	if k.Unattended != "" {
		run = "export " + k.Unattended + " && " + run
	}
	return run
}

// SecretNames are the names of the kind's build secrets, in the table's
// order.
func (k Kind) SecretNames() []string {
	out := make([]string, len(k.Secrets))
	for i, s := range k.Secrets {
		out[i] = s.Name
	}
	return out
}

// Secret is the kind's build secret called name.
func (k Kind) Secret(name string) (Secret, bool) {
	for _, s := range k.Secrets {
		if s.Name == name {
			return s, true
		}
	}
	return Secret{}, false
}

// StepFiles are the programs the kind's steps run, by file name, as the
// build context carries them.
func (k Kind) StepFiles() map[string]string {
	out := make(map[string]string, len(k.Steps))
	for _, name := range k.Steps {
		data, err := steps.ReadFile("steps/" + name)
		if err != nil {
			panic("kinds: the table names a step that is not embedded: " + name) // caught by TestStepsAreEmbedded
		}
		out[name] = string(data)
	}
	return out
}

// StepNames are the names of StepFiles, sorted.
func (k Kind) StepNames() []string {
	names := append([]string{}, k.Steps...)
	sort.Strings(names)
	return names
}

// Sent is where the install step keeps the file as it was sent.
func (k Kind) Sent() string { return sent + k.File }

// sent prefixes the copy of the file sent, for Prepare and Extended.
const sent = "/tmp/sent."

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
