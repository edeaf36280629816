/** Files Atlas runs outside a transaction (`-- atlas:txmode none`), end to end: our reading of the
 * directive against Atlas's own library (0.13.1 and 1.2.3) and the test bed's Atlas binary, the
 * statements PostgreSQL refuses in a transaction block, and a concurrent index build that
 * applies, fails (duplicates, lock_timeout) and is retried after the fix, with the Job's exact
 * command and session settings against the real PostgreSQL. Needs Go (the probes), the test
 * bed's Atlas and PostgreSQL (source scripts/env.sh). */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { readDatabaseState } from "../../lib/database/state";
import { loadMigrationDir, MigrationDir, writeSumFile } from "../../lib/migration/dir";
import {
  atlasParsedStatements,
  findDestructiveStatements,
  loadSqlParser,
  MigrationSqlError,
} from "../../lib/migration/guard";
import { planMigrations } from "../../lib/migration/plan";
import { describePlan, planRun, PreflightError } from "../../lib/migration/preflight";
import { ATLAS_RELEASES, fileTxMode, outsideTransactionKind, txmodeDirectives } from "../../lib/migration/txmode";
import { runInput, runMigrationJob } from "../support/atlasJob";
import { askProbe, buildGoProbe } from "../support/goProbe";
import { migrationFile } from "../support/migrationFiles";
import { databasesDroppedAfterEach, query } from "../../testbed/pg";

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, "../..");

const ATLAS_1_2_3 = { module: "atlas-lex", name: "atlas-lex-1.2.3" };
const ATLAS_0_13_1 = { module: "atlas-lex", pkg: "./atlas0131", modfile: "atlas-0.13.1.mod", name: "atlas-lex-0.13.1" };

beforeAll(() => Promise.all([buildGoProbe(ATLAS_1_2_3), buildGoProbe(ATLAS_0_13_1), loadSqlParser()]), 600_000);

const database = databasesDroppedAfterEach();

const TABLE = "20270101000000_t.sql";
const INDEX = "20270102000000_idx.sql";
const NONE = "-- atlas:txmode none\n\n";
const table = "CREATE TABLE t (id int PRIMARY KEY, c text);\nINSERT INTO t VALUES (1, 'a'), (2, 'a'), (3, 'b');\n";
const build = "CREATE UNIQUE INDEX CONCURRENTLY t_c_key ON t (c);\n";

const scratch: string[] = [];
afterAll(() => scratch.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A migration directory of these files, hashed by our atlas.sum writer. */
function dirOf(files: Record<string, string>): MigrationDir {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "txmode-"));
  scratch.push(tmp);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), text);
  writeSumFile(tmp);
  return loadMigrationDir(tmp);
}
const revisions = (url: string) =>
  query<{ version: string; applied: number; total: number; error: string | null }>(
    url,
    "SELECT version, applied::int, total::int, error FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
  );
const indexValid = async (url: string, name: string) =>
  (
    await query<{ valid: boolean }>(
      url,
      "SELECT x.indisvalid AS valid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE c.relname = $1",
      [name],
    )
  ).map((r) => r.valid);
const guardRefusal = (dir: MigrationDir, name: string) => {
  try {
    findDestructiveStatements(dir.files.find((f) => f.name === name)!);
    return undefined;
  } catch (err) {
    if (!(err instanceof MigrationSqlError)) throw err;
    return err.message;
  }
};

/** Header variants: comments, the directive's spellings, what separates the header from the statements. */
function headerVariants(): string[] {
  const leads = ["", "\n", " ", "\ufeff"];
  const before = [[], ["-- build the index"], ["# note", "-- more"]];
  const directives = [
    "-- atlas:txmode none",
    "--atlas:txmode none",
    "# atlas:txmode none",
    "-- atlas:txmode  none  ",
    "-- why atlas:txmode none",
    "-- atlas:txmode file",
    "-- atlas:txmode",
    "-- atlas:txmode none -- x",
    "-- atlas:txmodes none",
    "-- atlas:txmode nöne",
    "/* atlas:txmode none */",
    "-- atlas:txmode none\t",
  ];
  const after = [[], ["-- atlas:txmode none"], ["-- trailing note"]];
  const separators = ["\n", "  \n", "\t\n", "", "\n\n"];
  const bodies = ["CREATE INDEX CONCURRENTLY i ON t (c);\n", "", "SELECT 1;\n-- atlas:txmode none\n"];
  const texts: string[] = [];
  for (const eol of ["\n", "\r\n"])
    for (const lead of leads)
      for (const b of before)
        for (const d of directives)
          for (const a of after)
            for (const sep of separators)
              for (const body of bodies)
                texts.push(lead + [...b, d, ...a].map((l) => l + eol).join("") + sep.replace("\n", eol) + body);
  return texts;
}

