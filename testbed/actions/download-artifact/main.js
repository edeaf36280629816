// Stand-in for actions/download-artifact: one named artifact of this run into `path`.
"use strict";
const fs = require("fs");
const path = require("path");
const { input, setOutput, fail, recordEnvironment } = require("./runtime");

function main() {
  recordEnvironment("actions/download-artifact");
  const name = input("name");
  if (!name) throw new Error("the test bed's stand-in downloads one artifact by name");
  if (input("github-token")) throw new Error("the test bed's stand-in does not download from other runs");
  const source = path.join(process.env.TESTBED_ARTIFACTS, process.env.GITHUB_RUN_ID, name);
  if (!fs.existsSync(source)) throw new Error(`Unable to download artifact(s): Artifact not found for name: ${name}`);
  const dest = path.resolve(process.env.GITHUB_WORKSPACE, (input("path") || ".").replace(/^~(?=\/)/, process.env.HOME));
  fs.mkdirSync(dest, { recursive: true });
  fs.cpSync(source, dest, { recursive: true });
  console.log(`Artifact ${name} downloaded to ${dest}`);
  setOutput("download-path", dest);
}

try {
  main();
} catch (err) {
  fail(err.message);
}
