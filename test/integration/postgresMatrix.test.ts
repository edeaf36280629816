import * as path from "path";
import { Client } from "pg";
import { readDatabaseState } from "../../lib/databaseState";
import { loadMigrationDir } from "../../lib/migrationDir";
import { planMigrations } from "../../lib/migrationPlan";
import { runInput, runMigrationJob } from "../support/atlasJob";
import { databasesDroppedAfterEach, pgMajor, query, serverVersion } from "../support/pg";
import { expectedApiSchema, readSchema } from "../support/schema";

/**
 * What every PostgreSQL major of the matrix must do (jest projects integration and
 * integration-pg<major>; scripts/pg-matrix.sh): run our migrations into exactly the API's
 * schema, let the preflight read it, and run the Job's exact Atlas command where the test
 * bed's Atlas can open the server. Where it cannot, the Job must fail visibly, before it
 * writes anything, with Atlas's own reason.
 */

/**
 * The newest major that the test bed's Atlas (tools/versions.env) can open. Atlas's
 * PostgreSQL driver before ariga.io/atlas v0.14.1 reads lc_collate and lc_ctype from
 * pg_settings, which PostgreSQL 16 removed; cmd/atlas v0.13.1, the only release served
 * here, compiles against no library newer than v0.13.1 (README, "Atlas versions").
 */
const NEWEST_MAJOR_FOR_TESTBED_ATLAS = 15;

jest.setTimeout(60_000);

const dir = loadMigrationDir(path.join(__dirname, "../../migrations"));
const versions = dir.files.map((f) => f.version);

const database = databasesDroppedAfterEach();

/** Runs every migration file in version order, each in its own transaction, as Atlas's
 * `--tx-mode file` does, without Atlas. */
async function runFilesWithoutAtlas(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    for (const f of dir.files) {
      await client.query("BEGIN");
      try {
        await client.query(f.text);
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK");
        throw new Error(`${f.name} failed on PostgreSQL ${await serverVersion()}: ${(e as Error).message}`);
      }
    }
  } finally {
    await client.end();
  }
}

const revisionsSchemaCount = (url: string) =>
  query<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'atlas_schema_revisions'");

describe(`PostgreSQL ${pgMajor() ?? "(Debian's)"}`, () => {
  let major: number;
  beforeAll(async () => {
    major = Number((await serverVersion()).split(".")[0]);
  });

  it("is the major the suite was asked for", async () => {
    const version = await serverVersion();
    if (pgMajor()) expect(version.split(".")[0]).toBe(pgMajor());
    expect(major).toBeGreaterThanOrEqual(15);
  });

  it("our migrations build exactly the API's schema", async () => {
    const db = await database("matrix_schema");
    await runFilesWithoutAtlas(db.url);
    expect(await readSchema(db.url)).toEqual(expectedApiSchema);
  });

  it("the preflight reads a fresh and a non-clean database", async () => {
    const fresh = await database("matrix_preflight_fresh");
    const clean = planMigrations(dir.files, await readDatabaseState(fresh.url), undefined);
    expect(clean.pending.map((f) => f.version)).toEqual(versions);
    expect(clean.problems).toEqual([]);

    const built = await database("matrix_preflight_built");
    await runFilesWithoutAtlas(built.url);
    const state = await readDatabaseState(built.url);
    expect(state.revisions).toEqual([]);
    expect(state.notCleanReason).toBeDefined();
    const plan = planMigrations(dir.files, state, undefined);
    expect(plan.problems.map((p) => p.code)).toEqual(["missing-baseline"]);
  });

  it("the Job's exact Atlas command: applies every migration where the test bed's Atlas opens the server, else fails before writing, naming why", async () => {
    const db = await database("matrix_job");
    const run = await runMigrationJob(dir, runInput(dir), db.url);
    expect(run.output).not.toContain(db.url);
    if (major <= NEWEST_MAJOR_FOR_TESTBED_ATLAS) {
      expect(run.code).toBe(0);
      expect(await readSchema(db.url)).toEqual(expectedApiSchema);
      const state = await readDatabaseState(db.url);
      expect(state.revisions.map((r) => r.version)).toEqual(versions);
    } else {
      expect(run.code).not.toBe(0);
      expect(run.output).toContain("postgres: unexpected number of rows: 1");
      expect(await revisionsSchemaCount(db.url)).toEqual([{ n: 0 }]);
      expect(await query(db.url, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual([
        { n: 0 },
      ]);
    }
  });
});
