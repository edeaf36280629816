/**
 * `pulumi up` of one stack as CI runs it, with the migration plan and the outcome (a failed
 * migration Job's message included) in the log and in the GitHub job summary.
 *
 *   npm run deploy -- --stack S [--config-file F] [--cwd DIR]
 *
 * Environment: the Pulumi backend login and secrets provider as usual (PULUMI_ACCESS_TOKEN
 * or PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE or a KMS login); KUBECONFIG, or
 * KUBECONFIG_DATA (a kubeconfig's text, e.g. from an environment secret), written to a
 * private temporary file for this run only; GITHUB_STEP_SUMMARY when run by Actions.
 */
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

const USAGE = `
usage: npm run deploy -- --stack S [--config-file F] [--cwd DIR]

  pulumi up of stack S, with the migration plan and the outcome in the log and, in GitHub
  Actions, in the job summary. --config-file F: its config file (default: Pulumi.<stack>.yaml;
  for the stack npm run local made, the copy it keeps with the database DSN).`;

async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, USAGE, {
    stack: { type: "string" },
    "config-file": { type: "string" },
    cwd: { type: "string", default: ROOT },
  });
  if (values === undefined) return 0;
  const stack = values.stack;
  if (!stack) throw new UsageError(`--stack is required\n${USAGE}`);
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
    const command = "pulumi up";
    const result = await run(
      "pulumi",
      // --skip-preview: the Preview workflow showed this plan for review already, and the
      // update runs the same checks before any change; a preview here would run it all twice.
      [
        "up",
        "--yes",
        "--skip-preview",
        "--stack",
        stack,
        ...(configFile === undefined ? [] : ["--config-file", configFile]),
        "--non-interactive",
        "--diff",
        "--color",
        "never",
      ],
      { cwd, env, echo: true },
    );
    const output = `${result.stdout}\n${result.stderr}`;
    let report: PlanReport | undefined;
    const planFile = env[PLAN_FILE_ENV]!;
    if (fs.existsSync(planFile)) report = parsePlanReport(fs.readFileSync(planFile, "utf8"), planFile);

    const summary = deploySummary(stack, command, { code: result.code, output }, report);
    if (process.env.GITHUB_STEP_SUMMARY) fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${summary}\n`);
    if (result.code !== 0 && process.env.GITHUB_ACTIONS === "true") {
      const errors = diagnostics(output)
        .split("\n")
        .filter((l) => /error|failed/i.test(l))
        .map((l) => l.trim())
        .join("\n");
      console.log(`::error title=${command} failed (stack ${stack})::${annotation(errors.slice(0, 4000))}`);
    }
    return result.code;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

runMain(main);
