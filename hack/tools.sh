#!/usr/bin/env bash
# Builds the servers the integration suite and the demo run, once: binaries
# are cached under $HOME/.cache/osb-tools, keyed by version, so later runs
# start at once. Each is built from its own Go module under hack/, whose
# go.mod is the one place its version is declared; $cache/<name> links to
# the build of that version, which is where test/localstack looks. The
# prerequisites are checked (and installed) first, before any long build.
set -euo pipefail
cd "$(dirname "$0")/.."

./hack/setup.sh

cache="${OSB_TOOLS:-$HOME/.cache/osb-tools}"
# version <module dir> <module path>: the version its go.mod requires.
version() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
kube_version=$(version hack/kube k8s.io/kubernetes)
registry_version=$(version hack/registry github.com/distribution/distribution/v3)
buildkit_version=$(version hack/buildkit github.com/moby/buildkit)

say() { printf '[tools %3ds] %s\n' "$SECONDS" "$*"; }

progress() { # progress <what> <command...>: run it, saying every 30 s that it still runs
  local what=$1; shift
  "$@" &
  local pid=$! start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null && sleep 1; done
    kill -0 "$pid" 2>/dev/null && say "  still building $what: $((SECONDS - start))s"
  done
  wait "$pid" || { say "building $what failed"; return 1; }
  say "built $what in $((SECONDS - start))s"
}

build() { # build <what> <module dir> <out dir> <packages...>
  local what=$1 dir=$2 out=$3; shift 3
  if [ -f "$out/.complete" ]; then
    say "$what: cached in $out"
  else
    say "building $what into $out (first run only)"
    mkdir -p "$out"
    progress "$what" sh -c 'cd "$1" && shift && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$0/" "$@"' "$out" "$dir" "$@"
    touch "$out/.complete"
  fi
  ln -sfn "$(basename "$out")" "${out%-*}"
}

build "Kubernetes $kube_version (API server, controller manager, scheduler; several minutes)" hack/kube "$cache/kube-$kube_version" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler
build "the distribution registry $registry_version" hack/registry "$cache/registry-$registry_version" \
  github.com/distribution/distribution/v3/cmd/registry
build "BuildKit $buildkit_version" hack/buildkit "$cache/buildkit-$buildkit_version" \
  github.com/moby/buildkit/cmd/buildkitd \
  github.com/moby/buildkit/cmd/buildctl
# The runtime stand-ins' root filesystems, from Debian's packages.
./hack/runtimes.sh
# The local node is this project's code: rebuilt every time (incremental).
mkdir -p "$cache/bin"
say "building the local node (hack/node)"
progress "the local node" sh -c 'cd hack/node && CGO_ENABLED=0 go build -trimpath -o "$0" .' "$cache/bin/osb-node"
say "tools ready in $cache"
