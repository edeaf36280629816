/**
 * The migration plan of a stack, without a preview: what will run, the baseline, the
 * database, the key, the guard's findings and the promotion check, computed by the program's
 * own planDeploy from the stack's config and outputs (read with the `pulumi` CLI in your own
 * login). Exit 1 when the deploy would be refused, 2 on a bad command line.
 */
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "../runtime/buildStamp";
import { loadMigrationDir } from "../lib/migration/dir";
import { readSpec } from "../lib/config/readSpec";
import { appliedRecord } from "../lib/deploy/applied";
import { planDeploy } from "../lib/deploy/plan";
import { parsePlanReport, PlanReport, renderPlanMarkdown } from "../lib/deploy/report";
import { parseAppliedMigrations } from "../lib/migration/promotion";
import { parseOptions, runMain, stackConfigFile, UsageError } from "./args";
import { currentStack, stackConfig, stackOutputs } from "./pulumiCli";

const ROOT = projectRoot(__dirname);

const USAGE = `
usage: npm run plan -- [--stack S] [--config-file F] [--format markdown|json] [--cwd DIR]
       npm run plan -- --from-file plan.json [--format markdown|json] [--out F] [--summary]

  --stack S          the stack to plan (default: the selected one)
  --config-file F    its config file (default: Pulumi.<stack>.yaml; for the stack npm run local
                     made, the copy it keeps with the database DSN)
  --from-file F      render a plan the program wrote (MIGRATION_PLAN_FILE) during preview or up
  --summary          append it to $GITHUB_STEP_SUMMARY too; --out F writes it to a file too
Exit 1 when planning a stack whose deploy would be refused.`;

async function planFromStack(cwd: string, stackArg?: string, configFile?: string): Promise<PlanReport> {
  const stack = stackArg ?? (await currentStack(cwd));
  const spec = readSpec(await stackConfig(cwd, stack, stackConfigFile(cwd, stack, configFile)));
  const promotionSource = spec.promoteFrom
    ? {
        stack: spec.promoteFrom,
        applied: parseAppliedMigrations((await stackOutputs(cwd, spec.promoteFrom)).appliedMigrations),
      }
    : undefined;
  // The program's own plan, from the same record it reads through its StackReference.
  const deploy = await planDeploy({
    stack: stack.split("/").pop() ?? stack,
    spec,
    dir: loadMigrationDir(path.join(cwd, "migrations")),
    applied: appliedRecord(await stackOutputs(cwd, stack)),
    promotionSource,
  });
  return deploy.report;
}

async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, USAGE, {
    stack: { type: "string" },
    "config-file": { type: "string" },
    cwd: { type: "string", default: ROOT },
    "from-file": { type: "string" },
    format: { type: "string", default: "markdown" },
    out: { type: "string" },
    summary: { type: "boolean", default: false },
  });
  if (values === undefined) return 0;
  if (values.format !== "markdown" && values.format !== "json") {
    throw new UsageError(`--format ${values.format}: use markdown or json\n${USAGE}`);
  }
  const fromFile = values["from-file"];
  let text: string;
  let refused = false;
  if (fromFile !== undefined && !fs.existsSync(fromFile)) {
    // The program stopped before it planned (a config or directory error): the step that
    // ran it shows why; say so where reviewers look instead of failing a second time.
    text =
      "### Migration plan\n\nThe program stopped before it made a plan (a configuration or migration directory error); " +
      "see the log of the Pulumi step.\n";
  } else {
    const report = fromFile
      ? parsePlanReport(fs.readFileSync(fromFile, "utf8"), fromFile)
      : await planFromStack(path.resolve(values.cwd), values.stack, values["config-file"]);
    refused = report.refusals.length > 0;
    text = values.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderPlanMarkdown(report);
  }
  process.stdout.write(text);
  if (values.out) fs.writeFileSync(values.out, text);
  if (values.summary) {
    const summary = process.env.GITHUB_STEP_SUMMARY;
    if (!summary) {
      console.error("--summary: GITHUB_STEP_SUMMARY is not set (it is, inside GitHub Actions)");
      return 2;
    }
    fs.appendFileSync(summary, `${text}\n`);
  }
  // Rendering a plan file reports; planning a stack decides.
  return !fromFile && refused ? 1 : 0;
}

runMain(main);
