/** The migrations in migrations/ against a real PostgreSQL and the real Atlas CLI:
 * fresh install, baselines of databases that GORM AutoMigrate built (fixtures), the refusal
 * to run on a non-empty database without a baseline, `migrate validate`, and a GORM oracle
 * (testbed/gorm-oracle: GORM v1.31.2 AutoMigrate with our declarations of the API's models)
 * that must find nothing to change in a schema our migrations built.
 *
 * Needs scripts/pg.sh up and the atlas binary on PATH (source scripts/env.sh; tools/build.sh atlas).
 * The oracle part also needs Go and the Go module proxy (first build only). */
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { buildGormOracle, OracleLine, runGormOracle } from "../../testbed/gormOracle";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";
import { loadMigrationDir } from "../../lib/migration/dir";
import { loadSqlParser } from "../../lib/migration/guard";
import { planRun, PreflightError } from "../../lib/migration/preflight";
import { foldSchema } from "../../lib/migration/schema";
import { readDatabaseState } from "../../lib/database/state";
import { expectedApiSchema, readSchema } from "../support/schema";

const ROOT = path.resolve(__dirname, "../..");
const MIGRATIONS = path.join(ROOT, "migrations");
const FIXTURES = path.join(ROOT, "test/fixtures");

const V1 = "20250909000000";
const V2 = "20260410000000";
const V3 = "20260508000000";
const V4 = "20260525000000";
const V5 = "20260612000000";
const ALL_VERSIONS = [V1, V2, V3, V4, V5];

/** Revision types in atlas_schema_revisions (bit flags). */
const BASELINE = 1;
const EXECUTE = 2;

