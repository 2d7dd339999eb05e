#!/bin/sh
# Tests of the shell steps, run by sh (shared/kinds' TestStepPrograms):
# nodejs-link.sh, php-install.sh (with a stand-in composer) and
# go-download.sh (a go.mod that needs no network). Exits 1 on a failure.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
failed=0
expect() { if ! eval "$2"; then echo "FAIL: $1" >&2; failed=1; fi; }

# nodejs-link.sh: globals linked, scoped ones one by one, npm's own and
# what the runtime ships left alone.
g=$work/global
mkdir -p "$g/is-number" "$g/npm" "$g/corepack" "$g/@scope/a" "$g/shipped" "$work/modules/shipped"
sh "$here/nodejs-link.sh" "$g" "$work/modules"
expect "a global package is linked" '[ -L "$work/modules/is-number" ]'
expect "a scoped package is linked" '[ -L "$work/modules/@scope/a" ]'
expect "npm is not linked" '[ ! -e "$work/modules/npm" ] && [ ! -e "$work/modules/corepack" ]'
expect "the runtime's own package stays" '[ -d "$work/modules/shipped" ] && [ ! -L "$work/modules/shipped" ]'
empty=$work/empty
mkdir -p "$empty"
expect "no globals is no failure" 'sh "$here/nodejs-link.sh" "$empty" "$work/modules2"'

# php-install.sh: the user's packages beside the runtime's, whose
# autoload.php then loads both; without the runtime's, the user's alone.
mkdir -p "$work/bin"
cat >"$work/bin/composer" <<'COMPOSER'
#!/bin/sh
mkdir -p vendor && echo '<?php' >vendor/autoload.php
COMPOSER
chmod +x "$work/bin/composer"
echo '{"require": {"monolog/monolog": "3.5.0"}}' >"$work/composer.json"
root=$work/phpAction
mkdir -p "$root/composer/vendor" && echo '<?php // runtime' >"$root/composer/vendor/autoload.php"
PATH=$work/bin:$PATH sh "$here/php-install.sh" "$work/composer.json" "$root"
expect "the runtime's loader is kept" 'grep -q runtime "$root/composer/vendor/autoload_runtime.php"'
expect "the new loader loads the user's" 'grep -q "require \"$root/user/vendor/autoload.php\"" "$root/composer/vendor/autoload.php"'
PATH=$work/bin:$PATH sh "$here/php-install.sh" "$work/composer.json" "$root"
expect "a second run keeps the runtime's loader" 'grep -q runtime "$root/composer/vendor/autoload_runtime.php"'
bare=$work/bare
PATH=$work/bin:$PATH sh "$here/php-install.sh" "$work/composer.json" "$bare"
expect "without the runtime's packages, the user's vendor goes there" '[ -f "$bare/composer/vendor/autoload.php" ]'

# go-download.sh: the module cache at the GOPATH given, writable by all.
if command -v go >/dev/null; then
  printf 'module example.com/action\n\ngo 1.22\n' >"$work/go.mod"
  expect "go-download succeeds" 'sh "$here/go-download.sh" "$work/go.mod" "$work/gopath"'
  expect "the GOPATH is made" '[ -d "$work/gopath" ]'
fi
exit $failed
