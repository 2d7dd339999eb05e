package localstack

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Base runtime images for real builds, made here since none can be pulled:
// Debian's static busybox as the userland, like a runtime image's.

// extendScript is the /bin/extend of PythonRuntime: it installs each line of
// /tmp/requirements.txt from the image's own package index, /opt/index, as
// the real runtimes install from PyPI; an unknown package fails the build.
const extendScript = `#!/bin/sh
set -eu
req=/tmp/requirements.txt
[ -f "$req" ] || exit 0
echo "Extending the runtime with $req"
mkdir -p /usr/lib/python3/site-packages
while read -r line || [ -n "$line" ]; do
  pkg=$(echo "${line%%#*}" | tr -d ' \t\r')
  [ -n "$pkg" ] || continue
  if [ ! -d "/opt/index/$pkg" ]; then
    echo "ERROR: No matching distribution found for $pkg" >&2
    exit 1
  fi
  if [ -x "/opt/index/$pkg/install.sh" ]; then "/opt/index/$pkg/install.sh"; fi
  cp -r "/opt/index/$pkg/." /usr/lib/python3/site-packages/
  echo "Successfully installed $pkg"
done < "$req"
`

// BallastMiB is how much the ballast package of PythonRuntime writes: more
// than the smallest build_disk (1Gi).
const BallastMiB = 1200

// PythonRuntime is a python runtime image with /bin/extend and an index of
// beautifulsoup4, setuptools, slow (whose install never ends) and ballast
// (whose install writes BallastMiB MiB).
func PythonRuntime() (v1.Image, error) {
	files := baseFiles()
	files["/bin/extend"] = file{mode: 0o755, data: []byte(extendScript)}
	files["/opt/index/beautifulsoup4/bs4/__init__.py"] = file{mode: 0o644, data: []byte("__version__ = '4.12.3'\n")}
	files["/opt/index/setuptools/setuptools/__init__.py"] = file{mode: 0o644, data: []byte("__version__ = '75.0.0'\n")}
	files["/opt/index/slow/install.sh"] = file{mode: 0o755, data: []byte("#!/bin/sh\necho installing slowly\nsleep 3600\n")}
	files["/opt/index/ballast/install.sh"] = file{mode: 0o755, data: []byte(fmt.Sprintf("#!/bin/sh\necho installing %d MiB\ndd if=/dev/zero of=/usr/lib/python3/ballast bs=1M count=%d\n", BallastMiB, BallastMiB))}
	files["/usr/lib/python3/site-packages/"] = file{mode: 0o755, dir: true}
	return image(files, "/", []string{"PATH=/usr/local/bin:/usr/bin:/bin"})
}

// probeScript is the /bin/extend of ProbeRuntime: a build step that looks
// for a registry credential everywhere it can reach and prints where it
// finds one, never what: every file of its filesystem, every process it
// can see through /proc (its environment, its files through /proc/*/root,
// every readable mapping of its memory), its own environment, and any
// socket through which it could reach a BuildKit daemon's session. It
// looks for a docker config ("docker": "auths", the pattern split so that
// the script does not find itself) and for the lines of /etc/probe/needles
// (by number: the test's credential and canaries).
const probeScript = `#!/bin/sh
echo "probe: looking for a registry credential"
pat='"au''ths"'
hits() { # hits <file | ->: what it holds, "docker" and needle numbers
  if [ "$1" = - ]; then tr '\0' '\n'; else tr '\0' '\n' < "$1" 2>/dev/null; fi |
    grep -oF -e "$pat" -f /etc/probe/needles | sort -u | while read -r m; do
      if [ "$m" = "$pat" ]; then echo docker; else grep -nxF -e "$m" /etc/probe/needles | cut -d: -f1; fi
    done | sort -u | tr '\n' ' '
}
report() { [ -z "$1" ] || echo "probe: credential ( $1) in $2"; }
files=0
for f in $(find / -xdev -type f -size -2048k ! -path '/etc/probe/*' ! -path /bin/extend 2>/dev/null); do
  files=$((files+1))
  report "$(hits "$f")" "file $f"
done
procs=0 maps=0
for p in /proc/[0-9]*; do
  [ "$p" = "/proc/$$" ] && continue # this shell reads the needles
  procs=$((procs+1))
  report "$(hits "$p/environ")" "the environment of $p"
  for f in $(find "$p/root/" -xdev -name config.json -path '*docker*' 2>/dev/null); do
    echo "probe: credential ( docker ) in file $f"
  done
  [ -r "$p/maps" ] || continue
  while read -r range perms rest; do
    case "$perms" in r*) ;; *) continue ;; esac
    start=$((0x${range%-*} / 4096)) end=$((0x${range#*-} / 4096))
    [ $((end - start)) -le 65536 ] || continue
    maps=$((maps+1))
    report "$(dd if="$p/mem" bs=4096 skip="$start" count=$((end - start)) 2>/dev/null | hits -)" "the memory of $p"
  done < "$p/maps"
done
for s in $(find / /proc/[0-9]*/root/ -xdev -type s 2>/dev/null); do
  echo "probe: socket reachable at $s"
done
if env | grep -qiE '^(DOCKER_CONFIG|DOCKER_AUTH_CONFIG|REGISTRY_[A-Z_]*)='; then
  echo "probe: credential ( env ) in the environment of the build step"
fi
echo "probe: searched $files files, $procs processes and $maps memory mappings"
echo "probe: done"
`

