"""Adds jars to the Class-Path of the java runtime's launcher jar.

Usage: python3 java-launcher.py LAUNCHER_JAR CLASSPATH_FILE

CLASSPATH_FILE holds the jars, separated by ':' (what Maven's
dependency:build-classpath writes). The manifest keeps its other lines;
Class-Path keeps what it named and gains the new jars, and each line is
folded at 72 bytes (of UTF-8, which a fold may split), as the JAR format
requires. The java images carry python3 for their compile step.
"""
import os
import sys
import zipfile

MANIFEST = "META-INF/MANIFEST.MF"


def fold(line):
    """Folds one manifest line: 72 bytes, then 71 after each leading space."""
    parts = [line[:72]] + [line[i:i + 71] for i in range(72, len(line), 71)]
    return b"\n ".join(parts)


def with_class_path(manifest, jars):
    """Returns the manifest text whose Class-Path names jars too."""
    text = manifest.decode().replace("\r\n", "\n").replace("\n ", "")
    head, _, rest = text.partition("\n\n")
    lines = [line for line in head.split("\n") if line]
    old = next((line.split(":", 1)[1].split() for line in lines if line.lower().startswith("class-path:")), [])
    path = old + [jar for jar in jars if jar not in old]
    lines = [line for line in lines if not line.lower().startswith("class-path:")]
    if path:
        lines.append("Class-Path: " + " ".join(path))
    return b"\n".join(fold(line.encode()) for line in lines) + b"\n\n" + rest.encode()


def main(jar, classpath):
    jars = [p for p in open(classpath).read().strip().split(":") if p]
    with zipfile.ZipFile(jar) as z:
        items = [(info, z.read(info)) for info in z.infolist()]
    names = [info.filename for info, _ in items]
    manifest = dict((info.filename, data) for info, data in items).get(MANIFEST, b"Manifest-Version: 1.0\n")
    out = with_class_path(manifest, jars)
    items = [(info, out if info.filename == MANIFEST else data) for info, data in items]
    if MANIFEST not in names:
        items.append((MANIFEST, out))
    with zipfile.ZipFile(jar + ".new", "w", zipfile.ZIP_DEFLATED) as n:
        for info, data in items:
            n.writestr(info, data)
    os.chmod(jar + ".new", 0o644)
    os.replace(jar + ".new", jar)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
