// Stand-in for actions/setup-go: the test bed's Go ($TESTBED_GOROOT) on PATH, if it satisfies
// the requested version.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const { input, booleanInput, setOutput, addPath, fail, recordEnvironment } = require("./runtime");

function main() {
  recordEnvironment("actions/setup-go");
  const workspace = process.env.GITHUB_WORKSPACE;
  const spec = input("go-version").replace(/^v/, "");
  if (!spec && !input("go-version-file")) {
    console.log("[warning]go-version input was not specified. The action will try to use pre-installed version.");
  }
  if (spec) {
    const root = process.env.TESTBED_GOROOT;
    if (!root) throw new Error("TESTBED_GOROOT is not set: this stand-in runs only on the test bed");
    const go = path.join(root, "bin", "go");
    const version = /go(\d+\.\d+(?:\.\d+)?)/.exec(execFileSync(go, ["version"], { encoding: "utf8" }))[1];
    const want = spec.split(".").filter((p) => p !== "x");
    if (!want.every((p, i) => version.split(".")[i] === p)) {
      throw new Error(
        `Unable to find Go version '${spec}' for platform linux and architecture x64 (the test bed has ${version}).`,
      );
    }
    addPath(path.join(root, "bin"));
    console.log(`Go ${version} (the test bed's) is on PATH`);
    setOutput("go-version", version);
  }
  if (booleanInput("cache")) {
    const dependencyPath = input("cache-dependency-path") || "go.sum";
    if (!fs.existsSync(path.join(workspace, dependencyPath))) {
      throw new Error(`Dependencies file is not found in ${workspace}. Supported file pattern: go.sum`);
    }
    setOutput("cache-hit", "false");
  }
}

try {
  main();
} catch (err) {
  fail(err.message);
}
