import * as fs from "fs";
import * as path from "path";
import { describeUrl } from "../database/dsn";
import type { MigrationFile } from "../migration/dir";
import type { RunPlan } from "../migration/preflight";
import { isAcknowledged } from "../migration/guard";
import { OUTSIDE_TRANSACTION, runsOutsideTransaction } from "../migration/txmode";
import { fileSha256, PromotionCheck, promotionRefusal } from "../migration/promotion";
import {
  type Acknowledged,
  findRisks,
  isProjectReviewed,
  needsAcknowledgement,
  type Phase,
  type Risk,
  RISK_CLASSES,
  RISKS,
} from "../migration/risk";
import type { ApiSpec } from "../spec";

/**
 * The migration plan as data a workflow can read (JSON: a file during preview and up, and
 * the `migrationPlan` stack output) and as Markdown for a job summary or a PR comment.
 * Nothing secret goes in: the database appears as host:port/name only.
 */

/**
 * Bumped when a field changes meaning; readers check it. 2: promotion moved out of refusals.
 * 3: guard lists every risk class (risk, phase, acceptedByPhase), not only destructive statements.
 */
export const PLAN_FORMAT = 3;
/** The program writes the plan here when the variable is set (preview and up alike). */
export const PLAN_FILE_ENV = "MIGRATION_PLAN_FILE";

export interface GuardFinding {
  readonly version: string;
  readonly file: string;
  readonly line: number;
  /** What the statement does to a live system (lib/migration/risk.ts). */
  readonly risk: Risk;
  /** The phase the file runs in: expand (before the rollout) or contract (after it). */
  readonly phase: Phase;
  readonly kind: string;
  readonly statement: string;
  /** The safe way, or what to do instead. */
  readonly advice: string;
  /** squawk's rules that flagged the statement for this class. */
  readonly squawk: readonly string[];
  /** Listed in the class's key (allowDestructiveMigrations, allowBreakingMigrations, allowLockingMigrations). */
  readonly acknowledged: boolean;
  /** Covered by the project's review of a shipped migration (lib/migration/risk.ts, PROJECT_REVIEWED). */
  readonly reviewedByProject: boolean;
  /** Needs no acknowledgement in its phase (breaks-old-pods in the contract phase). */
  readonly acceptedByPhase: boolean;
}

export interface PlanReport {
  readonly format: typeof PLAN_FORMAT;
  readonly stack: string;
  readonly preflight: RunPlan["mode"];
  /** Where the plan came from (the preview's own words). */
  readonly basis: string;
  /** The database the stack deploys to, as host:port/name (never credentials). */
  readonly database: string;
  /** A non-secret identity of that database, when the preflight knows one. */
  readonly databaseIdentity: string | null;
  readonly appliedVersion: string | null;
  /** The baseline revision the run will record, if it records one. */
  readonly baseline: string | null;
  readonly pending: ReadonlyArray<{
    readonly version: string;
    readonly file: string;
    readonly sha256: string;
    /** Atlas runs it outside a transaction (`-- atlas:txmode none`): if it fails, what it did stays applied. */
    readonly outsideTransaction: boolean;
  }>;
  readonly migrationKey: string;
  readonly guard: ReadonlyArray<GuardFinding>;
  readonly promotion: PromotionCheck | null;
  /** Why this deploy will be refused, preview and `up` alike; empty when it may proceed. */
  readonly refusals: readonly string[];
  /**
   * Pending migrations the promoteFrom stack has not applied yet, in one line: a preview shows
   * them (the source stack applies them on merge), `pulumi up` of this stack refuses them.
   */
  readonly pendingPromotion: string | null;
  /**
   * The contract phase (migrations/contract/): what runs after the new pods are rolled out and
   * ready; null when the directory has no file. Its guard findings are in `guard` too.
   */
  readonly contract: PhaseReport | null;
}

/** What one phase will run: the same fields as the expand phase's at the top level. */
export interface PhaseReport {
  readonly appliedVersion: string | null;
  readonly baseline: string | null;
  readonly pending: PlanReport["pending"];
  readonly migrationKey: string;
}

