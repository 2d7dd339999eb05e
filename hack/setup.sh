#!/usr/bin/env bash
# Setup of a fresh Debian machine for building and testing the builder:
# the system packages the local stack runs (etcd from Debian), and every Go
# module the build, the tests and the tools need. Run as root (or with sudo).
# Then `make tools` builds the local servers once.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
if ! command -v etcd >/dev/null; then
  apt-get update
  apt-get install -y --no-install-recommends etcd-server make git ca-certificates
fi

for mod in . test/dockerfile hack/kube hack/registry; do
  (cd "$mod" && go mod download)
done
echo "setup done; next: make tools"
