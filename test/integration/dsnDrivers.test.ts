import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { readDatabaseState } from "../../lib/database/state";
import { dsnToUrl, DsnError } from "../../lib/database/dsn";
import { adminUrl, query } from "../../testbed/pg";
import { buildDrivers, connectThrough, Driver, DRIVER_NAMES, Session } from "../support/pgDrivers";

/**
 * databaseDsn against the drivers that really connect (testbed/probes/pgdrivers: lib/pq as
 * production's Atlas and the test bed's link it, pgx as the API opens it) and against libpq
 * itself (psql), the owner of the keyword=value grammar: what we accept reaches the same role
 * and database in every one of them; what we refuse is where they disagree or would print a
 * credential, shown here on the drivers themselves. DSNs go on psql's argv: test values only.
 */

jest.setTimeout(120_000);

const suffix = `${process.pid}`;
const ROLE = `dsn_drivers_${suffix}`;
const PASSWORD = `pw-${suffix}`;
const DB = `dsn_drivers_${suffix}`;
// A non-breaking space: libpq reads it as part of an unquoted value.
const NBSP_DB = `nb\u00a0sp_${suffix}`;
let host: string;
let port: string;
let socketDir: string;

const runFile = promisify(execFile);

/** libpq, through psql: the session a keyword=value string reaches, or libpq's error. */
async function viaLibpq(dsn: string): Promise<Session> {
  const versions = fs.readdirSync("/usr/lib/postgresql").sort((a, b) => Number(a) - Number(b));
  const psql = path.join("/usr/lib/postgresql", versions[versions.length - 1], "bin", "psql");
  try {
    const { stdout } = await runFile(psql, [
      "-X",
      "-A",
      "-t",
      "-F",
      " ",
      "-c",
      "SELECT current_user, current_database()",
      dsn,
    ]);
    const [user, database] = stdout.trim().split(" ");
    return { ok: true, user, database, ssl: false };
  } catch (err) {
    return { ok: false, ssl: false, error: (err as { stderr?: string }).stderr ?? String(err) };
  }
}

async function everyDriver(dsn: string): Promise<Record<Driver, Session>> {
  const sessions = await Promise.all(DRIVER_NAMES.map((d) => connectThrough(d, [dsn]).then(([s]) => s)));
  return Object.fromEntries(DRIVER_NAMES.map((d, i) => [d, sessions[i]])) as Record<Driver, Session>;
}

const reached = (s: Session) => (s.ok ? { user: s.user, database: s.database } : { error: s.error });

beforeAll(async () => {
  const admin = new URL(adminUrl());
  host = admin.hostname;
  port = admin.port;
  const [{ dir }] = await query<{ dir: string }>(
    adminUrl(),
    "SELECT split_part(current_setting('unix_socket_directories'), ',', 1) AS dir",
  );
  socketDir = dir;
  await query(adminUrl(), `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await query(adminUrl(), `CREATE DATABASE ${DB} OWNER ${ROLE}`);
  await query(adminUrl(), `CREATE DATABASE "/${DB}" OWNER ${ROLE}`);
  await query(adminUrl(), `CREATE DATABASE "${NBSP_DB}" OWNER ${ROLE}`);
  await buildDrivers();
}, 600_000);
afterAll(async () => {
  await query(adminUrl(), `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await query(adminUrl(), `DROP DATABASE IF EXISTS "/${DB}" WITH (FORCE)`);
  await query(adminUrl(), `DROP DATABASE IF EXISTS "${NBSP_DB}" WITH (FORCE)`);
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ROLE}`);
});

describe("what databaseDsn accepts reaches the same role and database in libpq, lib/pq and pgx", () => {
  it("a non-breaking space in an unquoted value is part of it, as libpq reads it", async () => {
    const dsn = `host=${host} port=${port} user=${ROLE} password=${PASSWORD} dbname=${NBSP_DB} sslmode=disable`;
    const want = { user: ROLE, database: NBSP_DB };
    expect(reached(await viaLibpq(dsn))).toEqual(want);
    const url = dsnToUrl(dsn);
    for (const [driver, session] of Object.entries(await everyDriver(url))) {
      expect({ driver, ...reached(session) }).toEqual({ driver, ...want });
    }
  });

  it("a unix-socket host with the default sslmode (require): every driver and the preflight connect in plain text", async () => {
    const dsn = `host=${socketDir} port=${port} user=${ROLE} dbname=${DB}`;
    const url = dsnToUrl(dsn);
    expect(url).toContain("sslmode=require");
    expect(reached(await viaLibpq(dsn))).toEqual({ user: ROLE, database: DB });
    for (const [driver, session] of Object.entries(await everyDriver(url))) {
      expect({ driver, ...reached(session), ssl: session.ssl }).toEqual({
        driver,
        user: ROLE,
        database: DB,
        ssl: false,
      });
    }
    await expect(readDatabaseState(url)).resolves.toEqual({
      revisions: [],
      notCleanReason: undefined,
      schema: { tables: {}, indexes: [] },
      invalidIndexes: [],
    });
  });

  it("an IPv6 host without a port: lib/pq cannot split [::1] alone, so the URL names the default port", async () => {
    const raw = await everyDriver(`postgres://${ROLE}@[::1]/${DB}?sslmode=disable`);
    expect(raw["lib/pq 1.12.0"].error).toContain("missing port in address");
    expect(raw["lib/pq 1.10.7"].error).toContain("missing port in address");
    const ours = await everyDriver(dsnToUrl(`host=::1 user=${ROLE} dbname=${DB} sslmode=disable`));
    for (const [driver, session] of Object.entries(ours)) {
      // Nothing listens on [::1] here: each driver got as far as dialling it.
      expect({ driver, error: session.error }).toEqual({
        driver,
        error: expect.stringMatching(/\[::1\]:5432|::1.*5432/),
      });
      expect(session.error).not.toContain("missing port");
    }
  });
});

