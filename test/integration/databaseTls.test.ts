import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { DatabaseUnreachableError, pgConnectionConfig, readDatabaseState } from "../../lib/database/state";
import { DATABASE_CA_PATH } from "../../lib/database/tls";
import { formatUrl, parseOwnUrl, urlParam, withParams } from "../../lib/database/dsn";
import { loadMigrationDir } from "../../lib/migration/dir";
import { readSpec } from "../../lib/config/readSpec";
import { ApiSpec } from "../../lib/spec";
import { runInput, runMigrationJob } from "../support/atlasJob";
import { atlasMigrateStatus } from "../support/atlasStatus";
import { Ca, certDir, makeCa, makeServerCert } from "../support/certs";
import { buildDrivers, connectThrough, Driver, DRIVER_NAMES } from "../support/pgDrivers";
import { startTlsPostgres, TlsPostgres } from "../support/tlsPostgres";

/**
 * The online preflight, the test bed's Atlas (linking production's lib/pq 1.12.0) and the
 * drivers themselves (testbed/probes/pgdrivers), given the same settings, against a real
 * PostgreSQL with TLS on and a CA made here: the preflight connects exactly when production's
 * Atlas driver does; where lib/pq 1.10.7 or the API's pgx differ, the table says so. The server's certificate names only IP:127.0.0.1, so "localhost"
 * is a host name the certificate does not carry.
 */

jest.setTimeout(120_000);

const REPO_MIGRATIONS = path.join(__dirname, "../../migrations");
const { dir, cleanup } = certDir();
let ca: Ca;
let wrongCa: Ca;
let pg: TlsPostgres;

beforeAll(async () => {
  ca = makeCa(dir, "db-ca");
  wrongCa = makeCa(dir, "other-ca");
  pg = await startTlsPostgres(makeServerCert(dir, ca, "server", "postgres-test", "IP:127.0.0.1"));
}, 120_000);
afterAll(async () => {
  await pg?.stop();
  cleanup();
});

/** What index.ts computes from the stack's config. */
function settingsFor(host: string, sslmode: string, caPem?: string, dbname = "postgres"): ApiSpec {
  const values: Record<string, string | undefined> = {
    databaseDsn: `host=${host} port=${pg.port} dbname=${dbname} user=postgres password='${pg.password}' sslmode=${sslmode}`,
    databaseCaCert: caPem,
  };
  return readSpec({ get: (k) => values[k], isSecret: (k) => k === "databaseDsn" });
}

/**
 * The URL the pods get, with the CA bundle "mounted" here: the same bytes written to a local
 * file, and sslrootcert moved from the pods' mount path to that file (as the Job runner moves
 * /etc/atlas to a scratch folder).
 */
function urlForThisMachine(settings: ApiSpec): string {
  if (settings.database.caCert === undefined) return settings.database.url!;
  expect(urlParam(settings.database.url!, "sslrootcert")).toBe(DATABASE_CA_PATH);
  const file = path.join(dir, `mounted-${Math.random().toString(36).slice(2)}.crt`);
  fs.writeFileSync(file, settings.database.caCert);
  return formatUrl(withParams(parseOwnUrl(settings.database.url!), [["sslrootcert", file]]));
}

const atlasStatus = (url: string) => atlasMigrateStatus(url, REPO_MIGRATIONS);

async function preflight(settings: ApiSpec): Promise<{ ok: boolean; output: string }> {
  try {
    await readDatabaseState(settings.database.url!, { ca: settings.database.caCert, connectTimeoutMs: 10_000 });
    return { ok: true, output: "" };
  } catch (err) {
    expect(err).toBeInstanceOf(DatabaseUnreachableError);
    return { ok: false, output: (err as Error).message };
  }
}

type CaChoice = "none" | "right" | "wrong";
const pemOf = (choice: CaChoice) =>
  choice === "right" ? ca.certPem : choice === "wrong" ? wrongCa.certPem : undefined;

/** Where a driver connects otherwise than production's lib/pq (and so the preflight). */
type Exceptions = Partial<Record<Driver, boolean>>;

/** Every driver's outcome for the URL: true when it connected over TLS, else its error. */
async function driversFor(url: string): Promise<Record<Driver, true | string>> {
  const sessions = await Promise.all(DRIVER_NAMES.map((d) => connectThrough(d, [url]).then(([r]) => r)));
  return Object.fromEntries(
    DRIVER_NAMES.map((d, i) => [d, sessions[i].ok && sessions[i].ssl ? true : (sessions[i].error ?? "no TLS")]),
  ) as Record<Driver, true | string>;
}

