/**
 * The migration plan of a stack, without a preview: what will run, the baseline, the
 * database, the key, the guard's findings and the promotion check, computed by the same
 * functions the program runs, from the stack's config and outputs (read with the `pulumi`
 * CLI in your own login). Exit 1 when the deploy would be refused.
 *
 *   npm run plan -- [--stack S] [--format markdown|json] [--cwd DIR]
 *   npm run plan -- --from-file plan.json [--format markdown|json] [--out F] [--summary]
 *                   [--commit SHA] [--preview-outcome success|failure|...]
 *       render a plan the program wrote (MIGRATION_PLAN_FILE) during preview or up;
 *       --summary appends it to $GITHUB_STEP_SUMMARY, --out writes it to a file too;
 *       --commit names the commit it describes; --preview-outcome and $PREVIEW_OUTPUT (the
 *       preview's output) add the preview's result and its resource changes (the PR comment)
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { projectRoot } from "../lib/buildStamp";
import { loadSqlParser } from "../lib/destructiveGuard";
import { loadMigrationDir } from "../lib/migrationDir";
import { buildPlanReport, guardFindings, parsePlanReport, PlanReport, renderPlanMarkdown } from "../lib/planReport";
import { planRun } from "../lib/preflight";
import { checkPromotion, parseAppliedMigrations } from "../lib/promotion";
import { readSettings } from "../lib/settings";
import { currentStack, stackConfig, stackOutputs } from "./pulumiCli";

const ROOT = projectRoot(__dirname);

async function planFromStack(cwd: string, stackArg: string | undefined): Promise<PlanReport> {
  const stack = stackArg ?? (await currentStack(cwd));
  const settings = readSettings(await stackConfig(cwd, stack));
  const dir = loadMigrationDir(path.join(cwd, "migrations"));
  const { migration } = settings;
  // The same record index.ts reads through its StackReference (the URL digest stays a secret
  // here, so a credential change is not named; everything else plans the same).
  const outputs = await stackOutputs(cwd, stack);
  const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const plan = await planRun({
    mode: migration.preflight,
    dir,
    databaseUrl: settings.databaseUrl ?? "",
    databaseCaCert: settings.databaseCaCert,
    baseline: migration.baseline,
    revisionsSchema: migration.revisionsSchema,
    lastAppliedVersion:
      migration.preflight === "online" && !migration.rollback ? undefined : text(outputs.appliedVersion),
    lastAppliedMigrations: parseAppliedMigrations(outputs.appliedMigrations)?.map((m) => m.version),
    lastDatabaseIdentity: text(outputs.appliedDatabase),
    acceptDatabase: migration.acceptDatabase,
    rollback: migration.rollback,
  });
  await loadSqlParser();
  let promotion;
  if (settings.promoteFrom) {
    const source = await stackOutputs(cwd, settings.promoteFrom);
    promotion = checkPromotion(plan.pending, {
      stack: settings.promoteFrom,
      applied: parseAppliedMigrations(source.appliedMigrations),
    });
  }
  return buildPlanReport({
    stack: stack.split("/").pop() ?? stack,
    settings,
    dir,
    plan,
    findings: guardFindings(plan.pending, migration.allowDestructive),
    promotion,
    databaseIdentity: plan.databaseIdentity || undefined,
    recordedKey: text(outputs.migrationKey),
  });
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
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: "string" },
      cwd: { type: "string", default: ROOT },
      "from-file": { type: "string" },
      format: { type: "string", default: "markdown" },
      out: { type: "string" },
      summary: { type: "boolean", default: false },
      commit: { type: "string" },
      "preview-outcome": { type: "string" },
    },
  });
  if (values.format !== "markdown" && values.format !== "json") {
    console.error(`--format ${values.format}: use markdown or json`);
    return 2;
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
      : await planFromStack(path.resolve(values.cwd), values.stack);
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
