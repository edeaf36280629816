// Stand-in for pulumi/actions on the test bed. Install-only mode (no `command`): the pinned CLI
// from the tools cache on PATH. Command mode: the inputs checked as the real action checks
// them, `pulumi login`, the stack selected, the command run with the flags the Automation API
// passes for these inputs, and on a pull request the comment the real action posts (same
// heading, edited in place when edit-pr-comment) written to the test bed's comment store.
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const {
  input,
  booleanInput,
  setOutput,
  addPath,
  fail,
  recordEnvironment,
  eventPayload,
  pullRequestComments,
} = require("./runtime");

const COMMANDS = ["up", "update", "refresh", "destroy", "preview", "output"];
// Inputs this stand-in does not emulate: a workflow that sets one fails here rather than pass
// with a behaviour the real action would not have.
const NOT_EMULATED = ["config-map", "policyPacks", "policyPackConfigs", "secrets-provider", "log-verbosity"];

function pulumiVersion() {
  let version = input("pulumi-version");
  const file = input("pulumi-version-file");
  if (version && file) {
    throw new Error("Only one of 'pulumi-version' or 'pulumi-version-file' should be provided, got both");
  }
  if (file) {
    if (!fs.existsSync(file)) throw new Error(`pulumi-version-file '${file}' does not exist`);
    version = fs.readFileSync(file, "utf8").trim();
  }
  return version || "^3";
}

/** Does version x.y.z satisfy range: an exact version, ^X / ^X.Y / ^X.Y.Z, or X.x. */
function satisfies(version, range) {
  const [major, ...rest] = version.split(".").map(Number);
  const exact = /^v?(\d+\.\d+\.\d+)$/.exec(range);
  if (exact) return exact[1] === version;
  const caret = /^\^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range) || /^(\d+)\.x$/.exec(range);
  if (!caret) return false;
  if (Number(caret[1]) !== major) return false;
  const want = [caret[2], caret[3]].map((v) => (v === undefined ? 0 : Number(v)));
  return rest[0] > want[0] || (rest[0] === want[0] && rest[1] >= want[1]);
}

/**
 * The CLI, as the real action finds it: one on PATH that satisfies the range (e.g. installed by
 * an earlier step), else a download, here the pinned CLI of the tools cache (tools/build.sh) if
 * it satisfies the range; "latest" and "dev" are refused (nothing to download here).
 */
function installCli(range) {
  const onPath = spawnSync("pulumi", ["version"], { encoding: "utf8" });
  if (onPath.status === 0 && /^v\d/.test(onPath.stdout) && range !== "latest") {
    const version = onPath.stdout.trim().slice(1);
    if (satisfies(version, range)) {
      console.log(`Pulumi CLI ${version} on PATH satisfies ${range}`);
      return;
    }
  }
  const cache = process.env.TESTBED_TOOLS_CACHE;
  if (!cache) throw new Error("TESTBED_TOOLS_CACHE is not set: this stand-in runs only on the test bed");
  const built = fs
    .readdirSync(cache)
    .filter((d) => /^pulumi-\d+\.\d+\.\d+$/.test(d) && fs.existsSync(path.join(cache, d, "bin", "pulumi")))
    .map((d) => d.slice("pulumi-".length));
  const version = built.find((v) => satisfies(v, range));
  if (!version) {
    throw new Error(
      `Pulumi CLI '${range}' is not available on the test bed (it has ${built.join(", ") || "none"}); ` +
        "pin pulumi-version to the version tools/versions.env builds",
    );
  }
  const dir = path.join(cache, `pulumi-${version}`, "bin");
  addPath(dir);
  process.env.PATH = `${dir}${path.delimiter}${process.env.PATH}`;
  console.log(`Pulumi CLI ${version} (the test bed's) is on PATH`);
}

