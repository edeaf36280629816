import { createHash } from "crypto";
import { MigrationFile } from "../../lib/migration/dir";
import { atlasParsedStatements, findDestructiveStatements, loadSqlParser } from "../../lib/migration/guard";
import { planMigrations, Revision, REVISION_TYPE } from "../../lib/migration/plan";
import { describePlan, planRun } from "../../lib/migration/preflight";
import {
  ATLAS_RELEASES,
  fileTxMode,
  headerComments,
  leftoverIndexRefusals,
  outsideTransactionKind,
  resumeOf,
} from "../../lib/migration/txmode";
import { migrationDir, migrationFile } from "../support/migrationFiles";

const NONE = "-- atlas:txmode none\n\n";
const CIC = "CREATE UNIQUE INDEX CONCURRENTLY t_c_key ON t (c);\n";
const file = (text: string, version = "20270102000000"): MigrationFile => migrationFile(version, text, "idx");
const refusal = (text: string) => {
  try {
    findDestructiveStatements(file(text));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};
/** Atlas's partial_hashes for these statement texts: the running sha256, base64. */
const partialHashes = (...texts: string[]) => {
  const h = createHash("sha256");
  return texts.map((t) => `h1:${h.update(t).copy().digest("base64")}`);
};
const rev = (version: string, extra: Partial<Revision> = {}): Revision => ({
  version,
  description: "idx",
  type: REVISION_TYPE.execute,
  applied: 1,
  total: 1,
  ...extra,
});

beforeAll(() => loadSqlParser());

describe("the txmode directive, read as Atlas reads it (sql/migrate LocalFile.Directive)", () => {
  it.each([
    ["first line, then an empty line", `${NONE}${CIC}`, { mode: "none", line: 1 }],
    [
      "after other header comments",
      `-- build the index\n# without locks\n-- atlas:txmode none\n\n${CIC}`,
      { mode: "none", line: 3 },
    ],
    ["any printable text before atlas:", `-- note atlas:txmode none\n\n${CIC}`, { mode: "none", line: 1 }],
    ["no space after --", `--atlas:txmode none\n\n${CIC}`, { mode: "none", line: 1 }],
    ["several spaces before the value", `-- atlas:txmode   none  \n\n${CIC}`, { mode: "none", line: 1 }],
    ["the Job's own mode, named", `-- atlas:txmode file\n\n${CIC}`, { mode: "file", line: 1 }],
    ["no empty line after the header", `-- atlas:txmode none\n${CIC}`, { mode: "file" }],
    ["an empty line before the header", `\n${NONE}${CIC}`, { mode: "file" }],
    ["indented", `  ${NONE}${CIC}`, { mode: "file" }],
    ["after a statement", `SELECT 1;\n${NONE}${CIC}`, { mode: "file" }],
    ["in a block comment", `/* atlas:txmode none */\n\n${CIC}`, { mode: "file" }],
    ["CRLF line ends (the empty line holds a \\r)", `-- atlas:txmode none\r\n\r\n${CIC}`, { mode: "file" }],
  ])("%s", (_, text, expected) => {
    expect(fileTxMode(file(text))).toEqual(expected);
  });

  it.each([
    [
      "two directives",
      `${NONE.trim()}\n-- atlas:txmode none\n\n${CIC}`,
      /:2: Atlas stops on this file: multiple txmode values found in file "20270102000000_idx.sql": \["none" "none"\]/,
    ],
    ["all", `-- atlas:txmode all\n\n${CIC}`, /:1: Atlas stops on this file: txmode "all" is not allowed/],
    ["an unknown value", `-- atlas:txmode NONE\n\n${CIC}`, /:1: Atlas stops on this file: unknown txmode "NONE"/],
    ["a comment after the value", `-- atlas:txmode none -- no locks\n\n${CIC}`, /unknown txmode "none -- no locks"/],
    ["no value", `-- atlas:txmode\n\n${CIC}`, /unknown txmode ""/],
    [
      "spaces on the empty line: 1.2.3 reads it, 0.13.1 does not",
      `-- atlas:txmode none\n  \n${CIC}`,
      /:1: Atlas 0.13.1 \(the test bed's\) and 1.2.3 \(the production image's\) read this file's `atlas:txmode` directive differently/,
    ],
    [
      "a file of comments only: 1.2.3 reads them, 0.13.1 does not",
      "-- atlas:txmode none\n",
      /read this file's `atlas:txmode` directive differently: 1.2.3 reads the comments of a file that holds nothing else/,
    ],
  ])("refused: %s", (_, text, message) => {
    expect(() => fileTxMode(file(text))).toThrow(message);
  });

  it("1.2.3 takes a comment-only file's comments as its header, 0.13.1 does not", () => {
    expect(ATLAS_RELEASES.map((r) => headerComments("-- atlas:sum ignore\n", r))).toEqual([
      [],
      ["-- atlas:sum ignore"],
    ]);
  });
});

describe("statements PostgreSQL refuses inside a transaction block", () => {
  const kind = (sql: string) => outsideTransactionKind(atlasParsedStatements(file(sql))[0].stmt);
  it.each([
    ["CREATE INDEX CONCURRENTLY i ON t (c);", "CREATE INDEX CONCURRENTLY"],
    ["CREATE UNIQUE INDEX CONCURRENTLY i ON t (c);", "CREATE UNIQUE INDEX CONCURRENTLY"],
    ["DROP INDEX CONCURRENTLY IF EXISTS i;", "DROP INDEX CONCURRENTLY"],
    ["REINDEX INDEX CONCURRENTLY i;", "REINDEX ... CONCURRENTLY"],
    ["REINDEX (CONCURRENTLY) TABLE t;", "REINDEX ... CONCURRENTLY"],
    ["REINDEX (CONCURRENTLY false) TABLE t;", undefined],
    ["REINDEX TABLE t;", undefined],
    ["REINDEX SCHEMA public;", "REINDEX SCHEMA"],
    ["VACUUM t;", "VACUUM"],
    ["ANALYZE t;", undefined],
    ["CLUSTER;", "CLUSTER without a table"],
    ["CLUSTER t USING i;", undefined],
    ["ALTER TABLE p DETACH PARTITION c CONCURRENTLY;", "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"],
    ["ALTER TABLE p DETACH PARTITION c;", undefined],
    ["REFRESH MATERIALIZED VIEW CONCURRENTLY m;", undefined],
    ["CREATE INDEX i ON t (c);", undefined],
    ["DROP INDEX i;", undefined],
    ["CREATE DATABASE d;", "CREATE DATABASE"],
    ["ALTER SYSTEM SET work_mem = '1MB';", "ALTER SYSTEM"],
  ])("%s", (sql, expected) => {
    expect(kind(sql)).toBe(expected);
  });
});

describe("the guard's rules for files outside a transaction", () => {
  it("refuses CONCURRENTLY in a file Atlas runs in a transaction, naming the line and the fix", () => {
    expect(refusal(`CREATE TABLE x (a int);\n${CIC}`)).toBe(
      "20270102000000_idx.sql:2: CREATE UNIQUE INDEX CONCURRENTLY cannot run inside a transaction block, and Atlas " +
        "runs this file in one (the Job's --tx-mode file), so PostgreSQL would refuse it at run time: make " +
        "`-- atlas:txmode none` the file's first line, followed by an empty line, and keep this statement alone in " +
        "its file (docs/migrations.md, Building an index without blocking writes)",
    );
  });

  it("says where a directive Atlas does not read is", () => {
    expect(refusal(`-- atlas:txmode none\n${CIC}`)).toMatch(
      /:2: CREATE UNIQUE INDEX CONCURRENTLY cannot run .*; line 1 has an atlas:txmode directive that Atlas does not read there: it reads directives only from the comment lines at the very top of the file, and only when an empty line follows them$/,
    );
    expect(refusal(`SELECT 1;\n${NONE}${CIC}`)).toMatch(/:4: .*; line 2 has an atlas:txmode directive/);
    expect(refusal(`-- atlas:txmode file\n\n${CIC}`)).toMatch(/; line 1 sets `-- atlas:txmode file`$/);
  });

  it("passes one concurrent build in a file outside a transaction, and REFRESH ... CONCURRENTLY in one", () => {
    expect(refusal(`${NONE}${CIC}`)).toBeUndefined();
    expect(refusal(`${NONE}DROP INDEX CONCURRENTLY IF EXISTS t_c_key;\n`)).toBeUndefined();
    expect(refusal("REFRESH MATERIALIZED VIEW CONCURRENTLY m;\n")).toBeUndefined();
  });

  it("refuses a second statement in a file outside a transaction", () => {
    expect(refusal(`${NONE}DROP INDEX CONCURRENTLY IF EXISTS t_c_key;\n${CIC}`)).toMatch(
      /^20270102000000_idx.sql:4: this file runs outside a transaction \(`-- atlas:txmode none`, line 1\) and holds 2 statements: Atlas records such a file statement by statement and resumes a failed one at the failed statement/,
    );
  });

  it("refuses IF NOT EXISTS on a concurrent build: a retry would keep the INVALID leftover", () => {
    expect(refusal(`${NONE}CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);\n`)).toMatch(
      /^20270102000000_idx.sql:3: CREATE INDEX CONCURRENTLY IF NOT EXISTS: a failed concurrent build leaves an INVALID index/,
    );
  });

  it("refuses a directive Atlas stops on", () => {
    expect(refusal(`-- atlas:txmode all\n\n${CIC}`)).toMatch(/txmode "all" is not allowed/);
  });
});

describe("the retry of a file Atlas recorded as failed", () => {
  const t = migrationFile("20270101000000", "CREATE TABLE t (id int, c text);\n", "t");
  const drop = "DROP INDEX CONCURRENTLY IF EXISTS t_c_key;";
  const failedBuild = {
    applied: 0,
    total: 1,
    error: 'pq: could not create unique index "t_c_key" (23505)',
    partialHashes: null,
  };

  it("as recorded: allowed, and the plan says where Atlas resumes and that it runs outside a transaction", () => {
    const plan = planMigrations(
      [t, file(`${NONE}${CIC}`)],
      { revisions: [rev(t.version), rev("20270102000000", failedBuild)] },
      undefined,
    );
    expect(plan.problems).toEqual([]);
    expect(plan.pending.map((f) => f.version)).toEqual(["20270102000000"]);
    expect(plan.retry).toEqual({
      version: "20270102000000",
      statement: 1,
      note:
        'retry: migration 20270102000000 (idx) failed in an earlier run after 0 of 1 statement(s): pq: could not create unique index "t_c_key" (23505). ' +
        "It runs outside a transaction, so what it applied stays applied; Atlas resumes it at statement 1 (line 3): " +
        "CREATE UNIQUE INDEX CONCURRENTLY t_c_key ON t (c);",
    });
  });

  it("fixed within Atlas's rules (the failed statement replaced, the count kept): allowed", () => {
    const fixed = file(`${NONE}${drop}\n`);
    const plan = planMigrations(
      [t, fixed],
      { revisions: [rev(t.version), rev("20270102000000", failedBuild)] },
      undefined,
    );
    expect(plan.problems).toEqual([]);
    expect(plan.retry?.note).toMatch(
      /resumes it at statement 1 \(line 3\): DROP INDEX CONCURRENTLY IF EXISTS t_c_key;$/,
    );
  });

  it("an applied statement changed: refused, as Atlas would stop with history changed", () => {
    const two = file(`DELETE FROM t WHERE c IS NULL;\n${CIC}`);
    const r = rev("20270102000000", {
      applied: 1,
      total: 2,
      partialHashes: partialHashes("DELETE FROM t WHERE false;"),
    });
    expect(resumeOf(two, r)).toEqual({
      ok: false,
      problem:
        "migration 20270102000000 (idx) failed in an earlier run after 1 of 2 statement(s); statement 1 of " +
        '20270102000000_idx.sql changed since Atlas applied it, so Atlas would stop with "history changed": restore ' +
        "statements 1-1 as they were applied and change only what follows",
    });
    const same = rev("20270102000000", {
      applied: 1,
      total: 2,
      partialHashes: partialHashes("DELETE FROM t WHERE c IS NULL;"),
    });
    expect(resumeOf(two, same)).toMatchObject({ ok: true, statement: 2 });
  });

  it("the statement count changed: refused, as Atlas keeps the recorded total", () => {
    const plan = planMigrations(
      [t, file(`${NONE}${drop}\n${CIC}`)],
      { revisions: [rev(t.version), rev("20270102000000", failedBuild)] },
      undefined,
    );
    expect(plan.problems.map((p) => p.code)).toEqual(["failed-revision"]);
    expect(plan.problems[0].message).toMatch(
      /20270102000000_idx.sql now holds 2 statement\(s\), but Atlas keeps the total it recorded \(1\), so it would treat the file as partially applied on every later run/,
    );
  });

  it("a retry that succeeded on Atlas 0.13.1 (which keeps the error): applied, nothing pending, no problem", () => {
    const done = rev("20270102000000", { ...failedBuild, applied: 1, partialHashes: partialHashes(drop) });
    const plan = planMigrations([t, file(`${NONE}${drop}\n`)], { revisions: [rev(t.version), done] }, undefined);
    expect(plan.problems).toEqual([]);
    expect(plan.pending).toEqual([]);
    expect(plan.retry).toBeUndefined();
  });

  it("online: an INVALID index a pending build names refuses the deploy with the recipe; the note is in the plan otherwise", async () => {
    const dir = migrationDir([t, file(`${NONE}${CIC}`)]);
    const state = { revisions: [rev(t.version), rev("20270102000000", failedBuild)] };
    const url = "postgres://app:s3cret@db:5432/api?sslmode=disable";
    const leftover = { ...state, invalidIndexes: [{ schema: "public", name: "t_c_key" }] };
    await expect(planRun({ mode: "online", dir, databaseUrl: url }, async () => leftover)).rejects.toThrow(
      '20270102000000_idx.sql:3: the database has an INVALID index "t_c_key" in schema public (left by a failed ' +
        'concurrent build), so this build would fail with: relation "t_c_key" already exists. Fix the cause of the ' +
        "failure; then, if this is the file that failed, replace its statement by DROP INDEX CONCURRENTLY IF EXISTS " +
        "t_c_key; and build the index in a new file after it, otherwise put that DROP in a new file before it",
    );
    const elsewhere = { ...state, invalidIndexes: [{ schema: "other", name: "t_c_key" }] };
    const plan = await planRun({ mode: "online", dir, databaseUrl: url }, async () => elsewhere);
    const text = describePlan(plan, "k");
    expect(text).toContain(
      "    20270102000000  20270102000000_idx.sql  (runs outside a transaction: if it fails, what it did stays applied)",
    );
    expect(text).toContain(
      "  retry: migration 20270102000000 (idx) failed in an earlier run after 0 of 1 statement(s)",
    );
    // A contract phase's file fails and is retried the same way: its plan says so too.
    expect(describePlan(plan, "k", "contract")).toContain("  retry: migration 20270102000000 (idx) failed");
  });

  it("an index is looked for in the table's schema, else the URL's search_path", () => {
    const refusals = (sql: string, schema: string) =>
      leftoverIndexRefusals(
        [{ file: file(sql), stmts: atlasParsedStatements(file(sql)) }],
        [{ schema: "api", name: "i" }],
        schema,
      );
    expect(refusals("CREATE INDEX CONCURRENTLY i ON api.t (c);", "public")).toEqual([
      expect.stringMatching(/INVALID index "i" in schema api/),
    ]);
    expect(refusals("CREATE INDEX CONCURRENTLY i ON t (c);", "api")).toHaveLength(1);
    expect(refusals("CREATE INDEX CONCURRENTLY i ON t (c);", "public")).toEqual([]);
    expect(refusals("CREATE INDEX i ON api.t (c);", "public")).toEqual([]);
  });

  it("a pending drop of the leftover before the build clears it", () => {
    const parsed = (sql: string, version: string) => ({
      file: file(sql, version),
      stmts: atlasParsedStatements(file(sql, version)),
    });
    const invalid = [{ schema: "public", name: "t_c_key" }];
    const dropThenBuild = [
      parsed(`${NONE}DROP INDEX CONCURRENTLY IF EXISTS t_c_key;\n`, "20270102000000"),
      parsed(`${NONE}${CIC}`, "20270104000000"),
    ];
    expect(leftoverIndexRefusals(dropThenBuild, invalid, "public")).toEqual([]);
    expect(leftoverIndexRefusals([...dropThenBuild].reverse(), invalid, "public")).toEqual([
      expect.stringMatching(/^20270104000000_idx.sql:3: the database has an INVALID index "t_c_key"/),
    ]);
    const otherSchema = [
      parsed(`${NONE}DROP INDEX CONCURRENTLY IF EXISTS api.t_c_key;\n`, "20270102000000"),
      dropThenBuild[1],
    ];
    expect(leftoverIndexRefusals(otherSchema, invalid, "public")).toHaveLength(1);
  });
});