/** Every finding of every class in the files one phase runs, acknowledged or not. Needs loadSqlParser(). */
export function guardFindings(
  pending: readonly MigrationFile[],
  acknowledged: Acknowledged,
  phase: Phase,
): GuardFinding[] {
  return findRisks(pending).map((d) => {
    const file = pending.find((f) => f.name === d.file)!;
    return {
      version: d.version,
      file: d.file,
      line: d.line,
      risk: d.risk,
      phase,
      kind: d.kind,
      statement: d.statement,
      advice: d.advice,
      squawk: d.squawk,
      acknowledged: isAcknowledged(file, acknowledged[RISK_CLASSES[d.risk].field]),
      reviewedByProject: isProjectReviewed(d.risk, file),
      acceptedByPhase: !needsAcknowledgement(d.risk, phase),
    };
  });
}

/** What each class does to a live system, in a refusal's words. */
const REFUSED_AS: Readonly<Record<Risk, string>> = {
  "loses-data": "statements that lose data (or cannot be verified)",
  "breaks-old-pods": "statements that break the API pods still serving during the rollout",
  "long-lock": "statements that hold a long exclusive lock on, or rewrite, a table that already exists",
};

export interface PlanReportInput {
  readonly stack: string;
  readonly spec: ApiSpec;
  readonly plan: RunPlan;
  readonly findings: readonly GuardFinding[];
  readonly promotion?: PromotionCheck;
  readonly databaseIdentity?: string;
  /** The content key of the Job this deploy runs (DeployPlan.migration.key). */
  readonly migrationKey: string;
  /** The contract phase's plan (DeployPlan.contract), when there is one. */
  readonly contract?: {
    readonly run: RunPlan;
    readonly migration: { readonly key: string };
    readonly findings: readonly GuardFinding[];
  };
}

export function buildPlanReport(input: PlanReportInput): PlanReport {
  const { plan, promotion, contract } = input;
  const findings = [...input.findings, ...(contract?.findings ?? [])];
  const refusals: string[] = [];
  // One refusal per class, naming its own key.
  for (const risk of RISKS) {
    const refused = findings.filter(
      (f) => f.risk === risk && !f.acknowledged && !f.reviewedByProject && !f.acceptedByPhase,
    );
    if (refused.length === 0) continue;
    const versions = [...new Set(refused.map((f) => f.version))];
    refusals.push(
      `${REFUSED_AS[risk]}, not acknowledged in ${RISK_CLASSES[risk].key}: ${versions.join(", ")} ` +
        `(${refused.map((f) => `${f.file}:${f.line} ${f.kind}`).join("; ")})`,
    );
  }
  const promotionText = promotion ? promotionRefusal(promotion) : undefined;
  return {
    format: PLAN_FORMAT,
    stack: input.stack,
    preflight: plan.mode,
    basis: plan.basis,
    database: describeDatabase(input.spec.database),
    databaseIdentity: input.databaseIdentity ?? null,
    appliedVersion: plan.appliedVersion ?? null,
    baseline: plan.baselineToWrite ?? null,
    pending: pendingFiles(plan.pending),
    migrationKey: input.migrationKey,
    guard: findings,
    promotion: promotion ?? null,
    refusals,
    pendingPromotion:
      promotion && promotionText
        ? `${promotion.untried.length} pending migration(s) not applied by stack ${promotion.from} yet: ` +
          promotion.untried.map((u) => `${u.file} (${u.reason})`).join("; ")
        : null,
    contract: contract
      ? {
          appliedVersion: contract.run.appliedVersion ?? null,
          baseline: contract.run.baselineToWrite ?? null,
          pending: pendingFiles(contract.run.pending),
          migrationKey: contract.migration.key,
        }
      : null,
  };
}

/** The database as host:port/name; with an existing Secret, the one existingSecretDatabase names, if set. */
export function describeDatabase(database: ApiSpec["database"]): string {
  if (database.url !== undefined) return describeUrl(database.url);
  const secret = `in Secret ${database.existingSecret}`;
  return database.address === undefined ? secret : `${describeUrl(database.address)} (${secret})`;
}

function pendingFiles(files: readonly MigrationFile[]): PlanReport["pending"] {
  return files.map((f) => ({
    version: f.version,
    file: f.name,
    sha256: fileSha256(f),
    outsideTransaction: runsOutsideTransaction(f),
  }));
}

