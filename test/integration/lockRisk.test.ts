import { Client } from "pg";
import { loadSqlParser } from "../../lib/migration/guard";
import type { MigrationFile } from "../../lib/migration/dir";
import { migrationFile } from "../support/migrationFiles";
import { findRisks } from "../../lib/migration/risk";
import { createDatabase, type TestDatabase } from "../../testbed/pg";

/**
 * The long-lock class against the real PostgreSQL: each statement the guard calls long-lock on
 * a table that already exists really holds a lock that blocks the API's writes (or reads) until
 * it commits, or rewrites the table; each safe form the guard lets through does neither. Each
 * statement runs in a transaction of its own that a second session inspects through pg_locks
 * before it is rolled back, so nothing depends on timing.
 */

jest.setTimeout(120_000);

const migration = (text: string): MigrationFile => migrationFile("20260701000000", text, "change");
const isLongLock = (sql: string) => findRisks([migration(sql)]).some((f) => f.risk === "long-lock");

/** Lock modes that conflict with the RowExclusiveLock of an INSERT, UPDATE or DELETE. */
const BLOCKS_WRITES = ["ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"];

let db: TestDatabase;
let session: Client;
let observer: Client;

beforeAll(async () => {
  await loadSqlParser();
  db = await createDatabase("lock_risk");
  session = new Client({ connectionString: db.url });
  observer = new Client({ connectionString: db.url });
  await Promise.all([session.connect(), observer.connect()]);
  await session.query(`
    CREATE TABLE u (id int PRIMARY KEY);
    INSERT INTO u SELECT g FROM generate_series(1, 100) g;
    CREATE TABLE t (id int PRIMARY KEY, a int, b text);
    INSERT INTO t SELECT g, g % 100 + 1, 'row ' || g FROM generate_series(1, 1000) g;
    CREATE UNIQUE INDEX t_b ON t (b);
    CREATE MATERIALIZED VIEW v AS SELECT a, count(*) AS n FROM t GROUP BY a;
    CREATE UNIQUE INDEX v_a ON v (a);
  `);
});

afterAll(async () => {
  await Promise.all([session?.end(), observer?.end()]);
  await db?.drop();
});