// ProbeRuntime is a runtime image whose /bin/extend is the credential
// probe: building from it shows what a user's build step can reach. It
// looks for each of needles too.
func ProbeRuntime(needles ...string) (v1.Image, error) {
	files := baseFiles()
	files["/bin/extend"] = file{mode: 0o755, data: []byte(probeScript)}
	var list []byte // no empty line: an empty pattern would match anything
	for _, n := range needles {
		if n != "" {
			list = append(list, n+"\n"...)
		}
	}
	files["/etc/probe/needles"] = file{mode: 0o600, data: list}
	return image(files, "/", []string{"PATH=/usr/local/bin:/usr/bin:/bin"})
}

// GoRuntime is a go runtime image without /bin/extend, like the Go runtimes
// users pick today (docs/kinds.md: FROM golang, USER nobody, WORKDIR
// /action, the image's GOPATH=/go writable by all): its go.mod is
// installed by the kind's own step against the Go module proxy. It carries
// this machine's (static) go command only; a probe that compiles adds the
// rest of the toolchain (GoToolchain), which the real images ship.
func GoRuntime(goroot string) (v1.Image, error) {
	return goRuntime(goroot, "", "apacheopenserverless/runtime-golang")
}

// goExtend follows runtime/go/v1.25/bin/extend: it says extension is
// unnecessary and removes /tmp/go.mod ($WORKSPACE is unset there).
const goExtend = `#!/bin/sh
if [ -f /tmp/go.mod ]; then
    echo "WARNING: Extension in go is unnecessary. Use go.mod inside action folder"
    rm -rf $WORKSPACE /tmp/go.mod
fi
`

// GoRuntimeV125 is GoRuntime with the /bin/extend of the go 1.25 runtime
// (runtime/go/v1.25/Dockerfile: the same user, folders and compile step).
func GoRuntimeV125(goroot string) (v1.Image, error) {
	return goRuntime(goroot, goExtend, "apacheopenserverless/runtime-golang-v1.25")
}

func goRuntime(goroot, extend, executionEnv string) (v1.Image, error) {
	files := baseFiles()
	if extend != "" {
		files["/bin/extend"] = file{mode: 0o755, data: []byte(extend)}
	}
	for _, f := range []string{"bin/go", "VERSION", "go.env"} {
		data, err := os.ReadFile(path.Join(goroot, f))
		if err != nil {
			return nil, fmt.Errorf("reading the Go toolchain: %w", err)
		}
		files["/usr/local/go/"+f] = file{mode: 0o755, data: data}
	}
	files["/go/"] = file{mode: 0o1777, dir: true}
	files["/action/"] = file{mode: 0o1777, dir: true}
	return image(files, "/action", []string{
		"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		// GOROOT, which the golang images leave to the go command: this
		// one's tree is too thin for it to find its root.
		"GOLANG_VERSION=" + runtime.Version()[2:], "GOTOOLCHAIN=local", "GOPATH=/go", "GOROOT=/usr/local/go",
		"OW_EXECUTION_ENV=" + executionEnv, "OW_COMPILER=/bin/compile", "OW_LOG_INIT_ERROR=1", "OW_WAIT_FOR_ACK=1",
	})
}

