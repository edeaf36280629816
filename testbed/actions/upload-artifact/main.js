// Stand-in for actions/upload-artifact: $TESTBED_ARTIFACTS/<run id>/<name>/, the files of `path`
// relative to their common folder, as the real action lays them out in the zip.
"use strict";
const fs = require("fs");
const path = require("path");
const { input, booleanInput, setOutput, fail, recordEnvironment } = require("./runtime");

function main() {
  recordEnvironment("actions/upload-artifact");
  const name = input("name") || "artifact";
  const paths = input("path", { required: true })
    .split("\n")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => path.resolve(process.env.GITHUB_WORKSPACE, p.replace(/^~(?=\/)/, process.env.HOME)));
  const hidden = booleanInput("include-hidden-files");
  const overwrite = booleanInput("overwrite");
  const files = [];
  const walk = (p) => {
    if (!fs.existsSync(p)) return;
    if (!hidden && path.basename(p).startsWith(".")) return;
    if (fs.statSync(p).isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    else files.push(p);
  };
  paths.forEach(walk);
  if (files.length === 0) {
    const mode = input("if-no-files-found") || "warn";
    const message = `No files were found with the provided path: ${input("path")}. No artifacts will be uploaded.`;
    if (mode === "error") throw new Error(message);
    if (mode === "warn") console.log(`::warning::${message}`);
    return;
  }
  const root = paths.length === 1 && fs.statSync(paths[0]).isDirectory() ? paths[0] : path.dirname(paths[0]);
  const dest = path.join(process.env.TESTBED_ARTIFACTS, process.env.GITHUB_RUN_ID, name);
  if (fs.existsSync(dest)) {
    if (!overwrite)
      throw new Error(
        `Failed to CreateArtifact: an artifact with this name already exists on the workflow run (${name})`,
      );
    fs.rmSync(dest, { recursive: true });
  }
  for (const f of files) {
    const target = path.join(dest, path.relative(root, f));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(f, target);
  }
  console.log(`Artifact ${name}: ${files.length} file(s)`);
  setOutput("artifact-id", name);
}

try {
  main();
} catch (err) {
  fail(err.message);
}
