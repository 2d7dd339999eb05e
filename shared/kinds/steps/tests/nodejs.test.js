// Tests of nodejs-check.js and nodejs-pin.js, run by node --test
// (shared/kinds' TestStepPrograms); nodejs-pin.js with an npm on PATH that
// records its arguments.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawnSync } = require("child_process");

const program = path.join(__dirname, "..", "nodejs-check.js");
const pinProgram = path.join(__dirname, "..", "nodejs-pin.js");

function check(pkg, installed) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodejs-check-"));
  const file = path.join(dir, "package.json");
  fs.writeFileSync(file, JSON.stringify(pkg));
  const modules = path.join(dir, "node_modules");
  // installed: names, or name → the version its package.json says.
  const entries = Array.isArray(installed) ? installed.map((n) => [n, null]) : Object.entries(installed);
  for (const [name, version] of entries) {
    fs.mkdirSync(path.join(modules, name), { recursive: true });
    if (version) {
      fs.writeFileSync(path.join(modules, name, "package.json"), JSON.stringify({ name, version }));
    }
  }
  const res = spawnSync(process.execPath, [program, file, modules], { encoding: "utf8" });
  fs.rmSync(dir, { recursive: true, force: true });
  return res;
}

test("every dependency installed passes", () => {
  const res = check({ dependencies: { "is-number": "7.0.0", "@scope/pkg": "^1.0.0" } }, ["is-number", "@scope/pkg"]);
  assert.strictEqual(res.status, 0, res.stderr);
});

test("no dependencies passes", () => {
  assert.strictEqual(check({ name: "action" }, []).status, 0);
});

test("a missing dependency fails, naming it", () => {
  const res = check({ dependencies: { "is-number": "7.0.0", "left-pad": "1.3.0" } }, ["is-number"]);
  assert.strictEqual(res.status, 1);
  assert.match(res.stderr, /did not install left-pad: see npm's message above/);
  assert.doesNotMatch(res.stderr, /is-number/);
});

test("an exact pin installed passes; another version fails, naming both", () => {
  assert.strictEqual(check({ dependencies: { "is-number": "6.0.0" } }, { "is-number": "6.0.0" }).status, 0);
  const res = check({ dependencies: { "is-number": "6.0.0" } }, { "is-number": "7.0.0" });
  assert.strictEqual(res.status, 1);
  assert.match(res.stderr, /is-number is 7\.0\.0, not 6\.0\.0 as package\.json pins it/);
});

test("a range admits what is within it, and names what is not", () => {
  assert.strictEqual(check({ dependencies: { "is-number": "^6.0.0" } }, { "is-number": "6.0.0" }).status, 0);
  const res = check({ dependencies: { "is-number": "^6.0.0" } }, { "is-number": "7.0.0" });
  assert.strictEqual(res.status, 1);
  assert.match(res.stderr, /is-number is 7\.0\.0, which \^6\.0\.0 does not admit/);
});

test("a constraint that is not a version range is npm's", () => {
  assert.strictEqual(check({ dependencies: { "is-number": "latest" } }, { "is-number": "7.0.0" }).status, 0);
});

// pin runs the program on pkg with an npm that records its arguments and
// exits with code; it returns the result and what npm was given.
function pin(pkg, code) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodejs-pin-"));
  const file = path.join(dir, "package.json");
  fs.writeFileSync(file, JSON.stringify(pkg));
  const args = path.join(dir, "args");
  fs.writeFileSync(path.join(dir, "npm"), '#!/bin/sh\necho "$@" > "' + args + '"\nexit ' + code + "\n", { mode: 0o755 });
  const res = spawnSync(process.execPath, [pinProgram, file], { encoding: "utf8", env: { PATH: dir + ":" + process.env.PATH } });
  const given = fs.existsSync(args) ? fs.readFileSync(args, "utf8").trim() : null;
  fs.rmSync(dir, { recursive: true, force: true });
  return { res, given };
}

test("each dependency is installed at the version it declares", () => {
  const { res, given } = pin({ dependencies: { "is-number": "6.0.0", "@scope/pkg": "^1.2.0" } }, 0);
  assert.strictEqual(res.status, 0, res.stderr);
  assert.strictEqual(given, "install -g --no-audit --no-fund is-number@6.0.0 @scope/pkg@^1.2.0");
});

test("no dependencies runs no npm", () => {
  const { res, given } = pin({ name: "action" }, 0);
  assert.strictEqual(res.status, 0);
  assert.strictEqual(given, null);
});

test("npm's failure fails the step, naming what was asked", () => {
  const { res } = pin({ dependencies: { "is-number": "99.0.0" } }, 1);
  assert.strictEqual(res.status, 1);
  assert.match(res.stderr, /npm could not install is-number@99\.0\.0/);
});

test("a name that is not a package name is refused before npm runs", () => {
  const { res, given } = pin({ dependencies: { "--registry=http://evil.example": "1.0.0", "is-number": "6.0.0" } }, 0);
  assert.strictEqual(res.status, 1);
  assert.match(res.stderr, /not npm package names: "--registry=http:\/\/evil.example"/);
  assert.strictEqual(given, null);
});