// GoToolchain is what compiling a pure Go action needs of goroot besides
// the go command, under /usr/local/go: the compiler, assembler and linker,
// and the standard library's sources (path → content, for WithFiles).
func GoToolchain(goroot string) (map[string]string, error) {
	files := map[string]file{}
	for _, f := range []string{"pkg/tool/linux_amd64/compile", "pkg/tool/linux_amd64/asm", "pkg/tool/linux_amd64/link"} {
		data, err := os.ReadFile(path.Join(goroot, f))
		if err != nil {
			return nil, fmt.Errorf("reading the Go toolchain: %w", err)
		}
		files["/usr/local/go/"+f] = file{mode: 0o755, data: data}
	}
	for _, dir := range []string{"src", "pkg/include"} {
		if err := addTree(files, goroot, dir, "/usr/local/go"); err != nil {
			return nil, fmt.Errorf("reading the Go toolchain: %w", err)
		}
	}
	out := make(map[string]string, len(files))
	for p, f := range files {
		out[p] = string(f.data)
	}
	return out, nil
}

// addTree adds the files under root/dir to files, under prefix/dir,
// without tests, test data and the go command's own sources (src/cmd).
func addTree(files map[string]file, root, dir, prefix string) error {
	return filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir() && (d.Name() == "testdata" || rel == "src/cmd"):
			return filepath.SkipDir
		case d.IsDir() || strings.HasSuffix(p, "_test.go") || !d.Type().IsRegular():
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[prefix+"/"+filepath.ToSlash(rel)] = file{mode: 0o644, data: data}
		return nil
	})
}

type file struct {
	mode int64
	data []byte
	dir  bool
	link string
	uid  int // owner, with group root
}

// baseFiles are busybox with its applets, users root and nobody, CA
// certificates and /tmp.
func baseFiles() map[string]file {
	files := map[string]file{
		"/etc/passwd":     {mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		"/etc/group":      {mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		"/tmp/":           {mode: 0o1777, dir: true},
		"/root/":          {mode: 0o700, dir: true},
		"/usr/bin/":       {mode: 0o755, dir: true},
		"/usr/local/bin/": {mode: 0o755, dir: true},
	}
	if ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		files["/etc/ssl/certs/ca-certificates.crt"] = file{mode: 0o644, data: ca}
	}
	busybox, err := exec.LookPath("busybox")
	if err == nil {
		if data, err := os.ReadFile(busybox); err == nil {
			files["/bin/busybox"] = file{mode: 0o755, data: data}
			if out, err := exec.Command(busybox, "--list").Output(); err == nil {
				for _, applet := range strings.Fields(string(out)) {
					if applet != "busybox" {
						files["/bin/"+applet] = file{link: "busybox"}
					}
				}
			}
		}
	}
	return files
}

// image is one layer of files with a linux/amd64 config that runs as
// nobody in workdir with env.
func image(files map[string]file, workdir string, env []string) (v1.Image, error) {
	layer, err := tarLayer(files)
	if err != nil {
		return nil, err
	}
	return configured([]v1.Layer{layer}, "nobody", workdir, env)
}

// configured is an image of layers, for linux/amd64, that runs as user
// (root when empty) in workdir with env.
func configured(layers []v1.Layer, user, workdir string, env []string) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = env
	cf.Config.User = user
	cf.Config.WorkingDir = workdir
	return mutate.ConfigFile(img, cf)
}

// WithFiles is base with one more layer of files (path → content),
// readable by all (and executable under a bin/ or pkg/tool/ folder). With
// a /bin/extend among them (/usr/bin/extend where /bin links to usr/bin),
// a build FROM it runs that as its build step: a probe.
func WithFiles(base v1.Image, files map[string]string) (v1.Image, error) {
	fs := map[string]file{}
	for p, data := range files {
		mode := int64(0o644)
		if strings.Contains(p, "/bin/") || strings.Contains(p, "/pkg/tool/") {
			mode = 0o755 // commands
		}
		fs[p] = file{mode: mode, data: []byte(data)}
	}
	layer, err := upperLayer(fs)
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(base, layer)
}

