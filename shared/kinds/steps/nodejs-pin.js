// Installs each dependency of the package.json sent at the version it
// declares, globally, where the nodejs runtime's /bin/extend installs:
// that /bin/extend installs the names alone (the keys of dependencies),
// so the latest of each, whatever the file pins. npm's own message tells
// a constraint it cannot meet.
// Usage: node nodejs-pin.js PACKAGE_JSON
"use strict";
const fs = require("fs");
const { spawnSync } = require("child_process");

const [file] = process.argv.slice(2);
const deps = JSON.parse(fs.readFileSync(file, "utf8")).dependencies || {};
// A name reaches npm's command line: only a package name's shape passes
// (an option such as --registry=… does not).
const valid = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const bad = Object.keys(deps).filter((name) => !valid.test(name));
if (bad.length) {
  console.error("builder: not npm package names: " + bad.map((n) => JSON.stringify(n)).join(", "));
  process.exit(1);
}
const specs = Object.entries(deps).map(([name, spec]) => name + "@" + spec);
if (specs.length === 0) {
  process.exit(0);
}
console.log("builder: installing the versions package.json declares: " + specs.join(" "));
const res = spawnSync("npm", ["install", "-g", "--no-audit", "--no-fund", ...specs], { stdio: "inherit" });
if (res.status !== 0) {
  console.error("builder: npm could not install " + specs.join(" ") + ": see npm's message above");
  process.exit(1);
}
