/**
 * The online preflight on the useExistingSecret path, on a real PostgreSQL (issue 27): the
 * Secret's URL is never seen, so the preflight reads the database through
 * MIGRATION_PREFLIGHT_DATABASE_URL, here a role that may only read. With it, a baseline of the
 * wrong release is refused naming the right one, the right one is accepted, nothing is
 * written, and a URL of another database is refused before anything is read.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { databaseIdentity } from "../../lib/database/state";
import { planDeploy } from "../../lib/deploy/plan";
import { PREFLIGHT_URL_ENV } from "../../lib/deploy/preflightUrl";
import { loadMigrationDir } from "../../lib/migration/dir";
import { PreflightError } from "../../lib/migration/preflight";
import { adminUrl, createDatabase, query, TestDatabase } from "../../testbed/pg";
import { specOf } from "../support/apiArgs";

const ROOT = path.resolve(__dirname, "../..");
const dir = loadMigrationDir(path.join(ROOT, "migrations"));
const V2 = "20260410000000";
const V3 = "20260508000000";

let db: TestDatabase;
let other: TestDatabase;
const role = `preflight_reader_${randomBytes(4).toString("hex")}`;
const password = `r3ad-${randomBytes(8).toString("hex")}`;
let readerUrl: string;
let address: string;

/** A URL of `database` for the read-only role. */
function readerOf(database: TestDatabase): string {
  const u = new URL(database.url);
  u.username = role;
  u.password = password;
  return u.toString();
}

beforeAll(async () => {
  db = await createDatabase("pfurl");
  other = await createDatabase("pfurl_other");
  // What GORM AutoMigrate of v1.1.0 then v1.2.0 built (baseline 20260410000000 in migrations/README.md).
  await query(db.url, fs.readFileSync(path.join(ROOT, "test/fixtures/gorm-v1.2.0.sql"), "utf8"));
  await query(adminUrl(), `CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE pg_read_all_data`);
  readerUrl = readerOf(db);
  const u = new URL(db.url);
  address = `postgres://${u.host}/${db.name}`;
});

afterAll(async () => {
  await db?.drop();
  await other?.drop();
  await query(adminUrl(), `DROP ROLE IF EXISTS ${role}`);
});

const plan = (baseline: string, url: string | undefined) =>
  planDeploy({
    stack: "prod",
    spec: specOf({
      useExistingSecret: "api-db",
      existingSecretDatabase: address,
      migrationPreflight: "online",
      migrationBaseline: baseline,
    }),
    dir,
    applied: { deployed: false },
    preflightDatabaseUrl: url,
  });

async function refusal(baseline: string, url: string | undefined): Promise<string> {
  const err = await plan(baseline, url).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PreflightError);
  return (err as PreflightError).message;
}

it("the role only reads: it cannot write to the database it plans from", async () => {
  await expect(query(readerUrl, "CREATE TABLE preflight_probe (id int)")).rejects.toThrow("permission denied");
});

it("refuses the baseline of another release, naming the right one, through the read-only URL", async () => {
  const message = await refusal(V3, readerUrl);
  expect(message).toContain(`migrationBaseline ${V3} does not match the database: it lacks column catalogs.scopes`);
  expect(message).toContain(`The database has the schema of ${V2}: pulumi config set migrationBaseline ${V2}`);
  expect(message).not.toContain(password);
});

it("accepts the right baseline: recorded, not run, and the files after it pending; nothing written", async () => {
  const deploy = await plan(V2, readerUrl);
  expect(deploy.run.baselineToWrite).toBe(V2);
  expect(deploy.run.pending.map((f) => f.version)).toEqual(
    dir.files.filter((f) => f.version > V2).map((f) => f.version),
  );
  expect(deploy.run.basis).toBe(`read from the database at ${new URL(db.url).host}/${db.name}`);
  // The Job's identity is the configured database's, the same as the URL the preflight read.
  expect(deploy.migration.input.databaseIdentity).toBe(databaseIdentity(address));
  expect(JSON.stringify(deploy.report)).not.toContain(password);
  expect(await query(db.url, "SELECT to_regclass('atlas_schema_revisions.atlas_schema_revisions') AS t")).toEqual([
    { t: null },
  ]);
});

it("refuses a URL of another database than the Job's, naming both", async () => {
  const message = await refusal(V2, readerOf(other));
  const host = new URL(db.url).host;
  expect(message).toContain(
    `${PREFLIGHT_URL_ENV} names ${host}/${other.name}, but the migration Job migrates ${host}/${db.name}`,
  );
  expect(message).not.toContain(password);
});

it("a URL it cannot connect with is named as the variable, not databaseDsn, and its password is not shown", async () => {
  const u = new URL(readerUrl);
  u.password = "wr0ng-passw0rd";
  const err = await plan(V2, u.toString()).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err?.message).toContain(`cannot connect to the database at ${u.host}/${db.name} (sslmode=disable)`);
  expect(err?.message).toContain(`password authentication failed for user "${role}"`);
  expect(err?.message).toContain(`check ${PREFLIGHT_URL_ENV}, or set migrationPreflight to offline`);
  expect(err?.message).not.toContain("wr0ng-passw0rd");
});

it("without the variable, refused with how to give it", async () => {
  expect(await refusal(V2, undefined)).toContain(`${PREFLIGHT_URL_ENV}, which is not set`);
});
