import { describeUrl } from "../database/dsn";
import {
  DatabaseState,
  MigrationPlan,
  planMigrations,
  Problem,
  baselineNotFound,
  databaseAhead,
  outOfOrder,
} from "./plan";
import { MigrationDir, MigrationFile } from "./dir";
import { boundSchema, databaseIdentity, databaseUrlDigest, readDatabaseState, ReadOptions } from "../database/state";
import type { MigrationPreflight } from "../spec";
import { atlasParsedStatements, loadSqlParser, MigrationSqlError } from "./guard";
import { leftoverIndexRefusals, OUTSIDE_TRANSACTION, runsOutsideTransaction, type InvalidIndex } from "./txmode";
import type { Phase } from "./phase";
import { foldSchema, SchemaFoldError, schemaDifference, type SchemaNames } from "./schema";

/**
 * What the next `up` will migrate, decided before any resource is registered: online from
 * a read-only look at the database, offline from the version this stack last applied.
 */

export interface PreflightInput {
  readonly mode: MigrationPreflight;
  readonly dir: MigrationDir;
  /** The Job's database URL (identity, change, record); with useExistingSecret, existingSecretDatabase's or "". */
  readonly databaseUrl: string;
  /** The config key that names that database, for messages. @default "databaseDsn" */
  readonly databaseKey?: string;
  /** What the online preflight reads when not databaseUrl (the environment's URL with useExistingSecret). */
  readonly readFrom?: ReadFrom;
  /** The CA bundle (PEM) the pods get as sslrootcert; the online preflight verifies with it. */
  readonly databaseCaCert?: string;
  readonly baseline?: string;
  readonly revisionsSchema?: string;
  /** The version the last successful `up` of this stack applied (its `appliedVersion` output). */
  readonly lastAppliedVersion?: string;
  /** Every version in the directory of that `up` (its `appliedMigrations` output). */
  readonly lastAppliedMigrations?: readonly string[];
  /** databaseIdentity of the database that `up` migrated (its `appliedDatabase` output). */
  readonly lastDatabaseIdentity?: string;
  /** databaseUrlDigest of the URL that `up` used (its secret `appliedDatabaseUrlDigest` output). */
  readonly lastDatabaseUrlDigest?: string;
  /** migrationAcceptDatabase: the identity of a new database whose full run is accepted offline. */
  readonly acceptDatabase?: string;
  /** rollbackWithoutMigrations: deploy the API without running the Job. */
  readonly rollback?: boolean;
  /**
   * The contract phase: the schema without revisions is the expand phase's (`--allow-dirty`),
   * and its baseline follows migrationBaseline, checked by the expand phase's plan. @default expand
   */
  readonly phase?: Phase;
  /**
   * The contract phase's files, for the expand phase's baseline check: a release's schema is
   * what both phases' files up to it build, in version order. @default none
   */
  readonly contractFiles?: readonly MigrationFile[];
}

/** A URL the preflight reads other than the Job's, and the name its messages give it. */
export interface ReadFrom {
  readonly url: string;
  readonly name: string;
}

/** What the database is, compared with the one this stack last migrated. */
export type DatabaseChange =
  /** No record: a first deploy, or a state written before the record existed. */
  | "unrecorded"
  | "same"
  /** The same database (host, port, name, search_path) with other credentials or options. */
  | "credentials"
  /** Another database. */
  | "changed";

export interface RunPlan {
  readonly mode: MigrationPreflight;
  readonly pending: readonly MigrationFile[];
  readonly appliedVersion?: string;
  readonly baselineToWrite?: string;
  /** Where the plan came from, for the preview message. */
  readonly basis: string;
  /** The database's identity (no credentials), for the content key and the stack's record. */
  readonly databaseIdentity: string;
  readonly databaseChange: DatabaseChange;
  /** The Job is kept as it is and not re-run (rollbackWithoutMigrations). */
  readonly rollback: boolean;
  /** Further lines for the preview: a database change, a rotation, a rollback. */
  readonly notes: readonly string[];
  /** What Atlas does with a file an earlier run left failed (online only): where it resumes. */
  readonly retry?: string;
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
  const identity = databaseIdentity(input.databaseUrl);
  const where = describeUrl(input.databaseUrl);
  const change: DatabaseChange =
    input.lastDatabaseIdentity === undefined || identity === ""
      ? "unrecorded"
      : input.lastDatabaseIdentity !== identity
        ? "changed"
        : input.lastDatabaseUrlDigest !== undefined &&
            input.lastDatabaseUrlDigest !== databaseUrlDigest(input.databaseUrl)
          ? "credentials"
          : "same";
  const notes: string[] = [];
  if (change === "changed") {
    notes.push(
      `the database changed: ${input.databaseKey ?? "databaseDsn"} now points at ${where} (identity ${identity}), not at the database ` +
        `this stack last migrated (identity ${input.lastDatabaseIdentity}); the Job runs against it`,
    );
  }
  if (change === "credentials") {
    notes.push(
      `databaseDsn changed but names the same database (${where}): a password rotation or a connection-option change; ` +
        "the Job re-runs with the new credentials (nothing new to apply) and the API rolls out with them once it succeeds",
    );
  }
  const common = { mode, databaseIdentity: identity, databaseChange: change, rollback: input.rollback === true, notes };

