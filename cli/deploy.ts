/**
 * `pulumi up` of one stack as CI runs it, with the migration plan and the outcome (a failed
 * migration Job's message included) in the log and in the GitHub job summary.
 *
 *   npm run deploy -- --stack S [--config-file F] [--cwd DIR] [--save-plan DIR | --plan DIR]
 *
 * --save-plan DIR: pulumi preview --save-plan, for reviewers to approve; refuses what `up`
 * would refuse (an unacknowledged destructive statement, a migration the promoteFrom stack has
 * not applied: then $PROMOTE_FROM_FAILURE, that stack's failure, is named too), and records the
 * commit and the state it was made from. --plan DIR: pulumi up --plan of exactly that plan,
 * refused when the commit or the stack's state differs (Pulumi refuses a changed program or
 * config itself).
 *
 * Environment: the Pulumi backend login and secrets provider as usual (PULUMI_ACCESS_TOKEN
 * or PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE or a KMS login); KUBECONFIG, or
 * KUBECONFIG_DATA (a kubeconfig's text, e.g. from an environment secret), written to a
 * private temporary file for this run only; GITHUB_STEP_SUMMARY when run by Actions;
 * MIGRATION_PREFLIGHT_DATABASE_URL, with useExistingSecret and the online preflight: the URL
 * the program's preflight reads (passed on in the environment, never argv or the plan).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectRoot } from "../runtime/buildStamp";
import { deploySummary, diagnostics, parsePlanReport, PLAN_FILE_ENV, PlanReport } from "../lib/deploy/report";
import { parseOptions, runMain, stackConfigFile, UsageError } from "./args";
import { run } from "./pulumiCli";

const ROOT = projectRoot(__dirname);

/** A workflow command's message: one line, with GitHub's escapes. */
function annotation(text: string): string {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/** What an approved plan was made from; `--plan` refuses to apply it to anything else. */
interface PlanOrigin {
  readonly stack: string;
  /** The commit checked out when the plan was made. */
  readonly commit: string;
  /** sha256 of the stack's state (`pulumi stack export`) when the plan was made. */
  readonly state: string;
}

async function gitHead(cwd: string): Promise<string> {
  const result = await run("git", ["rev-parse", "HEAD"], { cwd });
  if (result.code !== 0) throw new Error(`git rev-parse HEAD in ${cwd}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

async function stateDigest(cwd: string, stack: string, env: NodeJS.ProcessEnv): Promise<string> {
  const result = await run("pulumi", ["stack", "export", "--stack", stack, "--non-interactive"], { cwd, env });
  if (result.code !== 0) throw new Error(`pulumi stack export --stack ${stack}: ${result.stderr.trim()}`);
  return createHash("sha256").update(result.stdout).digest("hex");
}

/** Why an approved plan may not be applied here, or undefined when it may. */
function originMismatch(approved: PlanOrigin, here: PlanOrigin): string | undefined {
  if (approved.stack !== here.stack) return `the plan is for stack ${approved.stack}, not ${here.stack}`;
  if (approved.commit !== here.commit) {
    return `the plan was made from commit ${approved.commit}, this checkout is ${here.commit}`;
  }
  if (approved.state !== here.state) {
    return `the stack's state changed since the plan was made (another update or a refresh ran in between)`;
  }
  return undefined;
}

const USAGE = `
usage: npm run deploy -- --stack S [--config-file F] [--cwd DIR] [--save-plan DIR | --plan DIR]

  pulumi up of stack S, with the migration plan and the outcome in the log and, in GitHub
  Actions, in the job summary. --config-file F: its config file (default: Pulumi.<stack>.yaml;
  for the stack npm run local made, the copy it keeps with the database DSN).
  --save-plan DIR: pulumi preview --save-plan into DIR, for reviewers to approve (refused when
  up would be), with the commit and the state it was made from.
  --plan DIR: pulumi up --plan of exactly that plan, refused for another commit or state.`;

async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, USAGE, {
    stack: { type: "string" },
    "config-file": { type: "string" },
    cwd: { type: "string", default: ROOT },
    // Make the plan reviewers approve (pulumi preview --save-plan) into a folder, or apply
    // exactly the plan in that folder (pulumi up --plan).
    "save-plan": { type: "string" },
    plan: { type: "string" },
  });
  if (values === undefined) return 0;
  const stack = values.stack;
  if (!stack) throw new UsageError(`--stack is required\n${USAGE}`);
  if (values["save-plan"] && values.plan) throw new UsageError(`--save-plan and --plan: give one\n${USAGE}`);
  const cwd = path.resolve(values.cwd);
  const configFile = stackConfigFile(cwd, stack, values["config-file"]);
  const scratch = fs.mkdtempSync(path.join(process.env.RUNNER_TEMP ?? os.tmpdir(), "deploy-"));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, [PLAN_FILE_ENV]: path.join(scratch, "plan.json") };
    delete env.KUBECONFIG_DATA;
    if (process.env.KUBECONFIG_DATA) {
      const file = path.join(scratch, "kubeconfig");
      fs.writeFileSync(file, process.env.KUBECONFIG_DATA, { mode: 0o600 });
      env.KUBECONFIG = file;
    }
    const common = [
      "--stack",
      stack,
      ...(configFile === undefined ? [] : ["--config-file", configFile]),
      "--non-interactive",
      "--diff",
      "--color",
      "never",
    ];
    let command = "pulumi up";
    let args = ["up", "--yes", "--skip-preview", ...common];
    let refusal: string | undefined;
    const saveDir = values["save-plan"] && path.resolve(values["save-plan"]);
    const planDir = values.plan && path.resolve(values.plan);
    if (saveDir) {
      fs.mkdirSync(saveDir, { recursive: true });
      command = "pulumi preview --save-plan";
      args = ["preview", ...common, "--save-plan", path.join(saveDir, "update-plan.json")];
    } else if (planDir) {
      const approved = JSON.parse(fs.readFileSync(path.join(planDir, "origin.json"), "utf8")) as PlanOrigin;
      const here = { stack, commit: await gitHead(cwd), state: await stateDigest(cwd, stack, env) };
      refusal = originMismatch(approved, here);
      command = "pulumi up --plan";
      args = ["up", "--yes", "--skip-preview", ...common, "--plan", path.join(planDir, "update-plan.json")];
    }
    const result: { code: number; stdout: string; stderr: string } = refusal
      ? { code: 1, stdout: "", stderr: `refused: ${refusal}; make and approve a new plan (run the workflow again)` }
      : { ...(await run("pulumi", args, { cwd, env, echo: true })) };
    if (refusal) console.error(result.stderr);
    const output = `${result.stdout}\n${result.stderr}`;
    let report: PlanReport | undefined;
    const planFile = env[PLAN_FILE_ENV]!;
    if (fs.existsSync(planFile)) report = parsePlanReport(fs.readFileSync(planFile, "utf8"), planFile);
    let code = result.code;
    let refusalText: string | undefined;

    if (saveDir && code === 0) {
      // The plan is for `up`: what `up` refuses, the plan refuses now, before anyone approves it.
      const refused = [...(report?.refusals ?? []), ...(report?.pendingPromotion ? [report.pendingPromotion] : [])];
      if (refused.length > 0) {
        const failure = process.env.PROMOTE_FROM_FAILURE;
        const lines = [`refused: the update of stack ${stack} would be refused:`, ...refused.map((r) => `  ${r}`)];
        if (failure)
          lines.push(`  ${report?.promotion?.from ?? "the source stack"}'s deploy of this commit failed: ${failure}`);
        refusalText = lines.join("\n");
        console.error(refusalText);
        code = 1;
        result.stderr += `\n${lines.join("\n")}`;
      } else {
        const origin: PlanOrigin = { stack, commit: await gitHead(cwd), state: await stateDigest(cwd, stack, env) };
        fs.writeFileSync(path.join(saveDir, "origin.json"), `${JSON.stringify(origin, null, 2)}\n`);
        if (report) fs.writeFileSync(path.join(saveDir, "migration-plan.json"), `${JSON.stringify(report, null, 2)}\n`);
      }
    }

    const summary = deploySummary(
      stack,
      command,
      { code, output: `${result.stdout}\n${result.stderr}` },
      report,
      refusalText,
    );
    if (process.env.GITHUB_STEP_SUMMARY) fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${summary}\n`);
    if (code !== 0 && process.env.GITHUB_ACTIONS === "true") {
      const errors = [diagnostics(output), result.stderr]
        .join("\n")
        .split("\n")
        .filter((l) => /error|failed|refused/i.test(l))
        .map((l) => l.trim());
      const unique = [...new Set(errors)].join("\n");
      console.log(`::error title=${command} failed (stack ${stack})::${annotation(unique.slice(0, 4000))}`);
      // For a later job (the next stack's plan names why this one failed): the diagnostics'
      // error lines (a failed migration Job's message among them), on one line.
      if (process.env.GITHUB_OUTPUT) {
        const why = diagnostics(output)
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => /error|fail|pq: |does not exist|refused/i.test(l));
        const line = [...new Set(why.length > 0 ? why : unique.split("\n"))].join(" | ");
        fs.appendFileSync(process.env.GITHUB_OUTPUT, `failure=${line.slice(0, 2000).replace(/[\r\n]/g, " ")}\n`);
      }
    }
    return code;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

runMain(main);
