// Fails the build unless each dependency of the package.json sent is in
// /node_modules at a version its constraint admits: the nodejs runtime's
// /bin/extend ends with success even when npm failed, and installs the
// latest whatever the file pins. An exact version must be the one
// installed; a range must admit it, checked with npm's own semver where
// it is found (a constraint that is not a version range, such as a tag
// or a URL, is npm's to honour).
// Usage: node nodejs-check.js PACKAGE_JSON [MODULES] (default /node_modules).
"use strict";
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");

const [file, modules = "/node_modules"] = process.argv.slice(2);
const deps = JSON.parse(fs.readFileSync(file, "utf8")).dependencies || {};

// semver is npm's own library: beside npm, or Debian's.
function semver() {
  const root = spawnSync("npm", ["root", "-g"], { encoding: "utf8" });
  const places = [path.join((root.stdout || "").trim(), "npm"), "/usr/share/nodejs", "/usr/lib/node_modules/npm"];
  try {
    return require(require.resolve("semver", { paths: places }));
  } catch {
    return null;
  }
}

const exact = /^=?v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)$/;
let sv;
const problems = [];
for (const [name, spec] of Object.entries(deps)) {
  const manifest = path.join(modules, name, "package.json");
  if (!fs.existsSync(path.join(modules, name))) {
    problems.push("did not install " + name);
    continue;
  }
  let installed;
  try {
    installed = JSON.parse(fs.readFileSync(manifest, "utf8")).version;
  } catch {
    continue; // a package without a manifest: nothing to compare
  }
  const pinned = exact.exec(String(spec).trim());
  if (pinned) {
    if (installed !== pinned[1]) {
      problems.push(name + " is " + installed + ", not " + spec + " as package.json pins it");
    }
    continue;
  }
  if (sv === undefined) {
    sv = semver();
  }
  if (sv && sv.validRange(spec) && !sv.satisfies(installed, spec)) {
    problems.push(name + " is " + installed + ", which " + spec + " does not admit");
  }
}
if (problems.length) {
  console.error("builder: the dependencies are not as package.json declares: " + problems.join("; ") + ": see npm's message above");
  process.exit(1);
}