describe("the txmode directive: our reading and Atlas's", () => {
  it("equals LocalFile.Directive of Atlas 0.13.1 and 1.2.3 on 12,960 header variants", async () => {
    const texts = headerVariants();
    const ask = async (probe: typeof ATLAS_1_2_3 | typeof ATLAS_0_13_1) =>
      (
        await askProbe<{ name: string; text: string }, { txmode: string[] | null }>(
          await buildGoProbe(probe),
          texts.map((text, i) => ({ name: `${i}.sql`, text })),
        )
      ).map((a) => a.txmode ?? []);
    const atlas = [await ask(ATLAS_0_13_1), await ask(ATLAS_1_2_3)];
    ATLAS_RELEASES.forEach((release, r) => {
      const differ = texts.filter(
        (text, i) =>
          JSON.stringify(txmodeDirectives(text, release).map((d) => d.value)) !== JSON.stringify(atlas[r][i]),
      );
      expect({ release, differ }).toEqual({ release, differ: [] });
    });
    // The variants reach every reading: none, file, ignored, refused, and the releases' disagreement.
    const disagree = texts.filter((_, i) => JSON.stringify(atlas[0][i]) !== JSON.stringify(atlas[1][i]));
    expect(disagree.length).toBeGreaterThan(0);
    expect([...new Set(atlas[1].map((values) => JSON.stringify(values)))]).toEqual(
      expect.arrayContaining(['["none"]', '["file"]', "[]", '[""]', '["none -- x"]', '["nöne"]', '["none","none"]']),
    );
  });

  it.each([
    ["first line, then an empty line", `${NONE}CREATE INDEX CONCURRENTLY i ON t (c);\n`],
    ["after other header comments", `-- why\n-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY i ON t (c);\n`],
    ["no empty line after it", "-- atlas:txmode none\nCREATE INDEX CONCURRENTLY i ON t (c);\n"],
    ["after a statement", `SELECT 1;\n${NONE}CREATE INDEX CONCURRENTLY i ON t (c);\n`],
    ["indented", `  ${NONE}CREATE INDEX CONCURRENTLY i ON t (c);\n`],
    ["CRLF line ends", "-- atlas:txmode none\r\n\r\nCREATE INDEX CONCURRENTLY i ON t (c);\r\n"],
    ["in a block comment", "/* atlas:txmode none */\n\nCREATE INDEX CONCURRENTLY i ON t (c);\n"],
  ])("the test bed's Atlas runs the file as we read it: %s", async (_, text) => {
    const dir = dirOf({ [TABLE]: table, [INDEX]: text });
    const ours = fileTxMode(dir.files[1]).mode;
    const db = await database("txmode_where");
    const run = await runMigrationJob(dir, runInput(dir), db.url);
    if (ours === "none") {
      expect(run.code).toBe(0);
      expect(await indexValid(db.url, "i")).toEqual([true]);
      expect(guardRefusal(dir, INDEX)).toBeUndefined();
    } else {
      expect(run.code).not.toBe(0);
      expect(run.output).toContain("CREATE INDEX CONCURRENTLY cannot run inside a transaction block");
      // ... which the guard says at preview, with the line and the fix.
      expect(guardRefusal(dir, INDEX)).toMatch(
        /^20270102000000_idx\.sql:\d+: CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and Atlas runs this file in one .*make `-- atlas:txmode none` the file's first line, followed by an empty line/,
      );
    }
  });

  it.each([
    [
      "two directives",
      "-- atlas:txmode none\n-- atlas:txmode none\n\n",
      'multiple txmode values found in file "20270102000000_idx.sql"',
    ],
    [
      "an unknown value",
      "-- atlas:txmode NONE\n\n",
      'unknown txmode "NONE" found in file directive "20270102000000_idx.sql"',
    ],
    ["all", "-- atlas:txmode all\n\n", 'txmode "all" is not allowed in file directive "20270102000000_idx.sql"'],
  ])("a directive Atlas stops on (%s): the guard refuses it with Atlas's words", async (_, header, words) => {
    const dir = dirOf({ [TABLE]: table, [INDEX]: `${header}CREATE INDEX CONCURRENTLY i ON t (c);\n` });
    const db = await database("txmode_bad");
    const run = await runMigrationJob(dir, runInput(dir), db.url);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain(words);
    expect(guardRefusal(dir, INDEX)).toContain(words.replace(/ in file directive "[^"]*"| in file "[^"]*"/, ""));
  });

  it("a line of spaces after the header: 1.2.3 reads the directive, the test bed's 0.13.1 does not; refused", async () => {
    const text = "-- atlas:txmode none\n  \nCREATE INDEX CONCURRENTLY i ON t (c);\n";
    const dir = dirOf({ [TABLE]: table, [INDEX]: text });
    const [older, newer] = await Promise.all(
      [ATLAS_0_13_1, ATLAS_1_2_3].map(
        async (p) =>
          (
            await askProbe<{ name: string; text: string }, { txmode: string[] | null }>(await buildGoProbe(p), [
              { name: INDEX, text },
            ])
          )[0].txmode,
      ),
    );
    expect([older, newer]).toEqual([null, ["none"]]);
    const db = await database("txmode_spaces");
    const run = await runMigrationJob(dir, runInput(dir), db.url);
    expect(run.output).toContain("cannot run inside a transaction block");
    expect(guardRefusal(dir, INDEX)).toMatch(
      /^20270102000000_idx\.sql:1: Atlas 0\.13\.1 .* and 1\.2\.3 .* read this file's `atlas:txmode` directive differently/,
    );
  });
});

