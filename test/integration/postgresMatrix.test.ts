import * as path from "path";
import { Client } from "pg";
import { readDatabaseState } from "../../lib/database/state";
import { loadMigrationDir } from "../../lib/migration/dir";
import { planMigrations } from "../../lib/migration/plan";
import { runInput, runMigrationJob } from "../support/atlasJob";
import { databasesDroppedAfterEach, pgMajor, serverVersion } from "../../testbed/pg";
import { expectedApiSchema, readSchema } from "../support/schema";

/**
 * What every PostgreSQL major of the matrix must do (jest projects integration and
 * integration-pg<major>; scripts/pg-matrix.sh): run our migrations into exactly the API's
 * schema, let the preflight read it, and run the Job's exact Atlas command. The test bed's
 * Atlas opens 16+ through our build-time patch (tools/build.sh, patch_atlas_for_pg16).
 */

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

  it("the Job's exact Atlas command applies every migration", async () => {
    const db = await database("matrix_job");
    const run = await runMigrationJob(dir, runInput(dir), db.url);
    expect(run.output).not.toContain(db.url);
    expect(run.output).not.toContain("unexpected number of rows");
    expect(run.code).toBe(0);
    expect(await readSchema(db.url)).toEqual(expectedApiSchema);
    const state = await readDatabaseState(db.url);
    expect(state.revisions.map((r) => r.version)).toEqual(versions);
  });
});
