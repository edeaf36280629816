import { databaseIdentity } from "../../lib/database/state";
import type { AppliedRecord } from "../../lib/deploy/applied";
import { planDeploy } from "../../lib/deploy/plan";
import { PREFLIGHT_URL_ENV, preflightReadUrl } from "../../lib/deploy/preflightUrl";
import type { DatabaseState } from "../../lib/migration/plan";
import { REVISION_TYPE } from "../../lib/migration/plan";
import { PreflightError, type StateReader } from "../../lib/migration/preflight";
import { specOf } from "../support/apiArgs";
import { certDir, makeCa } from "../support/certs";
import { migrationDir, migrationFile } from "../support/migrationFiles";

/**
 * The online preflight on the useExistingSecret path: it reads the database through the
 * environment's URL (MIGRATION_PREFLIGHT_DATABASE_URL), only once that URL names the database
 * existingSecretDatabase says the Job migrates; the Job's key never depends on that URL.
 */

const files = ["20250909000000", "20260410000000", "20260525000000"].map((v) =>
  migrationFile(v, `CREATE TABLE t${v} (id text);\n`),
);
const dir = migrationDir(files);
const ADDRESS = "postgres://db.internal:5432/api";
const READER = "postgres://reader:r3ad-only@db.internal:5432/api?sslmode=disable";
const existing = (values: Record<string, string> = {}) =>
  specOf({
    namespace: "apps",
    useExistingSecret: "api-db",
    existingSecretDatabase: ADDRESS,
    migrationPreflight: "online",
    ...values,
  });

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(PreflightError);
    return (err as PreflightError).problems.map((p) => `${p.code}: ${p.message}`).join("\n");
  }
  throw new Error("not refused");
}

describe("preflightReadUrl", () => {
  it("is the environment's URL on the useExistingSecret path, a key=value DSN re-encoded as for databaseDsn", () => {
    expect(preflightReadUrl(existing(), READER)).toEqual({ url: READER, name: PREFLIGHT_URL_ENV });
    expect(preflightReadUrl(existing(), "host=DB.internal dbname=api user=reader password=r3ad-only")?.url).toBe(
      "postgres://reader:r3ad-only@DB.internal/api?sslmode=require",
    );
  });

  it("names the mounted CA bundle as databaseDsn's URL does, so the preflight verifies with databaseCaCert", () => {
    const { dir: certs, cleanup } = certDir();
    const pem = makeCa(certs, "ca").certPem;
    cleanup();
    const url = preflightReadUrl(existing({ databaseCaCert: pem }), `${ADDRESS}?sslmode=verify-full`);
    expect(url?.url).toContain("sslrootcert=");
  });

  it("is not used where the preflight reads databaseDsn's URL or reads nothing", () => {
    expect(preflightReadUrl(specOf({ databaseDsn: READER, migrationPreflight: "online" }), READER)).toBeUndefined();
    expect(preflightReadUrl(existing({ migrationPreflight: "offline" }), READER)).toBeUndefined();
    expect(preflightReadUrl(existing({ migrationPreflight: "off" }), undefined)).toBeUndefined();
  });

  it.each([undefined, "", "  "])("without the variable (%j), says how to give it", (given) => {
    expect(refusal(() => preflightReadUrl(existing(), given))).toBe(
      "preflight-url-missing: migrationPreflight online with useExistingSecret (api-db) reads the database through " +
        `${PREFLIGHT_URL_ENV}, which is not set: give it a URL of db.internal:5432/api in the deploy's environment ` +
        `(a role that may only read is enough), e.g. export ${PREFLIGHT_URL_ENV}="$(kubectl get secret api-db -n apps ` +
        `-o jsonpath='{.data.databaseDSN}' | base64 -d)"; or set migrationPreflight to offline`,
    );
  });

  it.each([
    ["another host", "postgres://reader:r3ad-only@db.other:5432/api?sslmode=disable", "db.other:5432/api"],
    ["another port", "postgres://reader:r3ad-only@db.internal:5433/api?sslmode=disable", "db.internal:5433/api"],
    [
      "another database",
      "postgres://reader:r3ad-only@db.internal/api_copy?sslmode=disable",
      "db.internal:5432/api_copy",
    ],
    [
      "another schema",
      "postgres://reader:r3ad-only@db.internal/api?sslmode=disable&search_path=old",
      "db.internal:5432/api (search_path old)",
    ],
  ])("refuses %s, naming both databases and no credentials", (_, given, named) => {
    const message = refusal(() => preflightReadUrl(existing(), given));
    expect(message).toBe(
      `preflight-url-other-database: ${PREFLIGHT_URL_ENV} names ${named}, but the migration Job migrates ` +
        "db.internal:5432/api (existingSecretDatabase, the database the Secret api-db names): give the URL of that " +
        "database, or correct existingSecretDatabase if the Secret names another",
    );
    expect(message).not.toContain("r3ad-only");
    expect(message).not.toContain("reader");
  });

  it("takes the same database however it is spelled (host case, default port)", () => {
    expect(preflightReadUrl(existing(), "postgres://reader:r3ad-only@DB.Internal/api")).toBeDefined();
  });

  it("refuses a URL it cannot read, naming the variable and never its value", () => {
    const message = refusal(() => preflightReadUrl(existing(), "postgres://reader:r3ad-only@db.internal:99999/api"));
    expect(message).toBe(`preflight-url-invalid: ${PREFLIGHT_URL_ENV}: port is not a TCP port number (1 to 65535)`);
  });
});

