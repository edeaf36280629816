import { describeUrl } from "./dsn";
import { DatabaseState, MigrationPlan, planMigrations, Problem, baselineNotFound } from "./migrationPlan";
import { MigrationDir, MigrationFile } from "./migrationDir";
import { readDatabaseState, ReadOptions } from "./databaseState";
import type { MigrationPreflight } from "./settings";

/**
 * What the next `up` will migrate, decided before any resource is registered: online from
 * a read-only look at the database, offline from the version this stack last applied.
 */

export interface PreflightInput {
  readonly mode: MigrationPreflight;
  readonly dir: MigrationDir;
  readonly databaseUrl: string;
  /** The CA bundle (PEM) the pods get as sslrootcert; the online preflight verifies with it. */
  readonly databaseCaCert?: string;
  readonly baseline?: string;
  readonly revisionsSchema?: string;
  /** The version the last successful `up` of this stack applied (its `appliedVersion` output). */
  readonly lastAppliedVersion?: string;
}

export interface RunPlan {
  readonly mode: MigrationPreflight;
  readonly pending: readonly MigrationFile[];
  readonly appliedVersion?: string;
  readonly baselineToWrite?: string;
  /** Where the plan came from, for the preview message. */
  readonly basis: string;
}

export class PreflightError extends Error {
  constructor(readonly problems: readonly Problem[]) {
    super(`migration preflight refused this deploy:\n${problems.map((p) => `  - ${p.message}`).join("\n")}`);
  }
}

export type StateReader = (url: string, options: ReadOptions) => Promise<DatabaseState>;

export async function planRun(input: PreflightInput, read: StateReader = readDatabaseState): Promise<RunPlan> {
  const { dir, baseline, mode } = input;
  if (baseline && !dir.files.some((f) => f.version === baseline)) {
    throw new PreflightError([baselineNotFound(dir.files, baseline)]);
  }
  if (mode === "online") {
    const state = await read(input.databaseUrl, { revisionsSchema: input.revisionsSchema, ca: input.databaseCaCert });
    const plan: MigrationPlan = planMigrations(dir.files, state, baseline);
    if (plan.problems.length > 0) throw new PreflightError(plan.problems);
    return {
      mode,
      pending: plan.pending,
      appliedVersion: plan.appliedVersion,
      baselineToWrite: plan.baselineToWrite,
      basis: `read from the database at ${describeUrl(input.databaseUrl)}`,
    };
  }
  const after = input.lastAppliedVersion ?? baseline;
  return {
    mode,
    pending: dir.files.filter((f) => after === undefined || f.version > after),
    appliedVersion: input.lastAppliedVersion,
    baselineToWrite: input.lastAppliedVersion === undefined ? baseline : undefined,
    basis: input.lastAppliedVersion
      ? `newer than ${input.lastAppliedVersion}, the version this stack last applied; the database was not read`
      : "this stack has not applied migrations yet; the database was not read",
  };
}

/** The preview's migration block: what will run, the baseline, and nothing secret. */
export function describePlan(plan: RunPlan, key: string): string {
  const lines = [`Migrations (preflight ${plan.mode}; ${plan.basis}):`];
  if (plan.appliedVersion) lines.push(`  applied so far: ${plan.appliedVersion}`);
  lines.push(`  baseline: ${plan.baselineToWrite ? `${plan.baselineToWrite} (will be recorded, not run)` : "none"}`);
  if (plan.pending.length === 0) {
    lines.push("  no migration will run");
  } else {
    lines.push(`  ${plan.pending.length} migration(s) will run, in this order:`);
    for (const f of plan.pending) lines.push(`    ${f.version}  ${f.name}`);
  }
  lines.push(`  migration key: ${key}`);
  return lines.join("\n");
}