describe("sslmode: the online preflight connects exactly when production's Atlas driver does", () => {
  beforeAll(buildDrivers, 600_000);

  it.each<[string, string, CaChoice, boolean, Exceptions?]>([
    ["disable", "127.0.0.1", "none", true],
    // pg-connection-string reads require as verify-full: the old preflight refused these
    ["require", "127.0.0.1", "none", true],
    ["require", "localhost", "none", true],
    // with a CA bundle, require verifies like verify-ca (libpq's rule, kept by lib/pq and pgx)
    ["require", "127.0.0.1", "right", true],
    ["require", "127.0.0.1", "wrong", false],
    ["verify-ca", "127.0.0.1", "right", true],
    ["verify-ca", "127.0.0.1", "wrong", false],
    // no bundle: the system's roots, which do not hold the test CA
    ["verify-ca", "127.0.0.1", "none", false],
    // the chain only: lib/pq 1.10 also checked a host name (against the SNI it sent); 1.11+ and pgx do not
    ["verify-ca", "localhost", "right", true, { "lib/pq 1.10.7": false }],
    ["require", "localhost", "right", true, { "lib/pq 1.10.7": false }],
    ["verify-full", "127.0.0.1", "right", true],
    ["verify-full", "127.0.0.1", "wrong", false],
    ["verify-full", "localhost", "right", false],
    ["verify-full", "127.0.0.1", "none", false],
  ])("sslmode=%s host=%s CA %s: connects %s", async (sslmode, host, caChoice, connects, exceptions = {}) => {
    const settings = settingsFor(host, sslmode, pemOf(caChoice));
    const url = urlForThisMachine(settings);
    const [ours, atlas, drivers] = await Promise.all([preflight(settings), atlasStatus(url), driversFor(url)]);
    const tls = sslmode !== "disable";
    const expected = (driver: Driver) => {
      const ok = exceptions[driver] ?? connects;
      return ok && tls ? true : expect.stringMatching(ok ? /no TLS/ : /x509|tls|certificate/i);
    };
    expect({ preflight: ours.ok, atlas: atlas.ok, atlasOutput: atlas.ok ? "" : atlas.output, drivers }).toEqual({
      preflight: connects,
      atlas: connects,
      atlasOutput: connects ? "" : expect.stringMatching(/x509|tls|certificate/i),
      drivers: Object.fromEntries(DRIVER_NAMES.map((d) => [d, expected(d)])),
    });
    expect(ours.output).not.toContain(pg.password);
    if (!connects) expect(ours.output).toMatch(/^cannot connect to the database at .* \(sslmode=/);
  });

  it("the migration Job's own command applies over verify-full with the mounted CA", async () => {
    const admin = new Client({ ...pgConnectionConfig(settingsFor("127.0.0.1", "require").database.url!) });
    await admin.connect();
    await admin.query("CREATE DATABASE tls_apply");
    await admin.end();
    const target = settingsFor("127.0.0.1", "verify-full", ca.certPem, "tls_apply");
    const migrations = loadMigrationDir(REPO_MIGRATIONS);
    const job = await runMigrationJob(migrations, runInput(migrations), urlForThisMachine(target));
    expect(job.output).not.toContain(pg.password);
    expect(job.code).toBe(0);
    const state = await readDatabaseState(target.database.url!, { ca: target.database.caCert });
    expect(state.revisions.map((r) => r.version)).toEqual(migrations.files.map((f) => f.version));
  });
});

describe("a certificate with only a Common Name", () => {
  beforeAll(async () => {
    await pg.useCertificate(makeServerCert(dir, ca, "cn-only", "localhost"));
  }, 30_000);

  it.each<[string, string, boolean]>([
    // Go has ignored the Common Name since 1.15; Node's default check would accept it.
    ["verify-full", "localhost", false],
    ["verify-ca", "127.0.0.1", true],
  ])("sslmode=%s host=%s: connects %s in the preflight, Atlas and every driver", async (sslmode, host, connects) => {
    const settings = settingsFor(host, sslmode, ca.certPem);
    const url = urlForThisMachine(settings);
    const [ours, atlas, drivers] = await Promise.all([preflight(settings), atlasStatus(url), driversFor(url)]);
    expect({ preflight: ours.ok, atlas: atlas.ok }).toEqual({ preflight: connects, atlas: connects });
    for (const driver of DRIVER_NAMES) {
      expect({ driver, connects: drivers[driver] === true }).toEqual({ driver, connects });
    }
    if (!connects) {
      expect(atlas.output).toContain("legacy Common Name field");
      expect(ours.output).toContain("legacy Common Name field");
    }
  });
});
