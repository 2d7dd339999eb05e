#!/bin/sh
# Links each package the nodejs runtime's /bin/extend installed globally
# (npm install -g, where require never looks) into /node_modules, which
# every action under the runtime's action root finds, keeping what the
# runtime ships there; npm's own packages stay out.
# Usage: nodejs-link.sh [GLOBAL_ROOT [MODULES]] (default: npm root -g,
# /node_modules).
set -eu
g=${1:-$(npm root -g)}
modules=${2:-/node_modules}
mkdir -p "$modules"
for p in "$g"/*; do
  n=${p##*/}
  case "$n" in
    npm | corepack | '*') ;;
    @*)
      for q in "$p"/*; do
        if [ -d "$q" ] && [ ! -e "$modules/$n/${q##*/}" ]; then
          mkdir -p "$modules/$n" && ln -s "$q" "$modules/$n/${q##*/}"
        fi
      done
      ;;
    *)
      if [ ! -e "$modules/$n" ]; then
        ln -s "$p" "$modules/$n"
      fi
      ;;
  esac
done
