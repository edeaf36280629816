import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readDatabaseState } from "../../lib/database/state";
import { findDestructiveStatements, loadSqlParser } from "../../lib/migration/guard";
import { loadMigrationDir, MigrationDir, writeSumFile } from "../../lib/migration/dir";
import { planMigrations } from "../../lib/migration/plan";
import { runInput, runMigrationJob } from "../support/atlasJob";
import { databasesDroppedAfterEach, query } from "../../testbed/pg";
import { expectedApiSchema, readSchema } from "../support/schema";

/**
 * The Job's exact command (from the component's own builder) with the real Atlas against
 * the real PostgreSQL, and the read-only preflight against the states Atlas leaves behind.
 */

// Each test runs the real Atlas (one or several processes) against the real PostgreSQL:
// a few seconds alone, well over jest's 5 s default on a busy machine.
jest.setTimeout(120_000);

const REPO_MIGRATIONS = path.join(__dirname, "../../migrations");
const FIXTURES = path.join(__dirname, "../fixtures");
const dir = loadMigrationDir(REPO_MIGRATIONS);
const versions = dir.files.map((f) => f.version);
const revisionsOf = (url: string) =>
  query<{ version: string; type: number; applied: number; total: number; error: string | null }>(
    url,
    "SELECT version, type::int AS type, applied::int AS applied, total::int AS total, error FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
  );
const tableOids = (url: string) =>
  query<{ relname: string; oid: string }>(
    url,
    "SELECT relname, oid::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY relname",
  );

const database = databasesDroppedAfterEach();

/** A copy of the repository's migrations plus extra files, re-hashed. */
function dirPlus(extra: Record<string, string>): MigrationDir {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "migrations-"));
  for (const f of dir.files) fs.writeFileSync(path.join(tmp, f.name), f.bytes);
  for (const [name, text] of Object.entries(extra)) fs.writeFileSync(path.join(tmp, name), text);
  writeSumFile(tmp);
  return loadMigrationDir(tmp);
}

