import { MigrationFile } from "./dir";
import type { SchemaNames } from "./schema";
import { resumeOf, type InvalidIndex } from "./txmode";

/**
 * Which migrations `atlas migrate apply` will run, decided the way Atlas 0.13 decides it
 * (sql/migrate Executor.Pending), plus the problems that must stop a deploy before a Job
 * exists. Unlike `atlas migrate status`, it applies the baseline rule; unlike
 * `apply --dry-run`, it needs nothing but a read of the database.
 */

/** Bit flags of atlas_schema_revisions.type. */
export const REVISION_TYPE = { baseline: 1, execute: 2, resolved: 4 } as const;

export interface Revision {
  readonly version: string;
  readonly description: string;
  readonly type: number;
  readonly applied: number;
  readonly total: number;
  readonly error?: string | null;
  readonly errorStmt?: string | null;
  /** `h1:<base64>` per applied statement: the running sha256 Atlas checks before it resumes a file. */
  readonly partialHashes?: readonly string[] | null;
}

export interface DatabaseState {
  /** Rows of the revisions table, sorted by version; empty when it does not exist. */
  readonly revisions: readonly Revision[];
  /** Why Atlas would call the database not clean; undefined when it is clean. */
  readonly notCleanReason?: string;
  /** The tables, columns and indexes of the schema the migrations build into (a baseline is checked against them). */
  readonly schema?: SchemaNames;
  /** Indexes PostgreSQL does not use (pg_index.indisvalid false): what a failed concurrent build leaves. */
  readonly invalidIndexes?: readonly InvalidIndex[];
}

export type ProblemCode =
  | "baseline-on-clean-database"
  | "baseline-not-in-directory"
  | "baseline-schema-mismatch"
  | "baseline-unchecked"
  | "missing-baseline"
  | "database-ahead"
  | "failed-revision"
  | "invalid-index"
  | "out-of-order"
  | "database-changed"
  | "not-a-rollback"
  | "preflight-url-missing"
  | "preflight-url-invalid"
  | "preflight-url-other-database"
  | "preflight-url-unchecked";

export interface Problem {
  readonly code: ProblemCode;
  readonly message: string;
}

export interface MigrationPlan {
  /** The newest version recorded in the database (applied or baseline), if any. */
  readonly appliedVersion?: string;
  /** Files that will run, in order. */
  readonly pending: readonly MigrationFile[];
  /** The baseline revision the run will write, when it will write one. */
  readonly baselineToWrite?: string;
  readonly clean: boolean;
  readonly problems: readonly Problem[];
  /** The failed file Atlas will resume, and what it will do, when it may. */
  readonly retry?: { readonly version: string; readonly statement: number; readonly note: string };
}

/** Versions closest to `wanted`, for "did you mean" messages. */
export function nearestVersions(files: readonly MigrationFile[], wanted: string, count = 3): string[] {
  const distance = (v: string) => Math.abs(Number(v) - Number(wanted));
  return [...files]
    .map((f) => f.version)
    .sort((a, b) => distance(a) - distance(b) || a.localeCompare(b))
    .slice(0, count)
    .sort();
}

export function baselineNotFound(files: readonly MigrationFile[], baseline: string): Problem {
  const near = nearestVersions(files, baseline);
  return {
    code: "baseline-not-in-directory",
    message:
      `migrationBaseline ${baseline} is not a version in the migration directory` +
      (near.length ? `; nearest versions: ${near.join(", ")}` : "; the directory has no migrations"),
  };
}

export function planMigrations(
  files: readonly MigrationFile[],
  state: DatabaseState,
  baseline: string | undefined,
  /** `--allow-dirty` (the contract phase): a schema without revisions is expected, not refused. */
  allowDirty = false,
): MigrationPlan {
  const problems: Problem[] = [];
  const clean = allowDirty || state.notCleanReason === undefined;
  const revisions = state.revisions;
  const known = new Set(files.map((f) => f.version));

  if (revisions.length === 0) {
    if (baseline) {
      const index = files.findIndex((f) => f.version === baseline);
      if (index < 0) {
        problems.push(baselineNotFound(files, baseline));
        return { pending: [], clean, problems };
      }
      if (clean && !allowDirty) {
        problems.push({
          code: "baseline-on-clean-database",
          message:
            `migrationBaseline ${baseline} would mark ${index + 1} migration(s) as applied on a database that has no schema, ` +
            "so the API would start without its tables. A baseline is only for a database GORM AutoMigrate already created: " +
            "unset migrationBaseline for a new database",
        });
      }
      return { pending: files.slice(index + 1), baselineToWrite: baseline, clean, problems };
    }
    if (!clean) {
      problems.push({
        code: "missing-baseline",
        message:
          `the database is not clean (${state.notCleanReason}) and has no migration revisions: ` +
          "if GORM AutoMigrate created this schema, set migrationBaseline to the version that matches the API release " +
          "that last ran on it (see migrations/README.md); otherwise point databaseDsn at an empty database",
      });
    }
    return { pending: files, clean, problems };
  }

  const last = revisions[revisions.length - 1];
  let retry: MigrationPlan["retry"];
  for (const r of revisions) {
    if (!known.has(r.version)) {
      problems.push(databaseAhead(r.version, r.description));
      continue;
    }
    // Only applied < total is a failure: Atlas 0.13.1 keeps the error of a retry that then succeeded.
    if (r.applied >= r.total) continue;
    if (r !== last) {
      problems.push({
        code: "failed-revision",
        message:
          `migration ${r.version} (${r.description}) is recorded as applied after ${r.applied} of ${r.total} ` +
          "statement(s) but is not the last migration, so Atlas never resumes it: finish or revert it by hand",
      });
      continue;
    }
    const resume = resumeOf(
      files.find((f) => f.version === r.version)!,
      r,
    );
    if (resume.ok) retry = { version: r.version, statement: resume.statement, note: resume.note };
    else problems.push({ code: "failed-revision", message: resume.problem });
  }
  const partially = last.applied !== last.total;
  const applied = new Set(revisions.map((r) => r.version));
  const pending = files.filter((f) => (partially ? f.version >= last.version : f.version > last.version));
  for (const f of files) {
    if (f.version < last.version && !applied.has(f.version) && !isBelowBaseline(revisions, f.version)) {
      problems.push(outOfOrder(f, last.version));
    }
  }
  return { appliedVersion: last.version, pending, clean, problems, ...(retry ? { retry } : {}) };
}

/** The database holds a migration this (older) directory lacks. */
export function databaseAhead(version: string, description?: string): Problem {
  return {
    code: "database-ahead",
    message:
      `the database has migration ${version}${description ? ` (${description})` : ""} that this directory does not have: ` +
      "a newer release migrated it; deploy that release or newer, Atlas never migrates down " +
      "(to roll the API back without migrations, see rollbackWithoutMigrations)",
  };
}

/** A file older than the last applied migration that was never applied (Atlas 0.13 would skip it). */
export function outOfOrder(file: MigrationFile, lastVersion: string): Problem {
  return {
    code: "out-of-order",
    message:
      `${file.name} is older than the database's last migration ${lastVersion} but was never applied: ` +
      "Atlas runs migrations in version order only; give it a version newer than " +
      `${lastVersion} (npm run migrations:new) and re-hash`,
  };
}

function isBelowBaseline(revisions: readonly Revision[], version: string): boolean {
  return revisions.some((r) => (r.type & REVISION_TYPE.baseline) !== 0 && version <= r.version);
}
