import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readDatabaseState } from "../../lib/database/state";
import type { AppliedRecord } from "../../lib/deploy/applied";
import { planDeploy } from "../../lib/deploy/plan";
import { loadMigrationDir, writeSumFile } from "../../lib/migration/dir";
import { acknowledgementOf } from "../../lib/migration/guard";
import { CONTRACT_DIR, loadMigrationPhases } from "../../lib/migration/phase";
import { runMigrationJob } from "../support/atlasJob";
import { specOf } from "../support/apiArgs";
import { databasesDroppedAfterEach, query } from "../../testbed/pg";

/**
 * The expand/contract worked example of docs/expand-contract.md (docs/examples/rename-column)
 * through both phases' Jobs, as the plan builds them, with the real Atlas on the real
 * PostgreSQL: what each phase leaves behind, what the old and the new release can write in
 * between, and what the online preflight plans at each step.
 */

jest.setTimeout(180_000);

const REPO = path.join(__dirname, "../..");
const EXAMPLE = path.join(REPO, "docs/examples/rename-column");
const database = databasesDroppedAfterEach();
const never: AppliedRecord = { deployed: false };

/** migrations/ with the example's files added to both phases, hashed as `npm run migrations:hash` does. */
function exampleRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "expand-contract-"));
  fs.cpSync(path.join(REPO, "migrations"), root, { recursive: true });
  fs.cpSync(EXAMPLE, root, { recursive: true });
  writeSumFile(root);
  writeSumFile(path.join(root, CONTRACT_DIR));
  return root;
}

