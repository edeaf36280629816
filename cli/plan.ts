/**
 * The migration plan of a stack, without a preview: what will run, the baseline, the
 * database, the key, the guard's findings and the promotion check, computed by the program's
 * own planDeploy from the stack's config and outputs (read with the `pulumi` CLI in your own
 * login). Exit 1 when the deploy would be refused, 2 on a bad command line.
 */
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "../runtime/buildStamp";
import { loadMigrationPhases } from "../lib/migration/phase";
import { readSpec } from "../lib/config/readSpec";
import { appliedRecord } from "../lib/deploy/applied";
import { planDeploy } from "../lib/deploy/plan";
import { PREFLIGHT_URL_ENV } from "../lib/deploy/preflightUrl";
import { parsePlanReport, PlanReport, renderPlanMarkdown } from "../lib/deploy/report";
import { promotionSource } from "../lib/migration/promotion";
import { parseOptions, runMain, stackConfigFile, UsageError } from "./args";
import { currentStack, stackConfig, stackOutputs } from "./pulumiCli";

const ROOT = projectRoot(__dirname);

const USAGE = `
usage: npm run plan -- [--stack S] [--config-file F] [--format markdown|json] [--cwd DIR]
       npm run plan -- --from-file plan.json [--format markdown|json] [--out F] [--summary]
                       [--commit SHA] [--preview-outcome success|failure|...]

  --stack S          the stack to plan (default: the selected one)
  --config-file F    its config file (default: Pulumi.<stack>.yaml; for the stack npm run local
                     made, the copy it keeps with the database DSN)
  --from-file F      render a plan the program wrote (MIGRATION_PLAN_FILE) during preview or up
  --summary          append it to $GITHUB_STEP_SUMMARY too; --out F writes it to a file too
  --commit SHA       name the commit the plan describes (the PR comment)
  --preview-outcome  the preview step's outcome; with $PREVIEW_OUTPUT (the preview's output), the
                     comment adds the preview's result and its resource changes
With useExistingSecret and migrationPreflight online, $MIGRATION_PREFLIGHT_DATABASE_URL is the
URL the preflight reads (of the database existingSecretDatabase names; only read, never shown).
Exit 1 when planning a stack whose up would be refused.`;

async function planFromStack(cwd: string, stackArg?: string, configFile?: string): Promise<PlanReport> {
  const stack = stackArg ?? (await currentStack(cwd));
  const spec = readSpec(await stackConfig(cwd, stack, stackConfigFile(cwd, stack, configFile)));
  const source = spec.promoteFrom ? await stackOutputs(cwd, spec.promoteFrom) : undefined;
  const promotion =
    spec.promoteFrom && source
      ? promotionSource(spec.promoteFrom, source.appliedMigrations, source.appliedContractMigrations)
      : undefined;
  const { expand, contract } = loadMigrationPhases(path.join(cwd, "migrations"));
  // The program's own plan, from the same record it reads through its StackReference.
  const deploy = await planDeploy({
    stack: stack.split("/").pop() ?? stack,
    spec,
    dir: expand,
    contractDir: contract,
    applied: appliedRecord(await stackOutputs(cwd, stack)),
    promotionSource: promotion,
    preflightDatabaseUrl: process.env[PREFLIGHT_URL_ENV],
  });
  return deploy.report;
}

/** The plan with the commit it describes, the preview's outcome and its resource changes. */
function previewComment(plan: string, commit?: string, outcome?: string, output?: string): string {
  const out = [plan.replace(/^### (.*)$/m, (line) => (commit ? `${line}\n\nCommit \`${commit}\`.` : line))];
  if (outcome && outcome !== "success") {
    out.push(`**pulumi preview: ${outcome}**; the job's log has the engine's error.`, "");
  }
  if (output && output.trim()) {
    const body = output.length > 50_000 ? `(first part cut)\n${output.slice(-50_000)}` : output;
    const fence = "`".repeat(Math.max(3, ...(body.match(/`+/g) ?? []).map((r) => r.length + 1)));
    out.push(
      "<details><summary>Resource changes (pulumi preview)</summary>",
      "",
      `${fence}text`,
      body.trimEnd(),
      fence,
      "",
      "</details>",
      "",
    );
  }
  return out.join("\n");
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
    commit: { type: "string" },
    "preview-outcome": { type: "string" },
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
    text = "### Migration plan\n\nThe program stopped before it made a plan; see the log of the Pulumi step.\n";
  } else {
    const report = fromFile
      ? parsePlanReport(fs.readFileSync(fromFile, "utf8"), fromFile)
      : await planFromStack(path.resolve(values.cwd), values.stack, values["config-file"]);
    refused = report.refusals.length > 0 || report.pendingPromotion !== null;
    text = values.format === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderPlanMarkdown(report);
  }
  if (values.format === "markdown" && (values.commit || values["preview-outcome"])) {
    text = previewComment(text, values.commit, values["preview-outcome"], process.env.PREVIEW_OUTPUT);
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