  if (input.rollback) return planRollback(input, common, read);

  if (mode === "online") {
    const url = readUrl(input);
    const state = await readState(input, read);
    const contract = input.phase === "contract";
    const plan: MigrationPlan = planMigrations(dir.files, state, baseline, contract);
    if (plan.problems.length > 0) throw new PreflightError(plan.problems);
    if (plan.baselineToWrite !== undefined && state.schema !== undefined && !contract) {
      await loadSqlParser();
      const both = [...dir.files, ...(input.contractFiles ?? [])].sort((a, b) => a.version.localeCompare(b.version));
      const wrong = baselineMismatch(
        both,
        plan.baselineToWrite,
        state.schema,
        dir.files.map((f) => f.version),
      );
      if (wrong) throw new PreflightError([wrong]);
    }
    const leftovers = await leftoverIndexes(plan.pending, state.invalidIndexes ?? [], url);
    if (leftovers.length > 0) throw new PreflightError(leftovers);
    return {
      ...common,
      ...(plan.retry ? { retry: plan.retry.note } : {}),
      pending: plan.pending,
      appliedVersion: plan.appliedVersion,
      baselineToWrite: plan.baselineToWrite,
      basis: `read from the database at ${describeUrl(url)}`,
    };
  }

  const plan = planOffline(input, common, identity, notes);
  if (mode === "offline" && plan.baselineToWrite !== undefined && input.phase !== "contract") {
    throw new PreflightError([baselineUnchecked(plan)]);
  }
  return plan;
}

/**
 * Pending concurrent index builds that an INVALID index of the same name (a failed build's
 * leftover) would make fail on every retry. Files the guard refuses anyway are left to it.
 */
async function leftoverIndexes(
  pending: readonly MigrationFile[],
  invalid: readonly InvalidIndex[],
  databaseUrl: string,
): Promise<Problem[]> {
  if (invalid.length === 0 || pending.length === 0) return [];
  await loadSqlParser();
  const schema = boundSchema(databaseUrl)?.split(",")[0].trim() || "public";
  const parsed = [];
  for (const file of pending) {
    try {
      parsed.push({ file, stmts: atlasParsedStatements(file) });
    } catch (err) {
      if (!(err instanceof MigrationSqlError)) throw err;
    }
  }
  return leftoverIndexRefusals(parsed, invalid, schema).map((message) => ({ code: "invalid-index", message }));
}

/**
 * A baseline the offline plan would write: Atlas writes it even on an empty database and then
 * skips the schema, so it needs the online preflight's look first. Once this stack has applied
 * migrations on this database, the plan writes none and the baseline may stay set.
 */
function baselineUnchecked(plan: RunPlan): Problem {
  return {
    code: "baseline-unchecked",
    message:
      `migrationBaseline ${plan.baselineToWrite} would be recorded now without a look at the database: it needs ` +
      "migrationPreflight online, so the database is checked for the schema before a baseline revision is written " +
      "(Atlas writes a baseline even on an empty database and then skips the schema); run this deploy from where the " +
      "database is reachable, or set migrationPreflight to off to take that risk knowingly. Once this stack has " +
      "applied migrations, the baseline is ignored and the offline plan takes it",
  };
}