describe("planDeploy on the useExistingSecret path", () => {
  const applied: AppliedRecord = { deployed: false };
  const stateOf =
    (state: DatabaseState, seen: string[] = []): StateReader =>
    async (url) => {
      seen.push(url);
      return state;
    };
  const fresh: DatabaseState = { revisions: [] };
  const atV2: DatabaseState = {
    revisions: files.slice(0, 2).map((f) => ({
      version: f.version,
      description: f.description,
      type: REVISION_TYPE.execute,
      applied: 1,
      total: 1,
      error: null,
      errorStmt: null,
    })),
  };

  it("reads the database through the environment's URL and names where it read", async () => {
    const seen: string[] = [];
    const plan = await planDeploy({
      stack: "prod",
      spec: existing(),
      dir,
      applied,
      preflightDatabaseUrl: READER,
      readState: stateOf(atV2, seen),
    });
    expect(seen).toEqual([READER]);
    expect(plan.run.pending.map((f) => f.version)).toEqual(["20260525000000"]);
    expect(plan.run.basis).toBe("read from the database at db.internal:5432/api");
    expect(JSON.stringify(plan.report)).not.toContain("r3ad-only");
  });

  it("the Job's identity and key are existingSecretDatabase's: the same whoever reads, and offline alike", async () => {
    const online = (url: string) =>
      planDeploy({
        stack: "prod",
        spec: existing(),
        dir,
        applied,
        preflightDatabaseUrl: url,
        readState: stateOf(fresh),
      });
    const asReader = await online(READER);
    const asOwner = await online("postgres://app:0wner@db.internal/api?sslmode=require&connect_timeout=3");
    const offline = await planDeploy({
      stack: "prod",
      spec: existing({ migrationPreflight: "offline" }),
      dir,
      applied,
      readState: () => Promise.reject(new Error("offline must not read")),
    });
    expect(asReader.run.databaseIdentity).toBe(databaseIdentity(ADDRESS));
    expect(asReader.migration.input.databaseIdentity).toBe(databaseIdentity(ADDRESS));
    expect(asOwner.migration.key).toBe(asReader.migration.key);
    expect(offline.migration.key).toBe(asReader.migration.key);
  });

  it("refuses to read another database than the Job's before reading anything", async () => {
    await expect(
      planDeploy({
        stack: "prod",
        spec: existing(),
        dir,
        applied,
        preflightDatabaseUrl: "postgres://reader:r3ad-only@db.other/api",
        readState: () => Promise.reject(new Error("must not read")),
      }),
    ).rejects.toThrow(
      `${PREFLIGHT_URL_ENV} names db.other:5432/api, but the migration Job migrates db.internal:5432/api`,
    );
  });

  it("offline, a changed existingSecretDatabase is a changed database; without one nothing is compared", async () => {
    const before = { deployed: true, version: files[2].version, migrations: files.map((f) => f.version) };
    const moved = existing({ migrationPreflight: "offline", existingSecretDatabase: "postgres://db.new/api" });
    await expect(
      planDeploy({
        stack: "prod",
        spec: moved,
        dir,
        applied: { ...before, databaseIdentity: databaseIdentity(ADDRESS) },
      }),
    ).rejects.toThrow(
      `the database changed: existingSecretDatabase now points at db.new:5432/api (identity ${databaseIdentity(
        "postgres://db.new/api",
      )}), not at the database this stack last migrated`,
    );
    const unnamed = specOf({ useExistingSecret: "api-db" });
    const plan = await planDeploy({
      stack: "prod",
      spec: unnamed,
      dir,
      applied: { ...before, databaseIdentity: databaseIdentity(ADDRESS) },
    });
    expect(plan.run.databaseChange).toBe("unrecorded");
    expect(plan.migration.input.databaseIdentity).toBeUndefined();
  });
});