/** `npm run migrations:status -- --json` on this directory and database (bin/ rebuilt first when stale). */
function status(root: string, url: string) {
  const run = spawnSync("bash", ["scripts/migrations.sh", "status", "--json"], {
    cwd: REPO,
    env: { ...process.env, MIGRATIONS_DIR: root, DATABASE_URL: url },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`migrations:status exited ${run.status}: ${run.stdout}${run.stderr}`);
  const report = JSON.parse(run.stdout) as {
    pending: unknown[];
    contract: { pending: Array<{ file: string }> } | null;
  };
  return { pending: report.pending.length, contract: report.contract?.pending.map((p) => p.file) };
}

const publishers = (url: string) => query<Record<string, string | null>>(url, "SELECT * FROM publishers ORDER BY id");
const columns = async (url: string) =>
  (
    await query<{ column_name: string }>(
      url,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'publishers' ORDER BY column_name",
    )
  ).map((r) => r.column_name);

describe("expand, roll out, contract: renaming a column on a live database", () => {
  it("runs each phase's Job in turn; old and new writers agree in between; the plan follows each step", async () => {
    const db = await database("expand_contract");
    const root = exampleRoot();
    const { expand, contract } = loadMigrationPhases(root);
    const contractFile = contract.files[0];

    // The release before: the repository's migrations, and rows its API wrote.
    const before = loadMigrationDir(path.join(REPO, "migrations"));
    const spec = specOf({
      databaseDsn: db.url,
      migrationPreflight: "online",
      allowDestructiveMigrations: [acknowledgementOf(contractFile)],
    });
    const old = await planDeploy({ stack: "dev", spec, dir: before, applied: never });
    expect((await runMigrationJob(before, old.migration.input, db.url)).code).toBe(0);
    await query(
      db.url,
      "INSERT INTO publishers (id, description, alternative_id) VALUES ('p1', 'one', 'alt-1'), ('p2', 'two', NULL)",
    );

    const plan = () => planDeploy({ stack: "dev", spec, dir: expand, contractDir: contract, applied: never });
    const first = await plan();
    expect(first.run.pending.map((f) => f.name)).toEqual([
      "20270101000000_add_publishers_external_id.sql",
      "20270101000100_index_publishers_external_id.sql",
    ]);
    expect(first.contract?.run.pending.map((f) => f.name)).toEqual([contractFile.name]);
    expect(first.report.refusals).toEqual([]);

    // Expand, before the rollout: the new column is there and backfilled, the old one stays.
    const expanded = await runMigrationJob(expand, first.migration.input, db.url);
    expect(expanded.code).toBe(0);
    expect(await columns(db.url)).toEqual(expect.arrayContaining(["alternative_id", "external_id"]));
    expect((await publishers(db.url)).map((p) => [p.id, p.alternative_id, p.external_id])).toEqual([
      ["p1", "alt-1", "alt-1"],
      ["p2", null, null],
    ]);
    // The unique index was built CONCURRENTLY, outside a transaction, and is valid.
    expect(
      await query(
        db.url,
        "SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = 'idx_publishers_external_id'::regclass",
      ),
    ).toEqual([{ indisvalid: true, indisunique: true }]);
    expect(first.report.pending.find((p) => p.version === "20270101000100")).toMatchObject({
      outsideTransaction: true,
    });
    // During the rollout both releases write: the old one alternative_id, the new one external_id.
    await query(db.url, "INSERT INTO publishers (id, description, alternative_id) VALUES ('p3', 'old pod', 'alt-3')");
    await query(db.url, "INSERT INTO publishers (id, description, external_id) VALUES ('p4', 'new pod', 'ext-4')");
    await query(db.url, "UPDATE publishers SET alternative_id = 'alt-2' WHERE id = 'p2'");
    await query(db.url, "UPDATE publishers SET external_id = 'ext-1' WHERE id = 'p1'");
    expect((await publishers(db.url)).map((p) => [p.id, p.alternative_id, p.external_id])).toEqual([
      ["p1", "ext-1", "ext-1"],
      ["p2", "alt-2", "alt-2"],
      ["p3", "alt-3", "alt-3"],
      ["p4", "ext-4", "ext-4"],
    ]);

    // Until the contract Job ran, the plan still has the contract phase pending, and only it;
    // npm run migrations:status says the same.
    expect(status(root, db.url)).toEqual({ pending: 0, contract: [contractFile.name] });
    const halfway = await plan();
    expect(halfway.run.pending).toEqual([]);
    expect(halfway.contract?.run.pending.map((f) => f.name)).toEqual([contractFile.name]);
    expect(halfway.contract?.migration.key).toBe(first.contract?.migration.key);

    // Contract, after the rollout: Atlas finds the expanded schema (--allow-dirty) and drops the old column.
    const contracted = await runMigrationJob(contract, first.contract!.migration.input, db.url);
    expect(contracted.code).toBe(0);
    expect(await columns(db.url)).not.toContain("alternative_id");
    expect((await publishers(db.url)).map((p) => [p.id, p.external_id])).toEqual([
      ["p1", "ext-1"],
      ["p2", "alt-2"],
      ["p3", "alt-3"],
      ["p4", "ext-4"],
    ]);
    // Each phase has its own revisions table.
    const revisions = (schema: string) =>
      query<{ version: string }>(db.url, `SELECT version FROM ${schema}.atlas_schema_revisions ORDER BY version`);
    expect((await revisions("atlas_schema_revisions_contract")).map((r) => r.version)).toEqual([contractFile.version]);
    expect((await revisions("atlas_schema_revisions")).map((r) => r.version)).toEqual(
      expand.files.map((f) => f.version),
    );
    const state = await readDatabaseState(db.url, { revisionsSchema: "atlas_schema_revisions_contract" });
    expect(state.revisions.map((r) => [r.version, r.applied, r.total])).toEqual([[contractFile.version, 3, 3]]);

    // Done: nothing pending in either phase, and both Jobs run again do nothing.
    expect(status(root, db.url)).toEqual({ pending: 0, contract: [] });
    const done = await plan();
    expect(done.run.pending).toEqual([]);
    expect(done.contract?.run.pending).toEqual([]);
    for (const [dir, input] of [
      [expand, first.migration.input],
      [contract, first.contract!.migration.input],
    ] as const) {
      const again = await runMigrationJob(dir, input, db.url);
      expect(again.code).toBe(0);
      expect(again.output).toContain("No migration files to execute");
    }
  });
});