describe("what PostgreSQL refuses inside a transaction block", () => {
  it("is what the guard asks to run outside one", async () => {
    const db = await database("txmode_pg");
    await query(
      db.url,
      `CREATE TABLE t (id int PRIMARY KEY, c int); CREATE INDEX i ON t (c);
       CREATE MATERIALIZED VIEW m AS SELECT id FROM t; CREATE UNIQUE INDEX m_id ON m (id);
       CREATE TABLE p (id int) PARTITION BY RANGE (id); CREATE TABLE pc PARTITION OF p FOR VALUES FROM (0) TO (10);`,
    );
    const statements = [
      "CREATE INDEX CONCURRENTLY i2 ON t (c)",
      "CREATE UNIQUE INDEX CONCURRENTLY i3 ON t (id)",
      "DROP INDEX CONCURRENTLY IF EXISTS i",
      "REINDEX INDEX CONCURRENTLY i",
      "REINDEX (CONCURRENTLY) TABLE t",
      "REINDEX (CONCURRENTLY false) TABLE t",
      "REINDEX TABLE t",
      "REINDEX SCHEMA public",
      "VACUUM t",
      "ANALYZE t",
      "CLUSTER",
      "CLUSTER t USING t_pkey",
      "ALTER TABLE p DETACH PARTITION pc CONCURRENTLY",
      "ALTER TABLE p DETACH PARTITION pc",
      "REFRESH MATERIALIZED VIEW CONCURRENTLY m",
      "REFRESH MATERIALIZED VIEW m",
      "CREATE INDEX i4 ON t (c)",
      "DROP INDEX i",
      "CREATE DATABASE txmode_never",
      "ALTER SYSTEM SET work_mem = '1MB'",
    ];
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const refused: Record<string, boolean> = {};
      const asked: Record<string, boolean> = {};
      for (const sql of statements) {
        await client.query("BEGIN");
        refused[sql] = await client.query(sql).then(
          () => false,
          (err: { code?: string }) => {
            if (err.code !== "25001") throw err;
            return true;
          },
        );
        await client.query("ROLLBACK");
        const [parsed] = atlasParsedStatements(migrationFile("20270102000000", `${sql};\n`, "idx"));
        asked[sql] = outsideTransactionKind(parsed.stmt) !== undefined;
      }
      expect(asked).toEqual(refused);
      expect(refused["REFRESH MATERIALIZED VIEW CONCURRENTLY m"]).toBe(false);
    } finally {
      await client.end();
    }
  });
});

