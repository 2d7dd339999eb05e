#!/bin/sh
# Downloads the modules of a go.mod into the module cache the Go runtime's
# compile step uses: it builds actions at init as the runtime's user with
# GOPATH=/home/go, not the image's GOPATH, so the modules go there,
# writable by that user (its own `go mod download` then finds them and can
# add to them). Go ignores a go.mod in the temp root itself: it downloads
# from a directory of its own.
# Usage: go-download.sh GO_MOD [GOPATH] (default /home/go).
set -eu
mod=$1
gopath=${2:-/home/go}
work=$(mktemp -d)
cp "$mod" "$work/go.mod"
cd "$work"
mkdir -p "$gopath"
GOPATH=$gopath GOFLAGS=-modcacherw go mod download
chmod -R a+rwX "$gopath"
cd /
rm -rf "$work"
