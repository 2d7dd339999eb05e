#!/bin/sh
# Puts the dependencies of the pom.xml sent on the java compile step's
# classpath: Maven, offline, lists their jars in the local repository the
# runtime's /bin/extend filled (MAVEN_OPTS names it), failing with its own
# message for one that is not there; the runtime's launcher jar, which
# both javac and java are given, then names them in its manifest.
# Usage: java-classpath.sh POM [LAUNCHER_JAR] (default /usr/java/lib/launcher.jar).
set -eu
pom=$1
jar=${2:-/usr/java/lib/launcher.jar}
dir=$(dirname "$0")
list=$(mktemp)
if ! mvn -B -q -o -Dstyle.color=never -f "$pom" dependency:build-classpath \
  -Dmdep.outputFile="$list" -Dmdep.includeScope=runtime; then
  echo "builder: the runtime's /bin/extend did not install the dependencies of pom.xml: see Maven's message above" >&2
  rm -f "$list"
  exit 1
fi
python3 "$dir/java-launcher.py" "$jar" "$list"
rm -f "$list"