/** Writes the plan where PLAN_FILE_ENV points, if it is set. */
export function writePlanFile(report: PlanReport, env: NodeJS.ProcessEnv = process.env): void {
  const target = env[PLAN_FILE_ENV];
  if (!target) return;
  fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
  fs.writeFileSync(target, `${JSON.stringify(report, null, 2)}\n`);
}

/** Reads a plan file, checking it is one this code understands. */
export function parsePlanReport(text: string, source: string): PlanReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON (${(err as Error).message}); expected the file ${PLAN_FILE_ENV} named`);
  }
  const format = (value as { format?: unknown } | null)?.format;
  if (format !== PLAN_FORMAT) {
    throw new Error(`${source}: plan format ${JSON.stringify(format)}, this code reads format ${PLAN_FORMAT}`);
  }
  return value as PlanReport;
}

// --- Markdown ----------------------------------------------------------------------------

/** A GFM code span that survives any backticks and table pipes in the text. */
export function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text.replace(/\|/g, "\\|")}${pad}${fence}`;
}

/** Plain table-cell text: no pipes, no line breaks, no HTML. */
export function cell(text: string): string {
  return text
    .replace(/\s+/g, " ")
    .replace(/[|<>*_[\]\\]/g, (c) => `\\${c}`)
    .trim();
}

function pendingCount(report: PlanReport): number {
  return report.pending.length + (report.contract?.pending.length ?? 0);
}

function guardVerdict(g: GuardFinding): string {
  if (g.acknowledged) return `acknowledged in ${RISK_CLASSES[g.risk].key}`;
  if (g.reviewedByProject) return "reviewed by the project (migrations/README.md)";
  return g.acceptedByPhase ? `accepted: ${g.phase} phase` : `**not acknowledged** in ${RISK_CLASSES[g.risk].key}`;
}

/** The plan as GitHub-flavoured Markdown, for a job summary or a PR comment. */
export function renderPlanMarkdown(report: PlanReport): string {
  const out: string[] = [];
  const verdict =
    report.refusals.length > 0
      ? "**refused**"
      : report.pendingPromotion
        ? `${report.pending.length} migration(s), **pending promotion** from ${cell(report.promotion?.from ?? "")}`
        : pendingCount(report) === 0
          ? "no migration will run"
          : report.contract
            ? `${report.pending.length} migration(s) before the rollout, ${report.contract.pending.length} after`
            : `${report.pending.length} migration(s) will run`;
  out.push(`### Migration plan: stack ${codeSpan(report.stack)} (${verdict})`, "");
  out.push("| | |", "| --- | --- |");
  out.push(`| preflight | ${cell(`${report.preflight}: ${report.basis}`)} |`);
  out.push(`| database | ${codeSpan(report.database)} |`);
  if (report.databaseIdentity) out.push(`| database identity | ${codeSpan(report.databaseIdentity)} |`);
  out.push(`| applied so far | ${report.appliedVersion ? codeSpan(report.appliedVersion) : "none"} |`);
  out.push(`| baseline | ${report.baseline ? `${codeSpan(report.baseline)} (will be recorded, not run)` : "none"} |`);
  out.push(`| migration key | ${codeSpan(report.migrationKey)} |`);
  const c = report.contract;
  if (c) {
    out.push(`| contract phase applied so far | ${c.appliedVersion ? codeSpan(c.appliedVersion) : "none"} |`);
    if (c.baseline) out.push(`| contract phase baseline | ${codeSpan(c.baseline)} (will be recorded, not run) |`);
    out.push(`| contract migration key | ${codeSpan(c.migrationKey)} |`);
  }
  const p = report.promotion;
  if (p) {
    const source =
      p.sourceAppliedCount === 0
        ? `${codeSpan(p.from)} has applied no migration yet`
        : `${codeSpan(p.from)} applied ${p.sourceAppliedCount} migration(s), newest ${codeSpan(p.sourceAppliedVersion ?? "")}`;
    out.push(`| promoted from | ${source} |`);
  }
  out.push("");

  const phases: Array<[string, PlanReport["pending"]]> = [
    [report.contract ? "Before the rollout (expand), in this order:" : "In this order:", report.pending],
    ...(report.contract
      ? [
          ["After the new pods are rolled out and ready (contract), in this order:", report.contract.pending] as [
            string,
            PlanReport["pending"],
          ],
        ]
      : []),
  ];
  for (const [title, pending] of phases.filter(([, files]) => files.length > 0)) {
    const untried = new Map((p?.untried ?? []).map((u) => [u.version, u]));
    const header = ["#", "version", "file", "guard"];
    if (p) header.push(`applied by ${cell(p.from)}`);
    out.push(title, "", `| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`);
    pending.forEach((f, i) => {
      const found = report.guard.filter((g) => g.version === f.version);
      const destructive =
        found.length === 0 ? "no" : found.map((g) => `${cell(`${g.risk}: ${g.kind}`)} (${guardVerdict(g)})`).join("; ");
      const file = codeSpan(f.file) + (f.outsideTransaction ? ` (${cell(OUTSIDE_TRANSACTION)})` : "");
      const row = [String(i + 1), codeSpan(f.version), file, destructive];
      if (p) {
        const u = untried.get(f.version);
        row.push(u ? `**no**: ${cell(u.reason)}` : "yes");
      }
      out.push(`| ${row.join(" | ")} |`);
    });
    out.push("");
  }

  if (report.guard.length > 0) {
    out.push(
      "What the statements do to the live system:",
      "",
      "| where | class | kind | statement | verdict |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const g of report.guard) {
      out.push(
        `| ${codeSpan(`${g.file}:${g.line}`)} | ${cell(g.risk)} | ${cell(g.kind)} | ${codeSpan(g.statement)} | ${guardVerdict(g)} |`,
      );
    }
    out.push("");
  }

  if (report.pendingPromotion) {
    out.push(
      "Pending promotion:",
      "",
      `- ${cell(report.pendingPromotion)}`,
      "",
      `Stack ${codeSpan(report.promotion?.from ?? "")} applies them when this commit is deployed there (on merge); ` +
        `until it has, \`pulumi up\` of stack ${codeSpan(report.stack)} refuses them.`,
      "",
    );
  }
  if (report.refusals.length > 0) {
    out.push("Refused:", "");
    for (const r of report.refusals) out.push(`- ${cell(r)}`);
    out.push("");
  }
  return out.join("\n");
}

