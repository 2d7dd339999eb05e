#!/usr/bin/env bash
# Root filesystems of the runtime stand-ins (docs/kinds.md), made once from
# Debian's packages with debootstrap and cached under $HOME/.cache/osb-tools,
# keyed by this script's content: each <kind>.tar.gz is one image layer,
# which test/localstack completes with the runtime's own files, user and
# environment. Needs root (debootstrap chroots); tools.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${OSB_TOOLS:-$HOME/.cache/osb-tools}"
key=$(sha256sum hack/runtimes.sh | cut -c1-12)
out="$cache/runtimes-$key"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

say() { printf '[runtimes %3ds] %s\n' "$SECONDS" "$*"; }

# The packages of each kind's stand-in: the interpreter its launcher runs,
# the package manager its fallback install uses (pip; npm comes below),
# what its /bin/extend needs (jq for nodejs), and a package it ships (six).
declare -A packages=(
  [python]="python3,python3-pip,python3-six,ca-certificates"
  [nodejs]="nodejs,jq,ca-certificates"
  [php]="ca-certificates"
)
# Packages whose dependencies debootstrap does not resolve (virtual
# packages): apt installs them in the new root.
declare -A apt_packages=(
  [php]="php-cli php-zip composer unzip jq"
)
# npm as the node images have it, from the npm registry (Debian's npm
# package has more dependencies than debootstrap resolves): in
# /usr/local/lib/node_modules/npm, beside node in /usr/local/bin, so that
# npm's global prefix is /usr/local, as in those images.
npm_version=10.8.2

if [ -f "$out/.complete" ]; then
  say "stand-in root filesystems: cached in $out"
  ln -sfn "$(basename "$out")" "$cache/runtimes"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "runtimes: debootstrap needs root, and there is no sudo: run hack/runtimes.sh as root once (the result is cached)" >&2; exit 1; }
  say "debootstrap needs root: running again with sudo"
  exec sudo env OSB_TOOLS="$cache" DEBIAN_MIRROR="$mirror" "$0"
fi
command -v debootstrap >/dev/null || { echo "runtimes: debootstrap is missing: run ./hack/setup.sh" >&2; exit 1; }
command -v npm >/dev/null || { echo "runtimes: npm is missing (it fetches npm for the nodejs stand-in): install Node.js and npm" >&2; exit 1; }
mkdir -p "$out" "$cache/debs"
for kind in "${!packages[@]}"; do
  root="$out/$kind"
  say "debootstrap bookworm for $kind: ${packages[$kind]} (first run only)"
  rm -rf "$root"
  debootstrap --variant=minbase --cache-dir="$cache/debs" --include="${packages[$kind]}" \
    bookworm "$root" "$mirror" >"$out/$kind.log" 2>&1 || { tail -20 "$out/$kind.log" >&2; exit 1; }
  if [ -n "${apt_packages[$kind]:-}" ]; then
    say "$kind: apt-get install ${apt_packages[$kind]}"
    chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${apt_packages[$kind]}" \
      >>"$out/$kind.log" 2>&1 || { tail -20 "$out/$kind.log" >&2; exit 1; }
  fi
  case $kind in
  php) # A package the runtime ships, installed by composer as the php
    # Dockerfiles install their own (then remove composer.lock): in
    # /phpAction/composer (runtime/php/v8.3/Dockerfile) and in
    # /app/.composer, COMPOSER_HOME, owned by nobody
    # (runtime/php/v8.4/Dockerfile); from a path repository, since
    # packagist cannot be reached from here.
    mkdir -p "$root/opt/shipped/osb-shipped/src" "$root/phpAction/composer" "$root/app/.composer" "$root/app/action"
    cat >"$root/opt/shipped/osb-shipped/composer.json" <<'JSON'
{"name": "osb/shipped", "version": "1.0.0", "autoload": {"psr-4": {"Osb\\Shipped\\": "src/"}}}
JSON
    cat >"$root/opt/shipped/osb-shipped/src/Package.php" <<'PHP'
<?php
namespace Osb\Shipped;

class Package
{
    public static function name(): string
    {
        return 'shipped by the runtime';
    }
}
PHP
    cat >"$root/phpAction/composer/composer.json" <<'JSON'
{"require": {"osb/shipped": "1.0.0"}, "repositories": [{"type": "path", "url": "/opt/shipped/osb-shipped", "options": {"symlink": false}}]}
JSON
    cp "$root/phpAction/composer/composer.json" "$root/app/.composer/"
    chroot "$root" sh -c 'for d in /phpAction/composer /app/.composer; do
        (cd $d && COMPOSER_ALLOW_SUPERUSER=1 composer install --no-plugins --no-scripts --prefer-dist --no-dev -o -q && rm composer.lock) || exit 1
      done && chown -R nobody:root /app && chmod -R 0775 /app' \
      >>"$out/$kind.log" 2>&1 || { tail -20 "$out/$kind.log" >&2; exit 1; } ;;
  python) # The python images build Python in /usr/local: no EXTERNALLY-MANAGED.
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED ;;
  nodejs)
    mv "$root/usr/bin/node" "$root/usr/local/bin/node"
    ln -s ../local/bin/node "$root/usr/bin/node"
    mkdir -p "$root/usr/local/lib/node_modules/npm"
    (cd "$out" && npm pack --silent "npm@$npm_version" >/dev/null)
    tar -xzf "$out/npm-$npm_version.tgz" --strip-components=1 -C "$root/usr/local/lib/node_modules/npm"
    rm -f "$out/npm-$npm_version.tgz"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx" ;;
  esac
  # What an image does not need: apt's lists and archives, documentation.
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/dev/* "$root"/proc/* "$root"/sys/*
  tar --numeric-owner -C "$root" -czf "$out/$kind.tar.gz" .
  rm -rf "$root"
  say "$kind: $(du -h "$out/$kind.tar.gz" | cut -f1)"
done
touch "$out/.complete"
ln -sfn "$(basename "$out")" "$cache/runtimes"
say "stand-in root filesystems ready in $out"
