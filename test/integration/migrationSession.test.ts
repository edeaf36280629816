import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { loadMigrationDir, MigrationDir, writeSumFile } from "../../lib/migration/dir";
import { MIGRATION_APPLICATION_NAME } from "../../lib/migration/run";
import { runInput, runMigrationJob } from "../support/atlasJob";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";

/**
 * The migration session's settings (lock_timeout, statement_timeout,
 * client_connection_check_interval), passed in the Job's URL, with the real Atlas (lib/pq)
 * against the real PostgreSQL: a migration cannot stall the API's queries, and the server
 * cleans up after a dead pod.
 */

jest.setTimeout(120_000);

const REPO = loadMigrationDir(path.join(__dirname, "../../migrations"));

function dirPlus(extra: Record<string, string>): MigrationDir {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "migrations-"));
  for (const f of REPO.files) fs.writeFileSync(path.join(tmp, f.name), f.bytes);
  for (const [name, text] of Object.entries(extra)) fs.writeFileSync(path.join(tmp, name), text);
  writeSumFile(tmp);
  return loadMigrationDir(tmp);
}

/** The migration's backends and the advisory locks held in the database. */
async function leftovers(db: TestDatabase) {
  const [row] = await query<{ backends: number; locks: number }>(
    db.url,
    `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1) AS backends,
            (SELECT count(*)::int FROM pg_locks l JOIN pg_database d ON d.oid = l.database
              WHERE l.locktype = 'advisory' AND d.datname = current_database()) AS locks`,
    [MIGRATION_APPLICATION_NAME],
  );
  return row;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}

let db: TestDatabase;
beforeEach(async () => {
  db = await createDatabase("session");
  const first = await runMigrationJob(REPO, runInput(REPO), db.url);
  expect(first.code).toBe(0);
});
afterEach(async () => {
  await db.drop();
});

describe("the migration session", () => {
  it("lock_timeout: DDL behind a long transaction fails fast instead of queueing the API's queries", async () => {
    const dir = dirPlus({ "20270101000000_tags.sql": "ALTER TABLE software ADD COLUMN tags text;\n" });
    const longTransaction = new Client({ connectionString: db.url });
    await longTransaction.connect();
    await longTransaction.query("BEGIN");
    await longTransaction.query("SELECT count(*) FROM software");
    // Without lock_timeout the ALTER would wait for this transaction, which ends after 40 s.
    const release = setTimeout(() => void longTransaction.query("COMMIT"), 40_000);
    try {
      const start = Date.now();
      const run = await runMigrationJob(dir, runInput(dir, { postgresLockTimeout: "2s" }), db.url);
      const seconds = (Date.now() - start) / 1000;
      expect(run.output).toContain("canceling statement due to lock timeout");
      expect(run.code).not.toBe(0);
      expect(seconds).toBeLessThan(15);
      // The file's transaction was rolled back: the API's table is untouched and readable.
      expect(await query(db.url, "SELECT count(*)::int AS n FROM software")).toEqual([{ n: 0 }]);
    } finally {
      clearTimeout(release);
      await longTransaction.end();
    }
  });

  it("client_connection_check_interval: when the pod dies mid-statement, the server ends it and frees the lock", async () => {
    const dir = dirPlus({ "20270101000000_sleep.sql": "SELECT pg_sleep(10000);\n" });
    const kill = new AbortController();
    const running = runMigrationJob(dir, runInput(dir, { deadlineSeconds: 60 }), db.url, { signal: kill.signal });
    await waitFor(
      "the migration's pg_sleep and its advisory lock",
      async () => {
        const [row] = await query<{ n: number }>(
          db.url,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query LIKE '%pg_sleep%'",
          [MIGRATION_APPLICATION_NAME],
        );
        return row.n === 1 && (await leftovers(db)).locks > 0;
      },
      20_000,
    );
    kill.abort();
    await running;
    const ms = await waitFor(
      "no backend and no advisory lock",
      async () => {
        const left = await leftovers(db);
        return left.backends === 0 && left.locks === 0;
      },
      10_000,
    );
    expect(ms).toBeLessThan(10_000);
  });

  it("statement_timeout: a statement ends before the Job's deadline, with PostgreSQL's reason", async () => {
    const dir = dirPlus({ "20270101000000_sleep.sql": "SELECT pg_sleep(10000);\n" });
    const start = Date.now();
    // A deadline below what the config accepts (30 s), to wait 5 s instead of 25: the margin
    // (deadline - 5 s) is what is under test.
    const run = await runMigrationJob(dir, runInput(dir, { deadlineSeconds: 10 }), db.url);
    const seconds = (Date.now() - start) / 1000;
    expect(run.output).toContain("canceling statement due to statement timeout");
    expect(run.code).not.toBe(0);
    expect(seconds).toBeGreaterThanOrEqual(5);
    expect(seconds).toBeLessThan(10);
    expect(await leftovers(db)).toEqual({ backends: 0, locks: 0 });
  });
});