const GIN_STATEMENTS = [
  "CREATE INDEX IF NOT EXISTS idx_software_analysis_gin ON software USING GIN (analysis)",
  "CREATE INDEX IF NOT EXISTS idx_catalogs_analysis_gin ON catalogs USING GIN (analysis)",
];

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(new Error(`${file} ${args.join(" ")}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

const atlasEnv: NodeJS.ProcessEnv = {
  ...process.env,
  ATLAS_NO_UPDATE_NOTIFIER: "1",
  ATLAS_NO_UPGRADE_SUGGESTIONS: "1",
};

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function atlasBinary(): string {
  const bin = findOnPath("atlas");
  if (!bin) throw new Error("atlas is not on PATH: run tools/build.sh atlas, then source scripts/env.sh");
  return bin;
}

/** `atlas migrate apply` on our directory; the URL goes on argv, acceptable in a test only. */
function apply(url: string, baseline?: string, amount?: number): Promise<RunResult> {
  const args = ["migrate", "apply", "--url", url, "--dir", `file://${MIGRATIONS}`, "--tx-mode", "file"];
  if (baseline) args.push("--baseline", baseline);
  if (amount !== undefined) args.push(String(amount));
  return run(atlasBinary(), args, { env: atlasEnv });
}

interface RevisionRow extends Record<string, unknown> {
  version: string;
  type: number;
  applied: number;
  total: number;
  error: string | null;
}

function revisions(url: string): Promise<RevisionRow[]> {
  return query<RevisionRow>(
    url,
    "SELECT version, type, applied, total, error FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
  );
}

/** pg_class OIDs of the tables in public: unchanged means no table was rebuilt or replaced. */
async function tableOids(url: string): Promise<Record<string, string>> {
  const rows = await query<{ relname: string; oid: string }>(
    url,
    "SELECT relname, oid::text AS oid FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY relname",
  );
  return Object.fromEntries(rows.map((r) => [r.relname, r.oid]));
}

/** Every table that existed before is still the same relation (tables may have been added). */
function expectTablesKept(before: Record<string, string>, after: Record<string, string>): void {
  expect(Object.keys(before).length).toBeGreaterThan(0);
  expect(Object.fromEntries(Object.keys(before).map((t) => [t, after[t]]))).toEqual(before);
}

function loadFixture(url: string, name: string): Promise<unknown> {
  return query(url, fs.readFileSync(path.join(FIXTURES, name), "utf8"));
}

/** Expects atlas to have applied exactly `baseline` (as a baseline revision, when given) and then `executed`. */
async function expectRevisions(url: string, baseline: string | undefined, executed: string[]): Promise<void> {
  const rows = await revisions(url);
  const expected = [
    ...(baseline ? [{ version: baseline, type: BASELINE }] : []),
    ...executed.map((version) => ({ version, type: EXECUTE })),
  ];
  expect(rows.map((r) => ({ version: r.version, type: Number(r.type) }))).toEqual(expected);
  for (const r of rows) {
    expect(r.error ?? "").toBe("");
    expect(Number(r.applied)).toBe(Number(r.total));
  }
}

function withDatabase(prefix: string, body: (db: TestDatabase) => Promise<void>): () => Promise<void> {
  return async () => {
    const db = await createDatabase(prefix);
    try {
      await body(db);
    } finally {
      await db.drop();
    }
  };
}

jest.setTimeout(120_000);

const dir = loadMigrationDir(MIGRATIONS);
beforeAll(() => loadSqlParser());

/** The program's online preflight with this baseline: undefined when accepted, else its message. */
async function baselineRefusal(url: string, baseline: string): Promise<string | undefined> {
  try {
    await planRun({ mode: "online", dir, databaseUrl: url, baseline });
    return undefined;
  } catch (err) {
    if (!(err instanceof PreflightError)) throw err;
    return err.message;
  }
}

/** Each baseline a GORM database could be at: only `right` is accepted, and every refusal names it. */
async function expectOnlyBaseline(url: string, right: string): Promise<void> {
  for (const candidate of [V1, V2, V3, V4]) {
    const refusal = await baselineRefusal(url, candidate);
    if (candidate === right) expect(refusal).toBeUndefined();
    else
      expect(refusal).toContain(
        `The database has the schema of ${right}: pulumi config set migrationBaseline ${right}`,
      );
  }
}

describe("migrations directory", () => {
  test("atlas migrate validate passes on the repository's directory", async () => {
    const res = await run(atlasBinary(), ["migrate", "validate", "--dir", `file://${MIGRATIONS}`], { env: atlasEnv });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
  });

  test("the files are the five expected versions", () => {
    const versions = fs
      .readdirSync(MIGRATIONS)
      .filter((f) => f.endsWith(".sql"))
      .sort()
      .map((f) => f.split("_")[0]);
    expect(versions).toEqual(ALL_VERSIONS);
  });
});

describe("the baseline check's reading of the files (lib/migration/schema.ts)", () => {
  test.each(ALL_VERSIONS.map((v, i) => [v, i + 1]))(
    "what the files up to %s build, folded from their statements, is what PostgreSQL has after Atlas applies them",
    (version, amount) =>
      withDatabase("mig_fold", async (db) => {
        const res = await apply(db.url, undefined, amount as number);
        expect(res.code).toBe(0);
        const live = (await readDatabaseState(db.url)).schema!;
        const folded = foldSchema(dir.files.filter((f) => f.version <= (version as string)));
        expect({ tables: live.tables, indexes: live.indexes }).toEqual({
          tables: folded.tables,
          indexes: folded.indexes,
        });
      })(),
  );

  test(
    "v1.3.0's database with v1.4.0's baseline is refused, naming what it lacks and the version it is at",
    withDatabase("mig_wrong", async (db) => {
      expect((await apply(db.url, undefined, 3)).code).toBe(0);
      await query(db.url, "DROP SCHEMA atlas_schema_revisions CASCADE");
      const refusal = await baselineRefusal(db.url, V4);
      expect(refusal).toContain(
        `migrationBaseline ${V4} does not match the database: it lacks column catalogs.analysis, index idx_catalogs_analysis_gin.`,
      );
      expect(refusal).toContain(`The database has the schema of ${V3}: pulumi config set migrationBaseline ${V3}`);
      const early = await baselineRefusal(db.url, V1);
      expect(early).toContain("which no file up to it creates");
    }),
  );
});

describe("fresh database", () => {
  test(
    "all five versions apply and give the API's schema",
    withDatabase("mig_fresh", async (db) => {
      const res = await apply(db.url);
      expect(res.stderr).toBe("");
      expect(res.code).toBe(0);
      await expectRevisions(db.url, undefined, ALL_VERSIONS);
      const schema = await readSchema(db.url);
      expect(schema).toEqual(expectedApiSchema);
      expect(Object.keys(schema.tables)).toHaveLength(9);
      expect(Object.keys(schema.indexes)).toHaveLength(26);
      expect(Object.values(schema.indexes).filter((i) => i.method === "gin")).toHaveLength(2);
      expect(Object.keys(schema.foreignKeys)).toHaveLength(4);

      // A second run has nothing to do.
      const again = await apply(db.url);
      expect(again.code).toBe(0);
      expect(await revisions(db.url)).toHaveLength(5);
    }),
  );
});

/** The table of migrations/README.md: database last run by API release X -> baseline to set. */
const fixtureCases: { fixture: string; baseline: string; executed: string[] }[] = [
  { fixture: "gorm-v1.1.0.sql", baseline: V1, executed: [V2, V3, V4, V5] },
  { fixture: "gorm-v1.2.0.sql", baseline: V2, executed: [V3, V4, V5] },
  { fixture: "gorm-v1.4.0-upgraded.sql", baseline: V4, executed: [V5] },
];

describe("databases built by GORM AutoMigrate (fixtures)", () => {
  test.each(fixtureCases)(
    "$fixture with --baseline $baseline reaches the API's schema without rebuilding a table",
    ({ fixture, baseline, executed }) =>
      withDatabase("mig_gorm", async (db) => {
        await loadFixture(db.url, fixture);
        await expectOnlyBaseline(db.url, baseline);
        const before = await tableOids(db.url);
        const res = await apply(db.url, baseline);
        expect(res.stderr).toBe("");
        expect(res.code).toBe(0);
        await expectRevisions(db.url, baseline, executed);
        expectTablesKept(before, await tableOids(db.url));
        const schema = await readSchema(db.url);
        expect(schema).toEqual(expectedApiSchema);
        expect(schema.indexes.idx_log_entity).toEqual({
          table: "logs",
          unique: false,
          method: "btree",
          columns: ["entity_id", "entity_type"],
        });
      })(),
  );

  test(
    "a GORM database without a baseline is refused as not clean, and left as it was",
    withDatabase("mig_dirty", async (db) => {
      await loadFixture(db.url, "gorm-v1.4.0-upgraded.sql");
      const before = await readSchema(db.url);
      const res = await apply(db.url);
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain("connected database is not clean");
      expect(res.stderr).toContain("baseline version or allow-dirty is required");
      expect(await readSchema(db.url)).toEqual(before);
    }),
  );
});

// --- GORM oracle ---------------------------------------------------------------------------

/** Statements that change the schema: anything but a read. */
function ddlOf(lines: OracleLine[]): string[] {
  return lines.map((l) => l.sql.trim()).filter((s) => !/^SELECT\b/i.test(s));
}

/** How a database last brought up to date by GORM gets its baseline (migrations/README.md). */
const gormPaths: { name: string; releases: string[]; baseline: string; executed: string[] }[] = [
  { name: "created at v1.1.0", releases: ["v1.1.0"], baseline: V1, executed: [V2, V3, V4, V5] },
  {
    name: "created at v1.1.0, upgraded by v1.2.0",
    releases: ["v1.1.0", "v1.2.0"],
    baseline: V2,
    executed: [V3, V4, V5],
  },
  {
    name: "created at v1.1.0, upgraded through v1.3.0",
    releases: ["v1.1.0", "v1.2.0", "v1.3.0"],
    baseline: V3,
    executed: [V4, V5],
  },
  {
    name: "created at v1.1.0, upgraded through v1.4.0",
    releases: ["v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0"],
    baseline: V4,
    executed: [V5],
  },
  { name: "created fresh at v1.3.0", releases: ["v1.3.0"], baseline: V3, executed: [V4, V5] },
  { name: "created fresh at v1.3.0, upgraded by v1.4.0", releases: ["v1.3.0", "v1.4.0"], baseline: V4, executed: [V5] },
  { name: "created fresh at v1.4.0", releases: ["v1.4.0"], baseline: V4, executed: [V5] },
];

describe("GORM oracle (testbed/gorm-oracle, GORM v1.31.2 AutoMigrate)", () => {
  beforeAll(() => buildGormOracle(), 600_000);

  test(
    "on a schema built by our migrations, AutoMigrate executes no DDL but the two GIN IF NOT EXISTS statements",
    withDatabase("oracle_ours", async (db) => {
      expect((await apply(db.url)).code).toBe(0);
      const before = await readSchema(db.url, { columnOrder: true });
      const oids = await tableOids(db.url);
      const lines = await runGormOracle(db.url);
      expect(lines.filter((l) => l.error)).toEqual([]);
      expect(ddlOf(lines)).toEqual(GIN_STATEMENTS);
      expect(lines.length).toBeGreaterThan(50); // it did inspect every table
      expect(await readSchema(db.url, { columnOrder: true })).toEqual(before);
      expect(await tableOids(db.url)).toEqual(oids);
    }),
  );

  test(
    "a database AutoMigrate creates fresh equals the expected schema and ours",
    withDatabase("oracle_fresh", async (db) => {
      const lines = await runGormOracle(db.url);
      expect(ddlOf(lines).filter((s) => /^CREATE TABLE/i.test(s))).toHaveLength(9);
      const gorm = await readSchema(db.url);
      expect(gorm).toEqual(expectedApiSchema);

      const ours = await createDatabase("oracle_cmp");
      try {
        expect((await apply(ours.url)).code).toBe(0);
        // Column order differs (our later files add columns at the end); nothing else may.
        expect(await readSchema(ours.url)).toEqual(gorm);
      } finally {
        await ours.drop();
      }
    }),
  );

  const fixtureReplays: { fixture: string; releases: string[] }[] = [
    { fixture: "gorm-v1.1.0.sql", releases: ["v1.1.0"] },
    { fixture: "gorm-v1.2.0.sql", releases: ["v1.1.0", "v1.2.0"] },
    { fixture: "gorm-v1.4.0-upgraded.sql", releases: ["v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0"] },
  ];

  test.each(fixtureReplays)(
    "$fixture is what GORM leaves after $releases (column order included)",
    ({ fixture, releases }) =>
      withDatabase("oracle_fixture", async (db) => {
        for (const release of releases) await runGormOracle(db.url, release);
        const fromFixture = await createDatabase("oracle_fixture_sql");
        try {
          await loadFixture(fromFixture.url, fixture);
          expect(await readSchema(fromFixture.url, { columnOrder: true })).toEqual(
            await readSchema(db.url, { columnOrder: true }),
          );
        } finally {
          await fromFixture.drop();
        }
      })(),
  );

  test.each(gormPaths)(
    "$name: baseline $baseline, then AutoMigrate of main finds nothing to change",
    ({ releases, baseline, executed }) =>
      withDatabase("oracle_path", async (db) => {
        for (const release of releases) await runGormOracle(db.url, release);
        await expectOnlyBaseline(db.url, baseline);
        const oids = await tableOids(db.url);
        const res = await apply(db.url, baseline);
        expect(res.stderr).toBe("");
        expect(res.code).toBe(0);
        await expectRevisions(db.url, baseline, executed);
        expectTablesKept(oids, await tableOids(db.url));
        expect(await readSchema(db.url)).toEqual(expectedApiSchema);
        const lines = await runGormOracle(db.url);
        expect(ddlOf(lines)).toEqual(GIN_STATEMENTS);
      })(),
  );
});
