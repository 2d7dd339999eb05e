#!/usr/bin/env bash
# Setup of a fresh Debian machine for building and testing the builder:
# the system packages the local stack runs (etcd, runc for BuildKit and a
# static busybox for the test base images, from Debian), and every Go
# module the build, the tests and the tools need. apt runs through sudo when
# not root; the Go modules go to the caller's own module cache.
# Then `make tools` builds the local servers once.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
if ! command -v etcd >/dev/null || ! command -v runc >/dev/null || [ ! -x /bin/busybox ]; then
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    etcd-server runc busybox-static make git ca-certificates
fi

for mod in . test/dockerfile hack/kube hack/registry hack/buildkit hack/node; do
  (cd "$mod" && go mod download)
done
echo "setup done; next: make tools"
