#!/bin/sh
# Installs the composer.json sent in /phpAction/user, with its own
# repositories and config, where the PHP runtime has no /bin/extend. The
# runtime's own packages stay as they are (their composer.json names
# packagist, which a cluster may not reach, and the runtime removed their
# composer.lock): the shipped autoload.php becomes one that loads the
# shipped packages, then the user's, whose loader composer registers
# first. An image that ships none gets the user's vendor folder there.
# Usage: php-install.sh COMPOSER_JSON [ACTION_ROOT] (default /phpAction).
set -eu
file=$1
root=${2:-/phpAction}
mkdir -p "$root/user"
cp "$file" "$root/user/composer.json"
cd "$root/user"
COMPOSER_ALLOW_SUPERUSER=1 composer install --no-dev --no-interaction --no-plugins --no-scripts --no-progress -o
v=$root/composer/vendor
if [ -f "$v/autoload.php" ]; then
  if [ ! -f "$v/autoload_runtime.php" ]; then
    mv "$v/autoload.php" "$v/autoload_runtime.php"
  fi
  printf '%s\n' '<?php' '$loader = require __DIR__ . "/autoload_runtime.php";' "require \"$root/user/vendor/autoload.php\";" 'return $loader;' >"$v/autoload.php"
else
  mkdir -p "$root/composer"
  cp -a "$root/user/vendor" "$root/composer/"
fi
