// Tests of nodejs-check.js, run by node --test (shared/kinds'
// TestStepPrograms).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawnSync } = require("child_process");

const program = path.join(__dirname, "..", "nodejs-check.js");

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
