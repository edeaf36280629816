// Stand-in for actions/checkout on the test bed: a work tree of the event's commit, fetched from
// the test bed's git server ($TESTBED_GIT_SERVER/<owner>/<repo>.git), cleaned as the real action
// cleans it (git clean -ffdx: no bin/, no node_modules from an earlier job on this host).
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const { input, booleanInput, setOutput, fail, recordEnvironment } = require("./runtime");

function git(cwd, ...args) {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

function main() {
  recordEnvironment("actions/checkout");
  const repository = input("repository") || process.env.GITHUB_REPOSITORY;
  const fetchDepth = Number(input("fetch-depth") || "1");
  if (!Number.isInteger(fetchDepth) || fetchDepth < 0) throw new Error(`Invalid fetch-depth '${input("fetch-depth")}'`);
  const clean = booleanInput("clean");
  const persist = booleanInput("persist-credentials");
  const workspace = process.env.GITHUB_WORKSPACE;
  const dir = path.resolve(workspace, input("path") || ".");
  if (!(dir + path.sep).startsWith(workspace + path.sep) && dir !== workspace) {
    throw new Error(`Repository path '${dir}' is not under '${workspace}'`);
  }
  const server = process.env.TESTBED_GIT_SERVER;
  if (!server) throw new Error("TESTBED_GIT_SERVER is not set: this stand-in runs only on the test bed");
  const url = path.join(server, `${repository}.git`);
  if (!fs.existsSync(url)) throw new Error(`Repository not found: ${repository}`);

  // The ref and commit, as the real action derives them: the event's own for the workflow's
  // repository, else the input (a branch, tag or SHA), else the default branch.
  let ref = input("ref");
  let commit = "";
  if (!ref && repository.toLowerCase() === (process.env.GITHUB_REPOSITORY || "").toLowerCase()) {
    ref = process.env.GITHUB_REF;
    commit = process.env.GITHUB_SHA;
  } else if (/^[0-9a-f]{40}$/.test(ref)) {
    commit = ref;
    ref = "";
  } else if (!ref) {
    ref = git(url, "symbolic-ref", "HEAD");
  } else if (!ref.startsWith("refs/")) {
    ref = `refs/heads/${ref}`;
  }

  fs.mkdirSync(dir, { recursive: true });
  const isRepo = fs.existsSync(path.join(dir, ".git"));
  if (isRepo && clean) {
    git(dir, "clean", "-ffdx");
    git(dir, "reset", "--hard", "HEAD");
  } else if (!isRepo) {
    for (const entry of fs.readdirSync(dir)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    git(dir, "init", "--quiet");
    git(dir, "remote", "add", "origin", url);
  }
  git(dir, "config", "--local", "gc.auto", "0");

  const remoteRef = ref.startsWith("refs/heads/")
    ? `refs/remotes/origin/${ref.slice("refs/heads/".length)}`
    : ref.startsWith("refs/pull/")
      ? `refs/remotes/pull/${ref.slice("refs/pull/".length)}`
      : ref;
  const depth = fetchDepth > 0 ? [`--depth=${fetchDepth}`] : [];
  const refspecs = [];
  if (fetchDepth === 0) refspecs.push("+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*");
  if (commit) refspecs.push(ref ? `+${commit}:${remoteRef}` : commit);
  else refspecs.push(`+${ref}:${remoteRef}`);
  git(dir, "fetch", "--no-tags", "--prune", "--quiet", ...depth, "origin", ...refspecs);

  if (ref.startsWith("refs/heads/")) {
    git(dir, "checkout", "--quiet", "--force", "-B", ref.slice("refs/heads/".length), remoteRef);
  } else {
    git(dir, "checkout", "--quiet", "--force", "--detach", ref ? remoteRef : commit);
  }
  const head = git(dir, "rev-parse", "HEAD");
  if (commit && head !== commit) throw new Error(`The ref '${ref}' does not point to ${commit} but to ${head}`);
  if (persist) {
    // Where the real action leaves the token for later git commands (its post step removes it).
    const token = Buffer.from(`x-access-token:${input("token")}`).toString("base64");
    git(dir, "config", "--local", "http.https://github.com/.extraheader", `AUTHORIZATION: basic ${token}`);
  }
  console.log(`Checked out ${repository} ${ref || commit} at ${head} into ${dir}`);
  setOutput("ref", ref);
  setOutput("commit", head);
}

try {
  main();
} catch (err) {
  fail(err.message);
}
