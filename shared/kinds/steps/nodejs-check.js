// Fails the build unless each dependency of the package.json sent is in
// /node_modules: the nodejs runtime's /bin/extend ends with success even
// when npm failed.
// Usage: node nodejs-check.js PACKAGE_JSON [MODULES] (default /node_modules).
"use strict";
const fs = require("fs");
const path = require("path");

const [file, modules = "/node_modules"] = process.argv.slice(2);
const deps = Object.keys(JSON.parse(fs.readFileSync(file, "utf8")).dependencies || {});
const lost = deps.filter((d) => !fs.existsSync(path.join(modules, d)));
if (lost.length) {
  console.error("builder: the runtime's /bin/extend did not install " + lost.join(", ") + ": see npm's message above");
  process.exit(1);
}