/** Runs `sql` in a transaction, reads what it holds on `relation` from another session, rolls back. */
async function inTransaction(sql: string, relation: string): Promise<{ modes: string[]; rewritten: boolean }> {
  const filenode = async (c: Client) =>
    (await c.query<{ f: string }>("SELECT pg_relation_filenode($1::regclass)::text AS f", [relation])).rows[0].f;
  const before = await filenode(session);
  await session.query("BEGIN");
  try {
    await session.query(sql);
    const pid = (await session.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const locks = await observer.query<{ mode: string }>(
      "SELECT mode FROM pg_locks WHERE pid = $1 AND locktype = 'relation' AND relation = $2::regclass AND granted",
      [pid, relation],
    );
    return { modes: locks.rows.map((r) => r.mode).sort(), rewritten: (await filenode(session)) !== before };
  } finally {
    await session.query("ROLLBACK");
  }
}

describe("long-lock on a table that already exists, as PostgreSQL runs it", () => {
  it.each([
    ["CREATE INDEX i ON t (a)", "t", false],
    ["ALTER TABLE t ALTER COLUMN id TYPE bigint", "t", true],
    ["ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()", "t", true],
    ["ALTER TABLE t ADD COLUMN c serial", "t", true],
    ["ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", "t", false],
    ["ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)", "t", false],
    ["ALTER TABLE t ADD CONSTRAINT k UNIQUE (a, id)", "t", false],
    ["ALTER TABLE t ALTER COLUMN a SET NOT NULL", "t", false],
    ["REFRESH MATERIALIZED VIEW v", "v", true],
    ["LOCK TABLE t", "t", false],
    ["CLUSTER t USING t_pkey", "t", true],
    ["ALTER TABLE t SET UNLOGGED", "t", true],
    ["REINDEX TABLE t", "t", false],
  ])("%s: the guard says long-lock, and it blocks writes until commit", async (sql, relation, rewrites) => {
    expect(isLongLock(`${sql};`)).toBe(true);
    const held = await inTransaction(sql, relation);
    expect(held.modes.filter((m) => BLOCKS_WRITES.includes(m))).not.toEqual([]);
    expect(held.rewritten).toBe(rewrites);
  });

  it("VACUUM FULL (outside a transaction, as it must run) rewrites the table", async () => {
    expect(isLongLock("-- atlas:txmode none\n\nVACUUM FULL t;")).toBe(true);
    const filenode = async () =>
      (await session.query<{ f: string }>("SELECT pg_relation_filenode('t')::text AS f")).rows[0].f;
    const before = await filenode();
    await session.query("VACUUM FULL t");
    expect(await filenode()).not.toBe(before);
  });
});

describe("the safe forms, as PostgreSQL runs them", () => {
  it.each([
    // A stable default is stored once in the catalog: no rewrite, no scan.
    ["ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()", "t", ["AccessExclusiveLock"]],
    ["ALTER TABLE t ADD COLUMN c text DEFAULT 'x'", "t", ["AccessExclusiveLock"]],
    // squawk's adding-field-with-default flags these; PostgreSQL evaluates them once.
    ["ALTER TABLE t ADD COLUMN c jsonb DEFAULT jsonb_build_object('a', 1)", "t", ["AccessExclusiveLock"]],
    ["ALTER TABLE t ADD COLUMN c text DEFAULT current_setting('application_name')", "t", ["AccessExclusiveLock"]],
    ["LOCK TABLE t IN ACCESS SHARE MODE", "t", ["AccessShareLock"]],
  ])("%s: none of the classes, no rewrite; locks %j", async (sql, relation, modes) => {
    expect(findRisks([migration(`${sql};`)])).toEqual([]);
    const held = await inTransaction(sql, relation);
    expect(held.rewritten).toBe(false);
    expect(held.modes).toEqual(modes);
  });

  it("REFRESH MATERIALIZED VIEW CONCURRENTLY lets the view's readers through (no AccessExclusiveLock)", async () => {
    expect(findRisks([migration("REFRESH MATERIALIZED VIEW CONCURRENTLY v;")])).toEqual([]);
    const held = await inTransaction("REFRESH MATERIALIZED VIEW CONCURRENTLY v", "v");
    expect(held.modes).toContain("ExclusiveLock");
    expect(held.modes).not.toContain("AccessExclusiveLock");
    const blocking = await inTransaction("REFRESH MATERIALIZED VIEW v", "v");
    expect(blocking.modes).toContain("AccessExclusiveLock");
  });

  it("ADD CONSTRAINT ... NOT VALID does not scan the table; VALIDATE CONSTRAINT then lets writes through", async () => {
    expect(isLongLock("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;")).toBe(false);
    expect(isLongLock("ALTER TABLE t VALIDATE CONSTRAINT c;")).toBe(false);
    await session.query("BEGIN");
    try {
      // A row that breaks the constraint: a scan would fail the statement.
      await session.query("UPDATE t SET a = -1 WHERE id = 1");
      await session.query("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID");
    } finally {
      await session.query("ROLLBACK");
    }
    await session.query("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID");
    await session.query("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID");
    try {
      for (const name of ["c", "f"]) {
        const held = await inTransaction(`ALTER TABLE t VALIDATE CONSTRAINT ${name}`, "t");
        expect(held.modes.filter((m) => BLOCKS_WRITES.includes(m))).toEqual([]);
        expect(held.modes).toContain("ShareUpdateExclusiveLock");
      }
    } finally {
      await session.query("ALTER TABLE t DROP CONSTRAINT c, DROP CONSTRAINT f");
    }
  });

  it("CREATE INDEX CONCURRENTLY is none of them, and needs a file Atlas runs outside a transaction", async () => {
    expect(findRisks([migration("-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY i ON t (a);")])).toEqual([]);
    await session.query("BEGIN");
    await expect(session.query("CREATE INDEX CONCURRENTLY i ON t (a)")).rejects.toThrow(
      "CREATE INDEX CONCURRENTLY cannot run inside a transaction block",
    );
    await session.query("ROLLBACK");
    await session.query("CREATE INDEX CONCURRENTLY i ON t (a)");
    await session.query("DROP INDEX i");
  });

  it("a table created earlier in the run is not long-lock: it has no rows and no traffic", () => {
    expect(findRisks([migration("CREATE TABLE n (a int);\nCREATE INDEX n_a ON n (a);\nLOCK TABLE n;\n")])).toEqual([]);
  });
});
