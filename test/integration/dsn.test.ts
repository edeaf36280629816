import * as path from "path";
import { readDatabaseState } from "../../lib/database/state";
import { dsnToUrl, DsnError, PASSED_SERVER_SETTINGS } from "../../lib/database/dsn";
import { atlasMigrateStatus } from "../support/atlasStatus";
import { adminUrl, createDatabase, query, TestDatabase } from "../../testbed/pg";

/**
 * What databaseDsn becomes, against the real Atlas and the test bed's PostgreSQL: the URL
 * reaches Atlas intact whatever the password holds, and what Atlas would reject (printing
 * the password) or fail on only inside the Job is refused at preview, without the value.
 */

jest.setTimeout(120_000);

const REPO_MIGRATIONS = path.join(__dirname, "../../migrations");
const status = (url: string) => atlasMigrateStatus(url, REPO_MIGRATIONS);
// Every character the URL parsers (WHATWG, Go's net/url, libpq) read differently.
const PASSWORD = `ab%zz #1+2;@/?'"\\ é:&=[]`;
const ROLE = `dsn_app_${process.pid}`;
let db: TestDatabase;
let host: string;
let port: string;

beforeAll(async () => {
  const admin = new URL(adminUrl());
  host = admin.hostname;
  port = admin.port;
  db = await createDatabase("dsn");
  await query(adminUrl(), `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
});
afterAll(async () => {
  await db?.drop();
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ROLE}`);
});

const kvQuote = (v: string) => `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

describe("databaseDsn against the real Atlas", () => {
  it.each([
    [
      "keyword=value",
      () => `host=${host} port=${port} dbname=${db.name} user=${ROLE} password=${kvQuote(PASSWORD)} sslmode=disable`,
    ],
    ["URL", () => `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@${host}:${port}/${db.name}?sslmode=disable`],
  ])("%s: a password with every contested character reaches Atlas and the preflight intact", async (_form, dsn) => {
    const url = dsnToUrl(dsn());
    const atlas = await status(url);
    expect(atlas.output).not.toContain("ab%zz");
    expect(atlas.ok).toBe(true);
    await expect(readDatabaseState(url)).resolves.toEqual({
      revisions: [],
      notCleanReason: undefined,
      schema: { tables: {}, indexes: [] },
      invalidIndexes: [],
    });
  });

  it.each([
    [
      "an invalid percent escape",
      (pw: string) => `${pw}%zz`,
      'the URL\'s password has a "%" that is not followed by two hex digits',
    ],
    ["a raw space", (pw: string) => `${pw} x`, "the URL's password contains a character that must be percent-encoded"],
    [
      "a raw double quote",
      (pw: string) => `${pw}"x`,
      "the URL's password contains a character that must be percent-encoded",
    ],
  ])(
    "a URL whose password has %s: Atlas rejects it and prints the password; refused at preview without it",
    async (_what, password, message) => {
      const secret = "Zq7secretZq7";
      const raw = `postgres://${ROLE}:${password(secret)}@${host}:${port}/${db.name}?sslmode=disable`;
      // Node's own URL parser accepts it: the old code passed it through to the Job.
      expect(() => new URL(raw)).not.toThrow();
      const atlas = await status(raw);
      expect(atlas.ok).toBe(false);
      expect(atlas.output).toContain(secret);
      expect(() => dsnToUrl(raw)).toThrow(DsnError);
      expect(() => dsnToUrl(raw)).toThrow(message);
      try {
        dsnToUrl(raw);
      } catch (err) {
        expect((err as Error).message).not.toContain("Zq7");
      }
    },
  );

  it.each([
    [
      "several hosts",
      () => `postgres://${ROLE}@${host}:${port},${host}:${port}/${db.name}?sslmode=disable`,
      () => `host=${host},${host} port=${port},${port} dbname=${db.name} user=${ROLE} sslmode=disable`,
      /host lists several hosts/,
    ],
    [
      "target_session_attrs",
      () => `postgres://${ROLE}@${host}:${port}/${db.name}?sslmode=disable&target_session_attrs=read-write`,
      () => `host=${host} port=${port} dbname=${db.name} user=${ROLE} sslmode=disable target_session_attrs=read-write`,
      /^target_session_attrs only matters with several hosts/,
    ],
    [
      "a keyword typo (Host)",
      () => `postgres://${ROLE}@${host}:${port}/${db.name}?sslmode=disable&Host=${host}`,
      () => `Host=${host} port=${port} dbname=${db.name} user=${ROLE} sslmode=disable`,
      /keywords are lower case \(did you mean host\?\)/,
    ],
  ])("%s: Atlas fails only when the Job runs; refused at preview", async (_what, urlAtlasWouldGet, dsn, message) => {
    const atlas = await status(urlAtlasWouldGet());
    expect(atlas.ok).toBe(false);
    expect(() => dsnToUrl(dsn())).toThrow(message);
  });

  it("passes on only real PostgreSQL settings, and Atlas connects with them", async () => {
    const names = await query<{ name: string }>(
      adminUrl(),
      "SELECT lower(name) AS name FROM pg_settings WHERE lower(name) = ANY($1)",
      [[...PASSED_SERVER_SETTINGS]],
    );
    expect(names.map((r) => r.name).sort()).toEqual([...PASSED_SERVER_SETTINGS].sort());
    const url = dsnToUrl(
      `host=${host} port=${port} dbname=${db.name} user=${ROLE} password=${kvQuote(PASSWORD)} sslmode=disable ` +
        "lock_timeout=5s statement_timeout=60s application_name=dia options='-c work_mem=8MB' timezone=UTC",
    );
    const atlas = await status(url);
    expect(atlas.output).toMatch(/Migration Status: PENDING/);
    expect(atlas.ok).toBe(true);
  });
});
