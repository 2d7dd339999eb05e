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
	// own package manager, installing where that runtime's launcher looks,
	// or a refusal that says what the image lacks.
	Install string
	// Prepare, when set, runs before the image's /bin/extend: what its
	// /bin/extend needs of the file that it does not read itself.
	Prepare string
	// Extended, when set, runs after the image's /bin/extend: what the
	// runtime's launcher needs beyond what its /bin/extend does.
	Extended string
}

// table holds the kinds send accepts. Why each fallback installs where it does
// is in docs/kinds.md.
var table = []Kind{
	// The python launcher imports from the interpreter's site-packages.
	{Name: "python", File: "requirements.txt", Install: "python3 -m pip install --no-cache-dir -r /tmp/requirements.txt"},
	// Node resolves modules from every parent of the action: /node_modules
	// is found by every action under the runtime's action root, beside the
	// packages the runtime ships there. The runtimes' /bin/extend installs
	// globally (npm install -g), where require never looks: link each
	// global package (but npm's own) into /node_modules.
	{Name: "nodejs", File: "package.json",
		Install:  "npm install --omit=dev --no-audit --no-fund --prefix /tmp && mkdir -p /node_modules && cp -a /tmp/node_modules/. /node_modules/ && rm -rf /tmp/node_modules /tmp/package-lock.json",
		Extended: nodeLinks},
	// The PHP runtime's compile step copies /phpAction/composer/vendor into
	// an action without one, and the runner loads its autoload.php: the
	// user's packages are installed beside the ones the runtime ships there,
	// whose autoloader then loads the user's too.
	// The php runtimes' /bin/extend (8.4) runs `composer global require` of
	// each package, which reads the repositories and config of
	// COMPOSER_HOME's composer.json, not the file's, and ends with success
	// when composer failed: the file's are merged there first, and each
	// package is checked after.
	{Name: "php", File: "composer.json", Install: phpInstall, Prepare: phpPrepare, Extended: phpCheck},
	// The Java runtimes' compile step puts only the launcher, gson and the
	// action's own jars on the classpath, and the images without
	// /bin/extend have no Maven. The java runtimes' /bin/extend (25) copies
	// the pom's dependencies into the local repository, which that
	// classpath does not name either, and ends with success when Maven
	// failed: the launcher's jar then names them (javaClassPath).
	{Name: "java", File: "pom.xml", Install: refuse("java",
		"this java runtime has no /bin/extend and no Maven, and its compile step loads only the action's own jars: "+
			"package the dependencies in the action's jar (a jar with dependencies), or use a java runtime with /bin/extend (v25)"),
		Extended: javaClassPath},
	// The Go runtime's compile step builds actions at init as the runtime's
	// user with GOPATH=/home/go, not the image's GOPATH: the modules go to
	// /home/go's module cache, writable by that user (so the compile
	// step's own `go mod download` finds them and can add to it). The
	// runtimes' /bin/extend (go 1.25) only removes go.mod, which would
	// leave every download to the action's init: the same download runs
	// after it, from the copy of the file sent.
	{Name: "go", File: "go.mod", Install: goDownload("/tmp/go.mod"), Extended: goDownload(sent + "go.mod")},
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

// nodeLinks links the global packages /bin/extend installed into
// /node_modules, keeping what the runtime ships there; then checks that
// each dependency of the package.json sent is there: the nodejs runtime's
// /bin/extend ends with success even when npm failed.
const nodeLinks = `g=$(npm root -g) && mkdir -p /node_modules && for p in "$g"/*; do n=${p##*/}; case "$n" in ` +
	`npm|corepack|'*') ;; ` +
	`@*) for q in "$p"/*; do if [ -d "$q" ] && [ ! -e "/node_modules/$n/${q##*/}" ]; then mkdir -p "/node_modules/$n" && ln -s "$q" "/node_modules/$n/${q##*/}"; fi; done ;; ` +
	`*) if [ ! -e "/node_modules/$n" ]; then ln -s "$p" "/node_modules/$n"; fi ;; esac; done && ` +
	`node -e 'const deps = Object.keys(require("` + sent + `package.json").dependencies || {}); ` +
	`const lost = deps.filter((d) => !require("fs").existsSync("/node_modules/" + d)); ` +
	`if (lost.length) { console.error("builder: the runtime\x27s /bin/extend did not install " + lost.join(", ") + ": see npm\x27s message above"); process.exit(1); }'`

// javaClassPath puts the dependencies of the pom.xml sent on the compile
// step's classpath: Maven, offline, lists their jars in the local
// repository /bin/extend filled (MAVEN_OPTS names it), failing with its
// own message for one that is not there; the runtime's launcher jar, which
// both javac and java are given, then names them in its manifest's
// Class-Path, beside what it named before.
const javaClassPath = `cd /tmp && { mvn -B -q -o -Dstyle.color=never -f ` + sent + `pom.xml dependency:build-classpath ` +
	`-Dmdep.outputFile=/tmp/classpath.txt -Dmdep.includeScope=runtime || ` +
	`{ echo "builder: the runtime's /bin/extend did not install the dependencies of pom.xml: see Maven's message above" >&2; exit 1; }; } && ` +
	`python3 -c '` + launcherClassPath + `' && rm -f /tmp/classpath.txt`

// launcherClassPath (Python, one line: the java images carry python3 for
// their compile step) adds the jars in /tmp/classpath.txt to the
// Class-Path of /usr/java/lib/launcher.jar's manifest, keeping the
// manifest's other lines and folding each at 72 bytes (of UTF-8, which
// a fold may split) as the JAR format requires.
const launcherClassPath = `import zipfile, os; j = "/usr/java/lib/launcher.jar"; M = "META-INF/MANIFEST.MF"; ` +
	`new = [p for p in open("/tmp/classpath.txt").read().strip().split(":") if p]; ` +
	`z = zipfile.ZipFile(j); items = [(i, z.read(i)) for i in z.infolist()]; z.close(); ` +
	`names = [i.filename for i, d in items]; ` +
	`mf = dict((i.filename, d) for i, d in items).get(M, b"Manifest-Version: 1.0\n").decode().replace("\r\n", "\n").replace("\n ", ""); ` +
	`head, _, rest = mf.partition("\n\n"); lines = [l for l in head.split("\n") if l]; ` +
	`old = next((l.split(":", 1)[1].split() for l in lines if l.lower().startswith("class-path:")), []); ` +
	`cp = old + [p for p in new if p not in old]; ` +
	`lines = [l for l in lines if not l.lower().startswith("class-path:")] + (["Class-Path: " + " ".join(cp)] if cp else []); ` +
	`fold = lambda b: b"\n ".join([b[:72]] + [b[i:i + 71] for i in range(72, len(b), 71)]); ` +
	`out = b"\n".join(fold(l.encode()) for l in lines) + b"\n\n" + rest.encode(); ` +
	`items = [(i, out if i.filename == M else d) for i, d in items] + ([] if M in names else [(M, out)]); ` +
	`n = zipfile.ZipFile(j + ".new", "w", zipfile.ZIP_DEFLATED); [n.writestr(i, d) for i, d in items]; n.close(); ` +
	`os.chmod(j + ".new", 0o644); os.replace(j + ".new", j)`

// phpInstall installs /tmp/composer.json in /phpAction/user, with its own
// repositories and config, and leaves the runtime's packages as they are
// (their composer.json names packagist, which a cluster may not reach, and
// the runtime removed their composer.lock): the shipped autoload.php
// becomes one that loads the shipped packages, then the user's, whose
// loader composer registers first. An image that ships none gets the
// user's vendor folder there.
const phpInstall = `mkdir -p /phpAction/user && cp /tmp/composer.json /phpAction/user/ && cd /phpAction/user && ` +
	`COMPOSER_ALLOW_SUPERUSER=1 composer install --no-dev --no-interaction --no-plugins --no-scripts --no-progress -o && ` +
	`v=/phpAction/composer/vendor && if [ -f $v/autoload.php ]; then ` +
	`if [ ! -f $v/autoload_runtime.php ]; then mv $v/autoload.php $v/autoload_runtime.php; fi && ` +
	`printf '%s\n' '<?php' '$loader = require __DIR__ . "/autoload_runtime.php";' 'require "/phpAction/user/vendor/autoload.php";' 'return $loader;' > $v/autoload.php; ` +
	`else mkdir -p /phpAction/composer && cp -a /phpAction/user/vendor /phpAction/composer/; fi`

// goDownload downloads the modules of the go.mod at file into /home/go.
// Go ignores a go.mod in the temp root itself: it downloads from a subdir.
func goDownload(file string) string {
	return "mkdir -p /tmp/gomod && cp " + file + " /tmp/gomod/go.mod && cd /tmp/gomod && " +
		"GOPATH=/home/go GOFLAGS=-modcacherw go mod download && chmod -R a+rwX /home/go && rm -rf /tmp/gomod"
}

// phpPrepare merges the repositories (the file's first) and config of the
// file sent into COMPOSER_HOME's composer.json, where the image sets one.
const phpPrepare = `if [ -n "${COMPOSER_HOME:-}" ]; then mkdir -p "$COMPOSER_HOME" && ` +
	`php -r '$f = getenv("COMPOSER_HOME") . "/composer.json"; $a = is_file($f) ? json_decode(file_get_contents($f), true) : []; ` +
	`$b = json_decode(file_get_contents("` + sent + `composer.json"), true); ` +
	`if (!is_array($b)) { fwrite(STDERR, "builder: composer.json is not valid JSON\n"); exit(1); } ` +
	`if (isset($b["repositories"])) { $a["repositories"] = array_merge($b["repositories"], $a["repositories"] ?? []); } ` +
	`if (isset($b["config"])) { $a["config"] = array_merge($a["config"] ?? [], $b["config"]); } ` +
	`file_put_contents($f, json_encode($a, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));'; fi`

// phpCheck fails the build unless each package the file sent requires is
// in COMPOSER_HOME's vendor folder (platform requirements aside).
const phpCheck = `php -r '$b = json_decode(file_get_contents("` + sent + `composer.json"), true); ` +
	`$home = getenv("COMPOSER_HOME") ?: getenv("HOME") . "/.config/composer"; $lost = []; ` +
	`foreach (array_keys($b["require"] ?? []) as $p) { if (strpos($p, "/") !== false && !is_dir("$home/vendor/$p")) { $lost[] = $p; } } ` +
	`if ($lost) { fwrite(STDERR, "builder: the runtime\x27s /bin/extend did not install " . implode(", ", $lost) . ": see composer\x27s message above\n"); exit(1); }'`

// refuse is the install of a kind whose images without /bin/extend cannot
// be extended: the build fails at once with why, in the build's log.
func refuse(kind, why string) string {
	msg := "builder: cannot install the " + kind + " dependencies: " + why
	return "echo '" + strings.ReplaceAll(msg, "'", `'\''`) + "' >&2; exit 1"
}

// Run is the build's install step: the image's /bin/extend when it has
// one, else the kind's Install; then the requirements file goes.
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
	return "if [ -x /bin/extend ]; then " + extend + "; else " + k.Install + "; fi && rm -f /tmp/" + k.File + " " + k.Sent()
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
