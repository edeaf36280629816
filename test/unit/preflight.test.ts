import { databaseIdentity, databaseUrlDigest } from "../../lib/database/state";
import { planMigrations, REVISION_TYPE } from "../../lib/migration/plan";
import { describePlan, planRun, PreflightError } from "../../lib/migration/preflight";
import { migrationDir, migrationFile } from "../support/migrationFiles";

const files = ["20250909000000", "20260410000000", "20260525000000"].map((v) => migrationFile(v));
const dir = migrationDir(files);
const URL = "postgres://app:s3cret@db:5432/api?sslmode=disable";
const unreachable = () => Promise.reject(new Error("offline mode must not read the database"));

describe("planRun", () => {
  it("offline, first deploy: everything pending, without reading the database", async () => {
    const plan = await planRun({ mode: "offline", dir, databaseUrl: URL }, unreachable);
    expect(plan.pending.map((f) => f.version)).toEqual(["20250909000000", "20260410000000", "20260525000000"]);
    expect(plan.basis).toBe("this stack has not applied migrations yet; the database was not read");
  });

  it("offline: only what is newer than the version this stack last applied", async () => {
    const plan = await planRun(
      { mode: "offline", dir, databaseUrl: URL, lastAppliedVersion: "20260410000000" },
      unreachable,
    );
    expect(plan.pending.map((f) => f.version)).toEqual(["20260525000000"]);
  });

  it("offline with a baseline: refused while it would be recorded, taken once this stack applied migrations", async () => {
    await expect(
      planRun({ mode: "offline", dir, databaseUrl: URL, baseline: "20250909000000" }, unreachable),
    ).rejects.toThrow(
      "migrationBaseline 20250909000000 would be recorded now without a look at the database: it needs " +
        "migrationPreflight online",
    );
    const later = await planRun(
      {
        mode: "offline",
        dir,
        databaseUrl: URL,
        baseline: "20250909000000",
        lastAppliedVersion: "20260410000000",
        lastAppliedMigrations: ["20250909000000", "20260410000000"],
      },
      unreachable,
    );
    expect(later.baselineToWrite).toBeUndefined();
    expect(later.pending.map((f) => f.version)).toEqual(["20260525000000"]);
  });

  it("off with a baseline: what follows the baseline", async () => {
    const plan = await planRun({ mode: "off", dir, databaseUrl: URL, baseline: "20250909000000" }, unreachable);
    expect(plan.pending.map((f) => f.version)).toEqual(["20260410000000", "20260525000000"]);
    expect(plan.baselineToWrite).toBe("20250909000000");
  });

  it("online: the database decides, and its problems refuse the deploy", async () => {
    const read = async () => ({ revisions: [], notCleanReason: 'found schema "public"' });
    await expect(planRun({ mode: "online", dir, databaseUrl: URL }, read)).rejects.toThrow(PreflightError);
    await expect(planRun({ mode: "online", dir, databaseUrl: URL }, read)).rejects.toThrow(
      /^migration preflight refused this deploy:\n {2}- the database is not clean/,
    );
    const plan = await planRun({ mode: "online", dir, databaseUrl: URL, baseline: "20260410000000" }, read);
    expect(plan.pending.map((f) => f.version)).toEqual(["20260525000000"]);
    expect(plan.basis).toBe("read from the database at db:5432/api");
  });

  it("online: reads with the CA bundle the pods get", async () => {
    const seen: unknown[] = [];
    const read = async (_url: string, options: unknown) => {
      seen.push(options);
      return { revisions: [], notCleanReason: undefined };
    };
    await planRun({ mode: "online", dir, databaseUrl: URL, databaseCaCert: "PEM", revisionsSchema: "revs" }, read);
    expect(seen).toEqual([{ revisionsSchema: "revs", ca: "PEM" }]);
  });

  it("refuses a baseline that is not in the directory in every mode, listing the nearest versions", async () => {
    for (const mode of ["online", "offline", "off"] as const) {
      await expect(planRun({ mode, dir, databaseUrl: URL, baseline: "20260401000000" }, unreachable)).rejects.toThrow(
        "migrationBaseline 20260401000000 is not a version in the migration directory; nearest versions: 20250909000000, 20260410000000, 20260525000000",
      );
    }
  });
});