function planOffline(input: PreflightInput, common: PlanCommon, identity: string, notes: string[]): RunPlan {
  const { dir, baseline } = input;
  const change = common.databaseChange;
  const afterBaseline = dir.files.filter((f) => baseline === undefined || f.version > baseline);
  if (change === "changed") {
    if (input.acceptDatabase !== identity) {
      throw new PreflightError([
        {
          code: "database-changed",
          message:
            `${notes[0]}. The offline plan only knows what this stack applied to its previous database, so it cannot ` +
            "tell what this one lacks: run with online preflight (pulumi config set migrationPreflight online) from " +
            "where the database is reachable, or accept a full run (Atlas applies whatever the database lacks, every " +
            `file is checked by the destructive-change guard): pulumi config set migrationAcceptDatabase ${identity}`,
        },
      ]);
    }
    return {
      ...common,
      pending: afterBaseline,
      baselineToWrite: baseline,
      basis:
        `the database changed and was not read; planned as unknown: every migration may run ` +
        `(a full run accepted with migrationAcceptDatabase ${identity})`,
    };
  }

  const last = input.lastAppliedVersion;
  if (last !== undefined) {
    const known = new Set(dir.files.map((f) => f.version));
    const recorded = input.lastAppliedMigrations ?? [last];
    const ahead = recorded.filter((v) => !known.has(v) && (baseline === undefined || v > baseline));
    if (ahead.length > 0) throw new PreflightError(ahead.map((v) => databaseAhead(v)));
  }
  if (last !== undefined && input.lastAppliedMigrations !== undefined) {
    const applied = new Set(input.lastAppliedMigrations);
    const skipped = afterBaseline.filter((f) => f.version <= last && !applied.has(f.version));
    if (skipped.length > 0) throw new PreflightError(skipped.map((f) => outOfOrder(f, last)));
  }
  const after = last ?? baseline;
  return {
    ...common,
    pending: dir.files.filter((f) => after === undefined || f.version > after),
    appliedVersion: last,
    baselineToWrite: last === undefined ? baseline : undefined,
    basis: last
      ? `newer than ${last}, the version this stack last applied; the database was not read`
      : "this stack has not applied migrations yet; the database was not read",
  };
}

type PlanCommon = Pick<RunPlan, "mode" | "databaseIdentity" | "databaseChange" | "rollback" | "notes">;

/**
 * rollbackWithoutMigrations: the API goes back to an older release while the database stays
 * ahead of this (older) directory. Allowed only when nothing of this directory is missing
 * from the database, so the Job has nothing to do and is kept as it is.
 */
async function planRollback(input: PreflightInput, common: PlanCommon, read: StateReader): Promise<RunPlan> {
  const { dir, mode } = input;
  const refuse = (message: string): never => {
    throw new PreflightError([{ code: "not-a-rollback", message: `rollbackWithoutMigrations: ${message}` }]);
  };
  if (input.lastAppliedVersion === undefined) {
    refuse(
      "this stack has not applied migrations yet, so there is nothing to roll back to; unset rollbackWithoutMigrations",
    );
  }
  if (common.databaseChange === "changed") {
    refuse(
      `${input.databaseKey ?? "databaseDsn"} points at another database than the one this stack migrated; ` +
        "a rollback keeps the database",
    );
  }
  let missing: MigrationFile[];
  let appliedVersion: string | undefined;
  let basis: string;
  if (mode === "online") {
    const url = readUrl(input);
    const state = await readState(input, read);
    const plan = planMigrations(dir.files, state, input.baseline, input.phase === "contract");
    // The database being ahead of this directory is what a rollback is; anything else still refuses.
    const problems = plan.problems.filter((p) => p.code !== "database-ahead");
    if (problems.length > 0) throw new PreflightError(problems);
    missing = [...plan.pending];
    appliedVersion = plan.appliedVersion;
    basis = `read from the database at ${describeUrl(url)}`;
  } else {
    const applied = new Set(input.lastAppliedMigrations ?? []);
    const last = input.lastAppliedVersion!;
    missing = dir.files.filter((f) =>
      input.lastAppliedMigrations ? !applied.has(f.version) && f.version > (input.baseline ?? "") : f.version > last,
    );
    appliedVersion = last;
    basis = `the versions this stack last applied (up to ${last}); the database was not read`;
  }
  if (missing.length > 0) {
    refuse(
      `the database lacks ${missing.length} migration(s) of this directory (${missing.map((f) => f.name).join(", ")}), ` +
        "so this is not a rollback: unset rollbackWithoutMigrations to run them",
    );
  }
  return {
    ...common,
    pending: [],
    appliedVersion,
    basis,
    notes: [
      ...common.notes,
      `rollback without migrations (rollbackWithoutMigrations): the migration Job is kept as it is and not re-run; ` +
        `the database stays at ${appliedVersion}` +
        (dir.files.length ? `, this directory ends at ${dir.files[dir.files.length - 1].version}` : ""),
    ],
  };
}