function pulumi(cwd, args, { echo = true } = {}) {
  const result = spawnSync("pulumi", args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (echo) {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
  }
  return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

function multiline(name) {
  return input(name)
    .split("\n")
    .flatMap((l) => l.split(","))
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The flags the Automation API adds for the action's options (stack.preview / stack.up / ...). */
function commandArgs(command, stack) {
  const args = [command === "update" ? "up" : command, "--stack", stack, "--non-interactive"];
  if (command === "up" || command === "update" || command === "destroy" || command === "refresh") {
    args.push("--yes", "--skip-preview");
  }
  const plan = input("plan");
  if (plan) args.push(command === "preview" ? "--save-plan" : "--plan", plan);
  if (booleanInput("diff")) args.push("--diff");
  if (booleanInput("refresh")) args.push("--refresh");
  if (booleanInput("expect-no-changes")) args.push("--expect-no-changes");
  if (booleanInput("suppress-outputs")) args.push("--suppress-outputs");
  if (booleanInput("suppress-progress")) args.push("--suppress-progress");
  if (booleanInput("continue-on-error")) args.push("--continue-on-error");
  if (booleanInput("exclude-protected")) args.push("--exclude-protected");
  if (input("message")) args.push("--message", input("message"));
  if (input("parallel")) args.push("--parallel", input("parallel"));
  for (const t of multiline("target")) args.push("--target", t);
  if (booleanInput("target-dependents")) args.push("--target-dependents");
  for (const r of multiline("replace")) args.push("--replace", r);
  for (const e of multiline("exclude")) args.push("--exclude", e);
  if (booleanInput("exclude-dependents")) args.push("--exclude-dependents");
  args.push("--color", input("color") || "auto");
  return args;
}

/** The comment the real action posts: its heading, a details block with the command's output. */
function commentBody(command, project, stack, output) {
  const MAX = 64_000;
  const alwaysIncludeSummary = booleanInput("always-include-summary");
  let message = output.replace(/\u001b\[[0-9;]*m/g, "");
  let trimmed = false;
  if (message.length > MAX) {
    message = alwaysIncludeSummary ? message.slice(message.length - MAX) : message.slice(0, MAX);
    trimmed = true;
  }
  return [
    `#### :tropical_drink: \`${command}\` on ${project}/${stack}`,
    "",
    "<details>",
    "<summary>Pulumi report</summary>",
    trimmed && alwaysIncludeSummary ? ":warning: **Warn**: The output was too long and trimmed from the front." : "",
    "<pre>",
    message,
    "</pre>",
    trimmed && !alwaysIncludeSummary ? ":warning: **Warn**: The output was too long and trimmed." : "",
    "</details>",
  ].join("\n");
}

function runCommand() {
  const command = input("command", { required: true });
  if (!COMMANDS.includes(command)) {
    throw new Error(`Input 'command' must be one of ${COMMANDS.join(", ")}; got '${command}'`);
  }
  const stack = input("stack-name", { required: true });
  const workDirInput = input("work-dir", { required: true });
  for (const name of NOT_EMULATED) {
    if (input(name)) throw new Error(`the test bed stand-in does not emulate the input '${name}'`);
  }
  if (booleanInput("log-flow") || booleanInput("debug"))
    throw new Error("the test bed stand-in does not emulate log-flow or debug");
  const commentOnPr = booleanInput("comment-on-pr");
  const commentOnSummary = booleanInput("comment-on-summary");
  const editComment = booleanInput("edit-pr-comment");
  const upsert = booleanInput("upsert");
  installCli(pulumiVersion());
  const workDir = path.resolve(process.env.GITHUB_WORKSPACE, workDirInput);

  const cloudUrl = input("cloud-url");
  const login = pulumi(workDir, ["--non-interactive", "--cwd", workDir, "login", ...(cloudUrl ? [cloudUrl] : [])]);
  if (login.code !== 0) console.log(`::warning::Failed to login to Pulumi service: ${login.stderr}`);

  if (command !== "output") {
    const select = pulumi(workDir, ["stack", "select", stack, "--non-interactive", ...(upsert ? ["--create"] : [])]);
    if (select.code !== 0) throw new Error(select.stderr || `no stack named '${stack}' found`);
  }
  const project = /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8"))?.[1];

  console.log(`::group::pulumi ${command} on ${stack}`);
  const result =
    command === "output" ? { code: 0, stdout: "", stderr: "" } : pulumi(workDir, commandArgs(command, stack));
  // The Automation API rejects on a non-zero exit: the action fails with its stderr, posts nothing.
  if (result.code !== 0) throw new Error(result.stderr || `pulumi ${command} exited with ${result.code}`);
  if (result.stderr) console.log(`::warning::${result.stderr.replace(/\n/g, "%0A")}`);
  setOutput("output", result.stdout);
  const outputs = pulumi(workDir, ["stack", "output", "--json", "--stack", stack, "--non-interactive"], {
    echo: false,
  });
  if (outputs.code === 0) {
    for (const [key, value] of Object.entries(JSON.parse(outputs.stdout || "{}"))) {
      setOutput(key, typeof value === "string" ? value : JSON.stringify(value));
    }
  }

  if (command !== "output") {
    const payload = eventPayload();
    const number = Number(input("comment-on-pr-number")) || payload.pull_request?.number;
    if (input("comment-on-pr-number") || (commentOnPr && payload.pull_request)) {
      if (!input("github-token")) throw new Error("github-token is missing.");
      if (!number) throw new Error("Missing pull request event data.");
      const body = commentBody(command, project, stack, result.stdout);
      const heading = body.split("\n")[0];
      const comments = pullRequestComments(process.env.GITHUB_REPOSITORY, number);
      const previous = editComment
        ? comments.list.find((c) => c.body.startsWith(heading) && c.body.includes("<summary>Pulumi report</summary>"))
        : undefined;
      if (previous) comments.update(previous.id, body);
      else comments.create(body);
    }
    if (commentOnSummary) {
      fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${commentBody(command, project, stack, result.stdout)}\n`);
    }
  }
  console.log("::endgroup::");
}

function main() {
  recordEnvironment(input("command") ? `pulumi/actions ${input("command")}` : "pulumi/actions");
  if (!input("command")) {
    installCli(pulumiVersion());
    console.log("Pulumi has been successfully installed. Exiting.");
    return;
  }
  runCommand();
}

try {
  main();
} catch (err) {
  fail(err.message);
}