describe("describePlan", () => {
  it("names the versions and files to apply and the baseline, and nothing secret", async () => {
    const plan = await planRun(
      { mode: "offline", dir, databaseUrl: URL, lastAppliedVersion: "20250909000000" },
      unreachable,
    );
    const text = describePlan(plan, "abc123");
    expect(text).toBe(
      [
        "Migrations (preflight offline; newer than 20250909000000, the version this stack last applied; the database was not read):",
        "  applied so far: 20250909000000",
        "  baseline: none",
        "  2 migration(s) will run, in this order:",
        "    20260410000000  20260410000000_m.sql",
        "    20260525000000  20260525000000_m.sql",
        "  migration key: abc123",
      ].join("\n"),
    );
    expect(text).not.toContain("s3cret");
  });

  it('says "no migration will run" when nothing is pending', async () => {
    const plan = await planRun(
      { mode: "offline", dir, databaseUrl: URL, lastAppliedVersion: "20260525000000" },
      unreachable,
    );
    expect(describePlan(plan, "k")).toContain("  no migration will run");
  });
});

describe("planRun: what this stack recorded", () => {
  const identity = databaseIdentity(URL);
  const recorded = {
    lastAppliedVersion: "20260525000000",
    lastAppliedMigrations: ["20250909000000", "20260410000000", "20260525000000"],
    lastDatabaseIdentity: identity,
    lastDatabaseUrlDigest: databaseUrlDigest(URL),
  };
  const withLate = migrationDir(
    [...files, migrationFile("20260501000000", "", "late")].sort((a, b) => a.name.localeCompare(b.name)),
  );

  it("offline: refuses a file at or below the applied version that the stack never applied, as the online check does", async () => {
    const offline = planRun({ mode: "offline", dir: withLate, databaseUrl: URL, ...recorded }, unreachable);
    const online = planMigrations(
      withLate.files,
      {
        revisions: recorded.lastAppliedMigrations.map((version) => ({
          version,
          description: "m",
          type: REVISION_TYPE.execute,
          applied: 1,
          total: 1,
        })),
      },
      undefined,
    );
    expect(online.problems).toHaveLength(1);
    await expect(offline).rejects.toThrow(new PreflightError(online.problems).message);
    await expect(offline).rejects.toThrow(
      "20260501000000_late.sql is older than the database's last migration 20260525000000 but was never applied",
    );
  });

  it("offline: a newer file is still simply pending", async () => {
    const newer = migrationDir([...files, migrationFile("20260601000000")]);
    const plan = await planRun({ mode: "offline", dir: newer, databaseUrl: URL, ...recorded }, unreachable);
    expect(plan.pending.map((f) => f.version)).toEqual(["20260601000000"]);
    expect(plan.databaseChange).toBe("same");
    expect(plan.notes).toEqual([]);
  });

  it("offline: another database is refused, saying how to go online or accept a full run", async () => {
    const other = "postgres://app:s3cret@restore.internal:5432/api?sslmode=disable";
    const otherId = databaseIdentity(other);
    const plan = planRun({ mode: "offline", dir, databaseUrl: other, ...recorded }, unreachable);
    await expect(plan).rejects.toThrow(
      `the database changed: databaseDsn now points at restore.internal:5432/api (identity ${otherId}), not at the database this stack last migrated (identity ${identity})`,
    );
    await expect(plan).rejects.toThrow("pulumi config set migrationPreflight online");
    await expect(plan).rejects.toThrow(`pulumi config set migrationAcceptDatabase ${otherId}`);
    await expect(plan).rejects.not.toThrow("s3cret");
  });

  it("offline: an accepted new database is planned as unknown: every migration may run", async () => {
    const other = "postgres://app:s3cret@restore.internal:5432/api?sslmode=disable";
    const otherId = databaseIdentity(other);
    // An acceptance for another identity does not count.
    await expect(
      planRun({ mode: "offline", dir, databaseUrl: other, ...recorded, acceptDatabase: identity }, unreachable),
    ).rejects.toThrow(PreflightError);
    const plan = await planRun(
      { mode: "offline", dir, databaseUrl: other, ...recorded, acceptDatabase: otherId },
      unreachable,
    );
    expect(plan.pending.map((f) => f.version)).toEqual(dir.files.map((f) => f.version));
    expect(plan.appliedVersion).toBeUndefined();
    expect(plan.databaseChange).toBe("changed");
    expect(describePlan(plan, "k")).toContain("planned as unknown: every migration may run");
  });

  it("names a password rotation: the same database with another URL", async () => {
    const rotated = "postgres://app:n3w-pass@db:5432/api?sslmode=disable";
    expect(databaseIdentity(rotated)).toBe(identity);
    const plan = await planRun({ mode: "offline", dir, databaseUrl: rotated, ...recorded }, unreachable);
    expect(plan.databaseChange).toBe("credentials");
    const text = describePlan(plan, "k");
    expect(text).toContain("databaseDsn changed but names the same database (db:5432/api): a password rotation");
    expect(text).not.toContain("n3w-pass");
    expect(text).not.toContain("s3cret");
  });

  it("online: the database decides, and a change of database is only a note", async () => {
    const other = "postgres://app:s3cret@db:5432/api_copy?sslmode=disable";
    const read = async () => ({ revisions: [] });
    const plan = await planRun({ mode: "online", dir, databaseUrl: other, ...recorded }, read);
    expect(plan.pending).toHaveLength(3);
    expect(plan.notes[0]).toMatch(/^the database changed: databaseDsn now points at db:5432\/api_copy/);
  });
});