/** The URL the online preflight reads: the one given for reading (useExistingSecret), else the Job's. */
function readUrl(input: PreflightInput): string {
  return input.readFrom?.url ?? input.databaseUrl;
}

/** The database's state, read-only, as this phase's Atlas run would find it. */
function readState(input: PreflightInput, read: StateReader): Promise<DatabaseState> {
  return read(readUrl(input), {
    revisionsSchema: input.revisionsSchema,
    ca: input.databaseCaCert,
    urlName: input.readFrom?.name,
  });
}

/** The preview's migration block: what will run, the baseline, and nothing secret. */
export function describePlan(plan: RunPlan, key: string, phase: Phase = "expand"): string {
  const title = phase === "contract" ? "Contract migrations, after the rollout" : "Migrations";
  const lines = [`${title} (preflight ${plan.mode}; ${plan.basis}):`];
  if (plan.appliedVersion) lines.push(`  applied so far: ${plan.appliedVersion}`);
  lines.push(`  baseline: ${plan.baselineToWrite ? `${plan.baselineToWrite} (will be recorded, not run)` : "none"}`);
  if (plan.rollback) {
    lines.push("  no migration will run: the Job is not re-run");
  } else if (plan.pending.length === 0) {
    lines.push("  no migration will run");
  } else {
    lines.push(`  ${plan.pending.length} migration(s) will run, in this order:`);
    for (const f of plan.pending) {
      const outside = runsOutsideTransaction(f) ? `  (${OUTSIDE_TRANSACTION})` : "";
      lines.push(`    ${f.version}  ${f.name}${outside}`);
    }
  }
  if (plan.retry) lines.push(`  ${plan.retry}`);
  // The notes are about the database and the rollback, said once by the expand phase.
  if (phase === "expand") for (const note of plan.notes) lines.push(`  ${note}`);
  lines.push(`  ${phase === "contract" ? "contract " : ""}migration key: ${key}`);
  return lines.join("\n");
}

/**
 * A baseline records its files as applied without running them, so the database must
 * already have what they build: the tables, columns and indexes of the migrations up to the
 * baseline (compared as names, column order aside; what a later file creates IF NOT EXISTS
 * may be there already). Otherwise the schema drifts for good: every later plan says nothing
 * is pending. Names what is missing or extra, and the version whose schema the database has.
 */
export function baselineMismatch(
  files: readonly MigrationFile[],
  baseline: string,
  live: SchemaNames,
  /** The versions a baseline may name (the expand phase's), for the one that matches. @default every file's */
  versions: readonly string[] = files.map((f) => f.version),
): Problem | undefined {
  const upTo = (v: string) => files.filter((f) => f.version <= v);
  const after = (v: string) => files.filter((f) => f.version > v);
  const differenceAt = (v: string) => schemaDifference(foldSchema(upTo(v), after(v)), live);
  let difference: ReturnType<typeof schemaDifference>;
  try {
    difference = differenceAt(baseline);
  } catch (err) {
    if (!(err instanceof SchemaFoldError)) throw err;
    return {
      code: "baseline-schema-mismatch",
      message:
        `migrationBaseline ${baseline} cannot be checked against the database's schema: ${err.message}; ` +
        "check by hand that the database has every table, column and index the files up to it create, then set " +
        "migrationPreflight to off for this deploy to take that risk knowingly",
    };
  }
  if (difference.missing.length === 0 && difference.extra.length === 0) return undefined;
  const list = (items: string[]) =>
    items.length > 8 ? `${items.slice(0, 8).join(", ")} and ${items.length - 8} more` : items.join(", ");
  const parts = [
    difference.missing.length > 0 ? `it lacks ${list(difference.missing)}` : "",
    difference.extra.length > 0 ? `it has ${list(difference.extra)}, which no file up to it creates` : "",
  ].filter(Boolean);
  const matching = versions.find((v) => {
    try {
      const d = differenceAt(v);
      return d.missing.length === 0 && d.extra.length === 0;
    } catch {
      return false;
    }
  });
  return {
    code: "baseline-schema-mismatch",
    message:
      `migrationBaseline ${baseline} does not match the database: ${parts.join("; ")}. A baseline records the files ` +
      "up to it as applied without running them, so the schema would stay like this and every later plan would " +
      "say nothing is pending. " +
      (matching
        ? `The database has the schema of ${matching}: pulumi config set migrationBaseline ${matching}`
        : "No version of the migration directory has this schema: compare the database with migrations/README.md " +
          "(which release built it) before setting a baseline"),
  };
}
