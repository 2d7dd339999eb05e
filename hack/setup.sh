#!/usr/bin/env bash
# Prerequisites of the local stack, checked before any long build and
# installed when missing: Debian's etcd, runc (for BuildKit), a static
# busybox (the test base images), debootstrap and npm (the runtime
# stand-ins), and the interpreters of the kinds' step programs' own tests
# (shared/kinds/steps/tests: node with npm, python3, php), with apt
# (through sudo when not root);
# then every Go module the build, the tests and the tools need, into the
# caller's module cache. Quick when everything is there: `make demo` and
# `make check` run it first.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup %3ds] %s\n' "$SECONDS" "$*"; }

command -v go >/dev/null || { echo "setup: Go is missing: install Go 1.26 (https://go.dev/doc/install) and run again" >&2; exit 1; }
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
command -v runc >/dev/null || missing+=(runc)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v git >/dev/null || missing+=(git)
command -v make >/dev/null || missing+=(make)
command -v debootstrap >/dev/null || missing+=(debootstrap) # the runtime stand-ins (hack/runtimes.sh)
command -v npm >/dev/null || missing+=(npm)                 # fetches npm for the nodejs stand-in
command -v python3 >/dev/null || missing+=(python3)         # the java kind's step program and its tests
command -v php >/dev/null || missing+=(php-cli)             # the php kind's step programs' tests
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup: ${missing[*]} missing, and neither root nor sudo to install them" >&2; exit 1; }
    sudo="sudo"
  fi
  say "installing ${missing[*]} with apt"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" ca-certificates >/dev/null
fi
say "system packages ready: etcd $(etcd --version 2>/dev/null | awk '/etcd Version/ {print $3}'), $(runc --version | head -1)"

for mod in . test/dockerfile test/policy hack/kube hack/registry hack/buildkit hack/node hack/devtools; do
  say "Go modules of $mod"
  (cd "$mod" && go mod download)
done
say "prerequisites ready"