describe("databaseIdentity", () => {
  const id = (url: string) => databaseIdentity(url);
  const base = "postgres://app:pw@db.example:5432/api?sslmode=require";
  it("ignores credentials and connection options", () => {
    expect(id("postgres://other:secret@db.example:5432/api?sslmode=verify-full")).toBe(id(base));
    expect(id("postgres://app:pw@DB.example/api?sslmode=require")).toBe(id(base));
  });
  it.each([
    ["host", "postgres://app:pw@db2.example:5432/api?sslmode=require"],
    ["port", "postgres://app:pw@db.example:6432/api?sslmode=require"],
    ["database", "postgres://app:pw@db.example:5432/api2?sslmode=require"],
    ["search_path", "postgres://app:pw@db.example:5432/api?sslmode=require&search_path=tenant"],
  ])("changes with the %s", (_, url) => {
    expect(id(url)).not.toBe(id(base));
  });
  it("never contains a part of the URL", () => {
    expect(id(base)).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("planRun: rollbackWithoutMigrations", () => {
  const newer = migrationDir([...files, migrationFile("20260612000000")]);
  const revisionsOf = (versions: string[]) => async () => ({
    revisions: versions.map((version) => ({
      version,
      description: "m",
      type: REVISION_TYPE.execute,
      applied: 1,
      total: 1,
    })),
  });
  const recorded = {
    lastAppliedVersion: "20260612000000",
    lastAppliedMigrations: newer.files.map((f) => f.version),
    lastDatabaseIdentity: databaseIdentity(URL),
  };

  it("online: the database ahead of this older directory is accepted and the Job is not re-run", async () => {
    const read = revisionsOf(newer.files.map((f) => f.version));
    await expect(planRun({ mode: "online", dir, databaseUrl: URL, ...recorded }, read)).rejects.toThrow(
      "the database has migration 20260612000000 (m) that this directory does not have",
    );
    const plan = await planRun({ mode: "online", dir, databaseUrl: URL, ...recorded, rollback: true }, read);
    expect(plan.pending).toEqual([]);
    expect(plan.rollback).toBe(true);
    const text = describePlan(plan, "k");
    expect(text).toContain("no migration will run: the Job is not re-run");
    expect(text).toContain(
      "rollback without migrations (rollbackWithoutMigrations): the migration Job is kept as it is and not re-run; the database stays at 20260612000000, this directory ends at 20260525000000",
    );
  });

  it("online: reads the database with its CA bundle, as the plan without a rollback does", async () => {
    const seen: unknown[] = [];
    const read = async (_url: string, options: { ca?: string }) => {
      seen.push(options.ca);
      return revisionsOf(newer.files.map((f) => f.version))();
    };
    const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await planRun({ mode: "online", dir, databaseUrl: URL, databaseCaCert: ca, ...recorded, rollback: true }, read);
    expect(seen).toEqual([ca]);
  });

  it("offline: the recorded versions ahead of this directory refuse as online does, unless rolling back", async () => {
    await expect(planRun({ mode: "offline", dir, databaseUrl: URL, ...recorded }, unreachable)).rejects.toThrow(
      "the database has migration 20260612000000 that this directory does not have: a newer release migrated it",
    );
  });

  it("offline: from the recorded versions", async () => {
    const plan = await planRun({ mode: "offline", dir, databaseUrl: URL, ...recorded, rollback: true }, unreachable);
    expect(plan.pending).toEqual([]);
    expect(plan.appliedVersion).toBe("20260612000000");
  });

  it("refuses when the database lacks a migration of the directory, on a first deploy, or on another database", async () => {
    await expect(
      planRun(
        { mode: "online", dir, databaseUrl: URL, ...recorded, rollback: true },
        revisionsOf(["20250909000000", "20260410000000"]),
      ),
    ).rejects.toThrow(
      "rollbackWithoutMigrations: the database lacks 1 migration(s) of this directory (20260525000000_m.sql), so this is not a rollback",
    );
    await expect(planRun({ mode: "offline", dir, databaseUrl: URL, rollback: true }, unreachable)).rejects.toThrow(
      "rollbackWithoutMigrations: this stack has not applied migrations yet",
    );
    await expect(
      planRun(
        {
          mode: "offline",
          dir,
          databaseUrl: "postgres://app:s3cret@elsewhere:5432/api?sslmode=disable",
          ...recorded,
          rollback: true,
        },
        unreachable,
      ),
    ).rejects.toThrow("rollbackWithoutMigrations: databaseDsn points at another database");
  });
});