describe("a concurrent index build on the real Atlas and PostgreSQL, with the Job's command and session", () => {
  it("applies in a file outside a transaction; the plan says it runs outside one", async () => {
    const dir = dirOf({ [TABLE]: table.replace("(2, 'a')", "(2, 'c')"), [INDEX]: `${NONE}${build}` });
    expect(dir.files.flatMap(findDestructiveStatements)).toEqual([]);
    const db = await database("txmode_apply");
    const before = await planRun({ mode: "online", dir, databaseUrl: db.url });
    expect(describePlan(before, "k")).toContain(
      "    20270102000000  20270102000000_idx.sql  (runs outside a transaction: if it fails, what it did stays applied)",
    );
    const run = await runMigrationJob(dir, runInput(dir), db.url);
    expect(run.code).toBe(0);
    expect(await indexValid(db.url, "t_c_key")).toEqual([true]);
    expect((await revisions(db.url)).map((r) => [r.version, r.applied, r.total])).toEqual([
      ["20270101000000", 2, 2],
      ["20270102000000", 1, 1],
    ]);
  });

  it("fails on duplicate rows, leaving an INVALID index; the retry is refused at preview until the fix; after the fix the next run succeeds with no cleanup", async () => {
    const failing = dirOf({ [TABLE]: table, [INDEX]: `${NONE}${build}` });
    const db = await database("txmode_retry");
    const first = await runMigrationJob(failing, runInput(failing), db.url);
    expect(first.code).not.toBe(0);
    expect(first.output).toContain('could not create unique index "t_c_key"');
    // Atlas recorded the file as failed at its only statement, and PostgreSQL kept the index, INVALID.
    expect((await revisions(db.url)).map((r) => [r.version, r.applied, r.total, Boolean(r.error)])).toEqual([
      ["20270101000000", 2, 2, false],
      ["20270102000000", 0, 1, true],
    ]);
    expect(await indexValid(db.url, "t_c_key")).toEqual([false]);

    // Atlas would resume the file as it is (the plan says so), but the leftover would fail it: refused at preview.
    const state = await readDatabaseState(db.url);
    expect(planMigrations(failing.files, state, undefined).retry?.note).toMatch(
      /^retry: migration 20270102000000 \(idx\) failed in an earlier run after 0 of 1 statement\(s\): pq: could not create unique index "t_c_key" \(23505\)\. It runs outside a transaction, so what it applied stays applied; Atlas resumes it at statement 1 \(line 3\): CREATE UNIQUE INDEX CONCURRENTLY t_c_key ON t \(c\);$/,
    );
    // npm run migrations:status says it too (it used to call the file failed and exit 1).
    const status = spawnSync("bash", ["scripts/migrations.sh", "status"], {
      cwd: ROOT,
      env: { ...process.env, MIGRATIONS_DIR: failing.path, DATABASE_URL: db.url },
      encoding: "utf8",
    });
    // (the script rebuilds bin/ first when it is stale, and says so on stderr)
    expect({ code: status.status, stdout: status.stdout }).toEqual({
      code: 0,
      stdout: expect.stringContaining(
        "pending:\n  20270102000000_idx.sql\nretry: migration 20270102000000 (idx) failed in an earlier run after 0 of 1",
      ),
    });
    const refused = planRun({ mode: "online", dir: failing, databaseUrl: db.url });
    await expect(refused).rejects.toThrow(PreflightError);
    await expect(refused).rejects.toThrow(
      '20270102000000_idx.sql:3: the database has an INVALID index "t_c_key" in schema public (left by a failed concurrent build), so this build would fail with: relation "t_c_key" already exists',
    );
    // ... as the real run does.
    const again = await runMigrationJob(failing, runInput(failing), db.url);
    expect(again.output).toContain('relation "t_c_key" already exists');

    // The fix (docs/migrations.md): the failed file's statement becomes the drop, the duplicates go, the build moves.
    const fixed = dirOf({
      [TABLE]: table,
      [INDEX]: `${NONE}DROP INDEX CONCURRENTLY IF EXISTS t_c_key;\n`,
      "20270103000000_dedupe.sql": "DELETE FROM t a USING t b WHERE a.c = b.c AND a.id > b.id;\n",
      "20270104000000_idx.sql": `${NONE}${build}`,
    });
    expect(fixed.files.flatMap(findDestructiveStatements).map((d) => d.kind)).toEqual([]);
    const plan = await planRun({ mode: "online", dir: fixed, databaseUrl: db.url });
    expect(plan.pending.map((f) => f.version)).toEqual(["20270102000000", "20270103000000", "20270104000000"]);
    expect(plan.retry).toMatch(
      /Atlas resumes it at statement 1 \(line 3\): DROP INDEX CONCURRENTLY IF EXISTS t_c_key;$/,
    );
    const retry = await runMigrationJob(fixed, runInput(fixed), db.url);
    expect(retry.code).toBe(0);
    expect(await indexValid(db.url, "t_c_key")).toEqual([true]);
    // Atlas 0.13.1 keeps the first error on the revision it then completed: the next plan is clean all the same.
    expect((await revisions(db.url)).map((r) => [r.version, r.applied, r.total])).toEqual([
      ["20270101000000", 2, 2],
      ["20270102000000", 1, 1],
      ["20270103000000", 1, 1],
      ["20270104000000", 1, 1],
    ]);
    const after = planMigrations(fixed.files, await readDatabaseState(db.url), undefined);
    expect(after.problems).toEqual([]);
    expect(after.pending).toEqual([]);
  });

  it("fails on the session's lock_timeout behind a long transaction, leaving an INVALID index the preflight names", async () => {
    const dir = dirOf({ [TABLE]: table, [INDEX]: `${NONE}CREATE INDEX CONCURRENTLY t_c_idx ON t (c);\n` });
    const db = await database("txmode_lock");
    const tableOnly = dirOf({ [TABLE]: table });
    expect((await runMigrationJob(tableOnly, runInput(tableOnly), db.url)).code).toBe(0);
    // A transaction of the serving API that writes to t: the build waits for it, up to lock_timeout.
    const api = new Client({ connectionString: db.url });
    await api.connect();
    try {
      await api.query("BEGIN");
      await api.query("INSERT INTO t VALUES (10, 'z')");
      const run = await runMigrationJob(dir, runInput(dir, { postgresLockTimeout: "1s" }), db.url);
      expect(run.code).not.toBe(0);
      expect(run.output).toContain("canceling statement due to lock timeout");
    } finally {
      await api.query("ROLLBACK").catch(() => undefined);
      await api.end();
    }
    expect(await indexValid(db.url, "t_c_idx")).toEqual([false]);
    await expect(planRun({ mode: "online", dir, databaseUrl: db.url })).rejects.toThrow(
      '20270102000000_idx.sql:3: the database has an INVALID index "t_c_idx" in schema public',
    );
  });
});