// tarLayer is a layer of files, parent directories first.
func tarLayer(files map[string]file) (v1.Layer, error) { return writeLayer(files, true) }

// upperLayer is a layer of files over an image that has their parent
// directories, or where extraction makes them: no entry of its own for a
// parent, which would replace a symlink of the image's (Debian's /bin →
// usr/bin) with an empty directory.
func upperLayer(files map[string]file) (v1.Layer, error) { return writeLayer(files, false) }

func writeLayer(files map[string]file, parents bool) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	for _, n := range names {
		f := files[n]
		// Parent directories first.
		parts := strings.Split(strings.Trim(n, "/"), "/")
		for i := 1; parents && i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
					return nil, err
				}
			}
		}
		name := strings.TrimPrefix(n, "/")
		var h *tar.Header
		switch {
		case f.dir:
			if dirs[name] {
				continue
			}
			dirs[name] = true
			h = &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: f.mode, Uid: f.uid, ModTime: epoch}
		case f.link != "":
			h = &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: f.link, Mode: 0o777, ModTime: epoch}
		default:
			h = &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: f.mode, Uid: f.uid, Size: int64(len(f.data)), ModTime: epoch}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// Where the base runtimes go: under runtimes/, which the suite and the
// demo share with every user (shared_repositories).
const (
	PythonRuntimeRef = "runtimes/python:v3.13"
	GoRuntimeRef     = "runtimes/go:v1.22"
	GoRuntimeV125Ref = "runtimes/go:v1.25"
	// SeedSource is the seed's example source (../shared/seed/DEPLOYER.md,
	// test/e2e's tasks test), on Docker Hub: the suite's Docker Hub mirror
	// serves the python stand-in under its repository and tag.
	SeedSource = "apache/openserverless-runtime-python:v3.13-2506091954"
)

// PushSeedSource pushes the python stand-in to a Docker Hub mirror as the
// seed's source and returns its digest.
func (r *Registry) PushSeedSource() (string, error) {
	py, err := PythonRuntime()
	if err != nil {
		return "", err
	}
	if err := r.Push(SeedSource, py); err != nil {
		return "", err
	}
	d, err := py.Digest()
	return d.String(), err
}

// Push writes img to r as ref ("repo:tag"), with r's credentials if it
// has any.
func (r *Registry) Push(ref string, img v1.Image) error {
	n, err := name.ParseReference(r.Host+"/"+ref, name.Insecure)
	if err != nil {
		return err
	}
	var auth authn.Authenticator = authn.Anonymous
	if r.User != "" {
		auth = &authn.Basic{Username: r.User, Password: r.Password}
	}
	if err := remote.Write(n, img, remote.WithAuth(auth)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// Digest is the digest of ref ("repo:tag") in r, asked with r's
// credentials: an error when there is no such image.
func (r *Registry) Digest(ref string) (string, error) {
	n, err := name.ParseReference(r.Host+"/"+ref, name.Insecure)
	if err != nil {
		return "", err
	}
	var auth authn.Authenticator = authn.Anonymous
	if r.User != "" {
		auth = &authn.Basic{Username: r.User, Password: r.Password}
	}
	desc, err := remote.Head(n, remote.WithAuth(auth))
	if err != nil {
		return "", fmt.Errorf("looking up %s: %w", ref, err)
	}
	return desc.Digest.String(), nil
}

// PushRuntimes makes the python and go runtimes and pushes them to r; it
// returns their full references. goroot is the Go toolchain the go runtime
// carries.
func (r *Registry) PushRuntimes(goroot string) (python, golang string, err error) {
	py, err := PythonRuntime()
	if err != nil {
		return "", "", err
	}
	gi, err := GoRuntime(goroot)
	if err != nil {
		return "", "", err
	}
	if err := r.Push(PythonRuntimeRef, py); err != nil {
		return "", "", err
	}
	if err := r.Push(GoRuntimeRef, gi); err != nil {
		return "", "", err
	}
	return r.Host + "/" + PythonRuntimeRef, r.Host + "/" + GoRuntimeRef, nil
}

// GoRoot is the root of the Go toolchain on PATH, as `go env GOROOT`
// reports it: the toolchain the go runtime carries.
func GoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