describe("the migration Job's command on a real database", () => {
  it("fresh database: applies every migration, records them all, and builds the API's schema", async () => {
    const db = await database("job_fresh");
    const run = await runMigrationJob(dir, runInput(dir), db.url);
    expect(run.output).not.toContain(db.url); // the URL is never printed
    expect(run.code).toBe(0);
    const revisions = await revisionsOf(db.url);
    expect(revisions.map((r) => r.version)).toEqual(versions);
    expect(revisions.every((r) => r.applied === r.total && !r.error)).toBe(true);
    expect(await readSchema(db.url)).toEqual(expectedApiSchema);
    expect(planMigrations(dir.files, await readDatabaseState(db.url), undefined).pending).toEqual([]);
  });

  it.each([
    ["gorm-v1.1.0.sql", "20250909000000"],
    ["gorm-v1.2.0.sql", "20260410000000"],
    ["gorm-v1.4.0-upgraded.sql", "20260525000000"],
  ])("GORM schema %s with baseline %s: one baseline revision, no DDL error, tables kept", async (fixture, baseline) => {
    const db = await database("job_baseline");
    await query(db.url, fs.readFileSync(path.join(FIXTURES, fixture), "utf8"));
    const before = await tableOids(db.url);

    const state = await readDatabaseState(db.url);
    const plan = planMigrations(dir.files, state, baseline);
    expect(plan.problems).toEqual([]);
    const run = await runMigrationJob(dir, runInput(dir, { baseline }), db.url);
    expect(run.args).toEqual(expect.arrayContaining(["--baseline", baseline]));
    expect(run.code).toBe(0);

    const revisions = await revisionsOf(db.url);
    expect(revisions.filter((r) => r.type === 1).map((r) => r.version)).toEqual([baseline]);
    expect(revisions.map((r) => r.version)).toEqual([baseline, ...plan.pending.map((f) => f.version)]);
    const after = await tableOids(db.url);
    expect(after.filter((t) => before.some((b) => b.relname === t.relname))).toEqual(before);
    expect(await readSchema(db.url)).toEqual(expectedApiSchema);
  });

  it("GORM schema without a baseline: Atlas refuses it as not clean, and the preflight says what to set", async () => {
    const db = await database("job_nobaseline");
    await query(db.url, fs.readFileSync(path.join(FIXTURES, "gorm-v1.2.0.sql"), "utf8"));
    const run = await runMigrationJob(dir, runInput(dir), db.url);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain("connected database is not clean");
    const plan = planMigrations(dir.files, await readDatabaseState(db.url), undefined);
    expect(plan.problems.map((p) => p.code)).toEqual(["missing-baseline"]);
    expect(plan.problems[0].message).toMatch(/set migrationBaseline to the version that matches the API release/);
  });

  it("a migration failing at its second statement: non-zero exit, its first statement rolled back, not recorded as applied", async () => {
    const db = await database("job_failing");
    const failing = dirPlus({
      "20270101000000_broken.sql":
        "CREATE TABLE broken_first (id text);\nALTER TABLE no_such_table ADD COLUMN x text;\n",
    });
    const run = await runMigrationJob(failing, runInput(failing), db.url);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain('relation "no_such_table" does not exist');
    expect(await query(db.url, "SELECT to_regclass('public.broken_first') AS t")).toEqual([{ t: null }]);
    const broken = (await revisionsOf(db.url)).find((r) => r.version === "20270101000000");
    expect(broken === undefined || broken.applied < broken.total).toBe(true);

    // The preflight names the failed run on the next deploy.
    const plan = planMigrations(failing.files, await readDatabaseState(db.url), undefined);
    if (broken) expect(plan.problems.map((p) => p.code)).toContain("failed-revision");
    expect(plan.pending.map((f) => f.version)).toEqual(["20270101000000"]);
  });

  it("CREATE INDEX CONCURRENTLY runs in a file Atlas runs outside a transaction (atlas:txmode none), not inside one", async () => {
    const index = "CREATE INDEX CONCURRENTLY software_updated_at_idx ON software (updated_at);\n";
    const outside = dirPlus({ "20270101000000_index.sql": `-- atlas:txmode none\n\n${index}` });
    // The guard passes it: nothing is lost, and Atlas sends the one statement.
    await loadSqlParser();
    expect(outside.files.flatMap(findDestructiveStatements)).toEqual([]);
    const db = await database("job_concurrently");
    const run = await runMigrationJob(outside, runInput(outside), db.url);
    expect(run.output).not.toMatch(/cannot run inside a transaction block/);
    expect(run.code).toBe(0);
    expect(
      await query(db.url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'software_updated_at_idx'::regclass"),
    ).toEqual([{ indisvalid: true }]);
    // The same file without the directive fails, as PostgreSQL refuses it in the Job's --tx-mode file.
    const inside = dirPlus({ "20270101000000_index.sql": index });
    const other = await database("job_concurrently_tx");
    const refused = await runMigrationJob(inside, runInput(inside), other.url);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("cannot run inside a transaction block");
  });
});

describe("the read-only preflight on real states", () => {
  it("fresh database: every version pending", async () => {
    const db = await database("status_fresh");
    const plan = planMigrations(dir.files, await readDatabaseState(db.url), undefined);
    expect(plan.pending.map((f) => f.version)).toEqual(versions);
    expect(plan.problems).toEqual([]);
  });

  it("a clean database with a baseline: refused, and nothing was written", async () => {
    const db = await database("status_cleanbaseline");
    const plan = planMigrations(dir.files, await readDatabaseState(db.url), "20260525000000");
    expect(plan.problems.map((p) => p.code)).toEqual(["baseline-on-clean-database"]);
    expect(await query(db.url, "SELECT to_regclass('atlas_schema_revisions.atlas_schema_revisions') AS t")).toEqual([
      { t: null },
    ]);
    expect(
      await query(db.url, "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'atlas_schema_revisions'"),
    ).toEqual([{ n: 0 }]);
  });

  it("database ahead of the directory: named", async () => {
    const db = await database("status_ahead");
    expect((await runMigrationJob(dir, runInput(dir), db.url)).code).toBe(0);
    const older = loadMigrationDirWithout("20260612000000");
    const plan = planMigrations(older.files, await readDatabaseState(db.url), undefined);
    expect(plan.problems.map((p) => p.code)).toEqual(["database-ahead"]);
    expect(plan.problems[0].message).toMatch(/^the database has migration 20260612000000/);
  });

  it("honours a custom revisions schema", async () => {
    const db = await database("status_revschema");
    const run = await runMigrationJob(dir, runInput(dir, { revisionsSchema: "atlas_revs" }), db.url);
    expect(run.code).toBe(0);
    const state = await readDatabaseState(db.url, { revisionsSchema: "atlas_revs" });
    expect(state.revisions.map((r) => r.version)).toEqual(versions);
    expect(planMigrations(dir.files, state, undefined).pending).toEqual([]);
  });

  it("an unreachable database fails, naming host and port, never the password", async () => {
    await expect(readDatabaseState("postgres://app:hunter2@127.0.0.1:1/api?sslmode=disable")).rejects.toThrow(
      /^cannot connect to the database at 127\.0\.0\.1:1\/api \(sslmode=disable\): .*ECONNREFUSED/,
    );
    await expect(readDatabaseState("postgres://app:hunter2@127.0.0.1:1/api?sslmode=disable")).rejects.not.toThrow(
      /hunter2/,
    );
  });
});

function loadMigrationDirWithout(version: string): MigrationDir {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "migrations-"));
  for (const f of dir.files) if (f.version !== version) fs.writeFileSync(path.join(tmp, f.name), f.bytes);
  writeSumFile(tmp);
  return loadMigrationDir(tmp);
}