describe("why the rules are what they are, on the real Atlas", () => {
  it("a DROP INDEX CONCURRENTLY IF EXISTS in front of the build does not make it retryable: Atlas resumes at the build", async () => {
    const text = `${NONE}DROP INDEX CONCURRENTLY IF EXISTS t_c_key;\n${build}`;
    const dir = dirOf({ [TABLE]: table, [INDEX]: text });
    expect(guardRefusal(dir, INDEX)).toMatch(/:4: this file runs outside a transaction .* and holds 2 statements/);
    const db = await database("txmode_dropfirst");
    expect((await runMigrationJob(dir, runInput(dir), db.url)).code).not.toBe(0);
    await query(db.url, "DELETE FROM t WHERE id = 2"); // the cause, fixed
    const retry = await runMigrationJob(dir, runInput(dir), db.url);
    expect(retry.code).not.toBe(0);
    expect(retry.output).toContain('relation "t_c_key" already exists');
    expect((await revisions(db.url)).find((r) => r.version === "20270102000000")).toMatchObject({
      applied: 1,
      total: 2,
    });
  });

  it("IF NOT EXISTS makes the retry pass with the INVALID index kept", async () => {
    const text = `${NONE}CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_c_key ON t (c);\n`;
    const dir = dirOf({ [TABLE]: table, [INDEX]: text });
    expect(guardRefusal(dir, INDEX)).toMatch(/:3: CREATE INDEX CONCURRENTLY IF NOT EXISTS: a failed concurrent build/);
    const db = await database("txmode_ifnotexists");
    expect((await runMigrationJob(dir, runInput(dir), db.url)).code).not.toBe(0);
    await query(db.url, "DELETE FROM t WHERE id = 2");
    expect((await runMigrationJob(dir, runInput(dir), db.url)).code).toBe(0);
    expect(await indexValid(db.url, "t_c_key")).toEqual([false]);
  });
});
