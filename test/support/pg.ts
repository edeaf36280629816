/** Helpers for integration tests that need the test bed's private PostgreSQL
 * (scripts/pg.sh up; scripts/env.sh exports TESTBED_PG_URL, a superuser URL). */
import { randomBytes } from "crypto";
import { Client } from "pg";

/** The superuser URL of the test bed's PostgreSQL. */
export function adminUrl(): string {
  const url = process.env.TESTBED_PG_URL;
  if (!url) {
    throw new Error("TESTBED_PG_URL is not set: start PostgreSQL with scripts/pg.sh up, then source scripts/env.sh");
  }
  return url;
}

/** Runs one SQL text (several statements are allowed when there are no params) on a fresh
 * connection and returns the rows of the last statement. */
export async function query<R extends Record<string, unknown> = Record<string, unknown>>(
  url: string,
  sql: string,
  params?: readonly unknown[],
): Promise<R[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(sql, params ? [...params] : undefined);
    // A multi-statement text yields one result per statement.
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return (last?.rows ?? []) as R[];
  } finally {
    await client.end();
  }
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
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, "_")
      .slice(0, 40) || "t";
  const name = `${clean}_${randomBytes(5).toString("hex")}`;
  await query(admin, `CREATE DATABASE "${name}" ENCODING 'UTF8' TEMPLATE template0`);
  return {
    name,
    url: urlForDatabase(admin, name),
    drop: async () => {
      await query(admin, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
