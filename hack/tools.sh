#!/usr/bin/env bash
# Builds the servers the integration suite and the demo run, once: binaries
# are cached under $HOME/.cache/osb-tools, keyed by version, so later runs
# start at once. Each is built from its own Go module under hack/.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${OSB_TOOLS:-$HOME/.cache/osb-tools}"
kube_version=v1.37.2
registry_version=v3.1.2
buildkit_version=v0.34.2

build() { # build <module dir> <out dir> <packages...>
  local dir=$1 out=$2; shift 2
  if [ -f "$out/.complete" ]; then return; fi
  echo "building $* into $out (first run only; the API server takes several minutes)"
  mkdir -p "$out"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/" "$@")
  touch "$out/.complete"
}

build hack/kube "$cache/kube-$kube_version" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler
build hack/registry "$cache/registry-$registry_version" \
  github.com/distribution/distribution/v3/cmd/registry

build hack/buildkit "$cache/buildkit-$buildkit_version" \
  github.com/moby/buildkit/cmd/buildkitd \
  github.com/moby/buildkit/cmd/buildctl
# The local node is this project's code: rebuilt every time (incremental).
mkdir -p "$cache/bin"
(cd hack/node && CGO_ENABLED=0 go build -trimpath -o "$cache/bin/osb-node" .)

for bin in etcd runc busybox; do
  command -v "$bin" >/dev/null || { echo "$bin is missing: run ./hack/setup.sh"; exit 1; }
done
echo "tools ready in $cache"