describe("what databaseDsn refuses, where the drivers disagree or would print a credential", () => {
  it("a database path starting with / (%2F): lib/pq opens /name, pgx opens name", async () => {
    const raw = `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@${host}:${port}/%2F${DB}?sslmode=disable`;
    const sessions = await everyDriver(raw);
    expect(reached(sessions["lib/pq 1.12.0"])).toEqual({ user: ROLE, database: `/${DB}` });
    expect(reached(sessions["lib/pq 1.10.7"])).toEqual({ user: ROLE, database: `/${DB}` });
    expect(reached(sessions["pgx 5.10.0"])).toEqual({ user: ROLE, database: DB });
    expect(() => dsnToUrl(raw)).toThrow('dbname starts with "/"');
  });

  it("a password with a raw /: every driver takes the rest for the database and prints it; refused unquoted", async () => {
    const secret = "Zq7secret";
    // As postgres://app:2024/<secret>@db.example.com/api reads, with the host here and a login
    // in the query, so the server gets as far as naming the database.
    const raw = `postgres://${host}:${port}/${secret}@db.example.com/api?user=${ROLE}&password=${PASSWORD}&sslmode=disable`;
    for (const [driver, session] of Object.entries(await everyDriver(raw))) {
      expect({ driver, error: session.error }).toEqual({
        driver,
        error: expect.stringContaining(`${secret}@db.example.com/api`),
      });
    }
    expect(() => dsnToUrl(raw)).toThrow(DsnError);
    expect(() => dsnToUrl(raw)).toThrow('dbname contains "@"');
    expect(() => dsnToUrl(raw)).not.toThrow(secret);
  });

  it("an empty user: every driver logs in as the operating system's user instead; refused", async () => {
    const raw = `postgres://:${encodeURIComponent(PASSWORD)}@${host}:${port}/${DB}?sslmode=disable`;
    const osUser = os.userInfo().username;
    for (const [driver, session] of Object.entries(await everyDriver(raw))) {
      expect({ driver, error: session.error }).toEqual({ driver, error: expect.stringContaining(`"${osUser}"`) });
    }
    expect(() => dsnToUrl(raw)).toThrow("user is empty");
  });

  it("a trailing backslash: libpq drops it and logs in; refused rather than kept in the password", async () => {
    const dsn = `host=${host} port=${port} user=${ROLE} dbname=${DB} sslmode=disable password=${PASSWORD}\\`;
    expect(reached(await viaLibpq(dsn))).toEqual({ user: ROLE, database: DB });
    expect(() => dsnToUrl(dsn)).toThrow("ends with a backslash that escapes nothing");
  });
});