// --- a deploy's result, for the job summary ---------------------------------------------

/**
 * The Diagnostics section of `pulumi up`/`preview` output (where the migration block and a
 * failed Job's message are printed), without the engine's resource table.
 */
export function diagnostics(output: string): string {
  const lines = output.replace(/\r/g, "").split("\n");
  const start = lines.findIndex((l) => /^Diagnostics:\s*$/.test(l));
  if (start < 0) return "";
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    if (/^(Outputs|Resources|Duration|Permalink):/.test(lines[i])) {
      end = i;
      break;
    }
  }
  return lines
    .slice(start + 1, end)
    .join("\n")
    .replace(/^\n+|\s+$/g, "");
}

/**
 * The job summary of a deploy: the plan table, then the outcome (with why the plan was refused,
 * when it was), with the engine's diagnostics on failure.
 */
export function deploySummary(
  stack: string,
  command: string,
  result: { code: number; output: string },
  report?: PlanReport,
  refusal?: string,
): string {
  const out: string[] = [];
  if (report) out.push(renderPlanMarkdown(report));
  else out.push(`### Migration plan: stack ${codeSpan(stack)}`, "", "The program stopped before it made a plan.", "");
  out.push(
    result.code === 0
      ? `**${cell(command)} succeeded** for stack ${codeSpan(stack)}.`
      : `**${cell(command)} failed** for stack ${codeSpan(stack)} (exit code ${result.code}).`,
    "",
  );
  if (refusal) out.push(...codeBlock(refusal), "");
  const diag = diagnostics(result.output);
  if (result.code !== 0 || diag) {
    const body = diag || result.output.split("\n").slice(-40).join("\n");
    out.push(
      "<details" + (result.code !== 0 ? " open" : "") + "><summary>Diagnostics</summary>",
      "",
      ...codeBlock(body),
      "",
      "</details>",
      "",
    );
  }
  return out.join("\n");
}

/** Text as a fenced block that no backtick run in it can close. */
function codeBlock(text: string): string[] {
  const fence = "`".repeat(Math.max(3, ...(text.match(/`+/g) ?? []).map((r) => r.length + 1)));
  return [`${fence}text`, text, fence];
}
