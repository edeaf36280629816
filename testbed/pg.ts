/** Helpers for integration tests that need a private PostgreSQL of the test bed:
 * Debian's (scripts/pg.sh up; TESTBED_PG_URL) or one of today's majors
 * (scripts/pg-matrix.sh up; TESTBED_PG_URL_<major>). scripts/env.sh exports both;
 * each is a superuser URL. */
import { randomBytes } from "crypto";
import { Pool } from "pg";

/**
 * The PostgreSQL major a suite runs on: the jest project's global TESTBED_PG_MAJOR (the
 * integration-pg<major> projects of jest.config.js), else the environment variable of that
 * name; undefined means Debian's server, whatever its major.
 */
export function pgMajor(): string | undefined {
  const fromProject = (globalThis as { TESTBED_PG_MAJOR?: unknown }).TESTBED_PG_MAJOR;
  const major = typeof fromProject === "string" && fromProject !== "" ? fromProject : process.env.TESTBED_PG_MAJOR;
  if (major === undefined || major === "") return undefined;
  if (!/^[1-9][0-9]*$/.test(major)) {
    throw new Error(
      `TESTBED_PG_MAJOR is "${major}": set it to a PostgreSQL major such as 17, or unset it for Debian's server`,
    );
  }
  return major;
}

/** The superuser URL of the PostgreSQL that pgMajor() names. A major without a server of
 * its own (TESTBED_PG_URL_<major>) falls back to Debian's, which createDatabase then checks
 * really is that major. */
export function adminUrl(): string {
  const major = pgMajor();
  const url = (major && process.env[`TESTBED_PG_URL_${major}`]) || process.env.TESTBED_PG_URL;
  if (!url) {
    throw new Error(
      major
        ? `TESTBED_PG_MAJOR=${major} but neither TESTBED_PG_URL_${major} nor TESTBED_PG_URL is set: start it with scripts/pg-matrix.sh up ${major} (or scripts/pg.sh up for Debian's), then source scripts/env.sh`
        : "TESTBED_PG_URL is not set: start PostgreSQL with scripts/pg.sh up, then source scripts/env.sh",
    );
  }
  return url;
}

const checkedServers = new Map<string, Promise<string>>();

/** The server's version (e.g. "17.10"), read once per URL. Throws when TESTBED_PG_MAJOR
 * names another major, so a suite never passes on a PostgreSQL it was not asked to run on. */
export function serverVersion(url: string = adminUrl()): Promise<string> {
  let checked = checkedServers.get(url);
  if (!checked) {
    checked = (async () => {
      const [row] = await query<{ server_version: string }>(url, "SHOW server_version");
      const version = row.server_version.split(" ")[0];
      const major = pgMajor();
      if (major && version.split(".")[0] !== major) {
        throw new Error(
          `TESTBED_PG_MAJOR=${major} but the server is PostgreSQL ${version}: start ${major} with scripts/pg-matrix.sh up ${major}, then source scripts/env.sh`,
        );
      }
      return version;
    })();
    checkedServers.set(url, checked);
  }
  return checked;
}

/**
 * One small pool per URL for this test file's queries. A connection costs PostgreSQL 20-30 ms
 * of CPU here (a backend process, SCRAM); with a connection per query, an npm test started
 * 865-905 PostgreSQL processes, with pools 520-527. Idle connections close after 5 s and never
 * keep the process alive; a database's pool ends before the database is dropped. Sessions are
 * shared: a query must not leave session state behind (SET, an open transaction, a session
 * lock): use a Client of its own.
 */
const pools = new Map<string, Pool>();

function poolFor(url: string): Pool {
  let pool = pools.get(url);
  if (!pool) {
    pool = new Pool({ connectionString: url, max: 2, idleTimeoutMillis: 5000, allowExitOnIdle: true });
    // An idle connection the server ended (a database dropped WITH (FORCE), a restart): the
    // pool discards it and the next query opens another.
    pool.on("error", () => undefined);
    pools.set(url, pool);
  }
  return pool;
}

async function endPool(url: string): Promise<void> {
  const pool = pools.get(url);
  pools.delete(url);
  await pool?.end();
}

/** Runs one SQL text (several statements are allowed when there are no params) and returns
 * the rows of the last statement. */
export async function query<R extends Record<string, unknown> = Record<string, unknown>>(
  url: string,
  sql: string,
  params?: readonly unknown[],
): Promise<R[]> {
  const result: unknown = await poolFor(url).query(sql, params ? [...params] : undefined);
  // A multi-statement text yields one result per statement.
  const last = (Array.isArray(result) ? result[result.length - 1] : result) as { rows?: R[] } | undefined;
  return last?.rows ?? [];
}

export interface TestDatabase {
  readonly name: string;
  /** The admin URL pointed at this database. */
  readonly url: string;
  /** Drops the database, ending any session still connected to it. */
  drop(): Promise<void>;
}

/** The same URL with another database name (the path), every other part kept. */
export function urlForDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

/** Creates an empty UTF8 database named `<prefix>_<random>` (lower case, [a-z0-9_]). */
export async function createDatabase(prefix: string): Promise<TestDatabase> {
  const admin = adminUrl();
  await serverVersion(admin);
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, "_")
      .slice(0, 40) || "t";
  const name = `${clean}_${randomBytes(5).toString("hex")}`;
  // FILE_COPY: copies template0's few files instead of writing them all through the WAL
  // (PostgreSQL 15+'s default), 0.14 s instead of 0.3 s here; npm test creates about 60.
  await query(admin, `CREATE DATABASE "${name}" ENCODING 'UTF8' TEMPLATE template0 STRATEGY FILE_COPY`);
  const url = urlForDatabase(admin, name);
  return {
    name,
    url,
    drop: async () => {
      await endPool(url);
      await query(admin, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** createDatabase for one test file: every database it made is dropped after each test. */
export function databasesDroppedAfterEach(): (prefix: string) => Promise<TestDatabase> {
  let databases: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(databases.map((d) => d.drop()));
    databases = [];
  });
  return async (prefix) => {
    const db = await createDatabase(prefix);
    databases.push(db);
    return db;
  };
}
