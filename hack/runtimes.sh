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
  [java]="ca-certificates"
)
# Packages whose dependencies debootstrap does not resolve (virtual
# packages): apt installs them in the new root.
declare -A apt_packages=(
  [php]="php-cli php-zip composer unzip jq"
  [java]="openjdk-17-jdk-headless maven python3 libmaven-dependency-plugin-java junit4 libgoogle-gson-java"
)
# Packages only the java stand-in's own build uses (Maven Central's
# stand-in, below), removed before it is packed.
java_build_only="libmaven-dependency-plugin-java junit4 libgoogle-gson-java"
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
# java_runtime completes the java root filesystem as runtime/java/v25/Dockerfile
# makes its image: its JDK in /opt/java/openjdk (Debian's JDK 17 here, for
# Semeru's 25), Maven and python3 (its compile step's interpreter) from apt;
# then its /bin/extend's command, run as root with the runtime's pom.xml
# (gson) before the Dockerfile sets MAVEN_OPTS: Maven and its dependency
# plugin fill /root/.m2/repository, and gson's jar is copied into
# /javaAction/.m2/repository, where the compile step finds it; then its
# launcher, compiled against gson, in /usr/java/lib/launcher.jar.
#
# Maven Central cannot be reached from here: Debian's /usr/share/maven-repo
# stands in for it (Debian packages the dependency plugin at 3.5.0, so the
# pom names that version; Maven 3.8's default, 2.8, is only a relocation
# there). What Maven fetched, /root/.m2/repository, is also packed beside
# the root filesystems as maven-repository.tar.gz, for the tests'
# repository on 127.0.0.1 to serve as Central would, with the plugin's
# metadata (test/localstack/mavenrepo.go).
java_runtime() {
  mkdir -p "$root/javaAction/action" "$root/javaAction/.m2/repository" "$root/usr/java/src" "$root/usr/java/lib" "$root/opt/java"
  ln -s /usr/lib/jvm/java-17-openjdk-amd64 "$root/opt/java/openjdk"
  cat >"$root/tmp/pom.xml" <<'XML'
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>hello</groupId>
  <artifactId>hello-action</artifactId>
  <version>1.0.0</version>
  <dependencies>
    <dependency><groupId>com.google.code.gson</groupId><artifactId>gson</artifactId><version>2.10</version></dependency>
  </dependencies>
  <build><plugins>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.5.0</version></plugin>
  </plugins></build>
</project>
XML
  cat >"$root/tmp/debian-central.xml" <<'XML'
<settings><mirrors><mirror><id>debian</id><mirrorOf>*</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors></settings>
XML
  # The launcher stand-in: runs <class>#<method> on an empty JSON object,
  # as the runtime's launcher runs an action's, and prints the result.
  cat >"$root/usr/java/src/Launcher.java" <<'JAVA'
import com.google.gson.Gson;
import com.google.gson.JsonObject;

public class Launcher {
    public static void main(String[] args) throws Exception {
        String[] target = args[0].split("#", 2);
        String method = target.length > 1 ? target[1] : "main";
        Object out = Class.forName(target[0]).getMethod(method, JsonObject.class).invoke(null, new JsonObject());
        System.out.println(new Gson().toJson(out));
    }
}
JAVA
  say "java: the runtime's own dependencies (gson), through its /bin/extend's command"
  in_root 'cd /tmp && mvn -B -q -s /tmp/debian-central.xml dependency:copy-dependencies -DoutputDirectory=/javaAction/.m2/repository &&
    cd /usr/java/src && javac -cp "$(find /javaAction/.m2/repository -name "gson-*.jar")" Launcher.java &&
    jar cf /usr/java/lib/launcher.jar Launcher.class && chmod 644 /usr/java/lib/launcher.jar && rm -f Launcher.class /tmp/pom.xml /tmp/debian-central.xml &&
    chown -R nobody:nogroup /javaAction && chmod -R u+rwX /javaAction'
  local m2="$out/maven-repository"
  rm -rf "$m2" && cp -a "$root/root/.m2/repository" "$m2"
  find "$m2" \( -name _remote.repositories -o -name '*.lastUpdated' -o -name 'resolver-status.properties' -o -name 'maven-metadata-*.xml' \) -delete
  cat >"$m2/org/apache/maven/plugins/maven-metadata.xml" <<'XML'
<metadata><plugins><plugin><name>Apache Maven Dependency Plugin</name><prefix>dependency</prefix><artifactId>maven-dependency-plugin</artifactId></plugin></plugins></metadata>
XML
  cat >"$m2/org/apache/maven/plugins/maven-dependency-plugin/maven-metadata.xml" <<'XML'
<metadata><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><versioning><latest>3.5.0</latest><release>3.5.0</release><versions><version>3.5.0</version></versions></versioning></metadata>
XML
  tar --numeric-owner -C "$m2" -czf "$out/maven-repository.tar.gz" .
  rm -rf "$m2"
  in_root "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq --autoremove $java_build_only && mvn -v"
  rm -rf "$root"/usr/lib/jvm/*/jmods
}

# in_root runs a shell command in the new root, its output in the kind's log.
in_root() { chroot "$root" sh -c "$1" >>"$out/$kind.log" 2>&1 || { tail -20 "$out/$kind.log" >&2; exit 1; }; }
for kind in "${!packages[@]}"; do
  root="$out/$kind"
  # A run that stopped part way goes on from the kinds it has not packed.
  [ -f "$out/$kind.tar.gz" ] && continue
  say "debootstrap bookworm for $kind: ${packages[$kind]} (first run only)"
  rm -rf "$root"
  debootstrap --variant=minbase --cache-dir="$cache/debs" --include="${packages[$kind]}" \
    bookworm "$root" "$mirror" >"$out/$kind.log" 2>&1 || { tail -20 "$out/$kind.log" >&2; exit 1; }
  # The JDK's packages run java as they install, which needs /proc.
  mount -t proc proc "$root/proc"
  trap 'umount "$root/proc" 2>/dev/null || true' EXIT
  if [ -n "${apt_packages[$kind]:-}" ]; then
    say "$kind: apt-get install ${apt_packages[$kind]}"
    in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${apt_packages[$kind]}"
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
    in_root 'for d in /phpAction/composer /app/.composer; do
        (cd $d && COMPOSER_ALLOW_SUPERUSER=1 composer install --no-plugins --no-scripts --prefer-dist --no-dev -o -q && rm composer.lock) || exit 1
      done && chown -R nobody:root /app && chmod -R 0775 /app' ;;
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
  java) java_runtime ;;
  esac
  umount "$root/proc"
  trap - EXIT
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
