// Tests of nodejs-pin.js, run by node --test (shared/kinds'
// TestStepPrograms), with an npm on PATH that records its arguments.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawnSync } = require("child_process");

const program = path.join(__dirname, "..", "nodejs-pin.js");

// pin runs the program on pkg with an npm that records its arguments and
// exits with code; it returns the result and what npm was given.
function pin(pkg, code) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodejs-pin-"));
  const file = path.join(dir, "package.json");
  fs.writeFileSync(file, JSON.stringify(pkg));
  const args = path.join(dir, "args");
  fs.writeFileSync(path.join(dir, "npm"), '#!/bin/sh\necho "$@" > "' + args + '"\nexit ' + code + "\n", { mode: 0o755 });
  const res = spawnSync(process.execPath, [program, file], { encoding: "utf8", env: { PATH: dir + ":" + process.env.PATH } });
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
