import { MigrationFile } from "../../lib/migration/dir";
import { planMigrations, Revision, REVISION_TYPE } from "../../lib/migration/plan";
import { migrationFile } from "../support/migrationFiles";

const files = ["20250909000000", "20260410000000", "20260508000000", "20260525000000", "20260612000000"].map((v) =>
  migrationFile(v),
);
const rev = (version: string, extra: Partial<Revision> = {}): Revision => ({
  version,
  description: "m",
  type: REVISION_TYPE.execute,
  applied: 1,
  total: 1,
  ...extra,
});
const versions = (fs: readonly MigrationFile[]) => fs.map((f) => f.version);
const dirty = 'found schema "public"';

describe("planMigrations (Atlas 0.13's Executor.Pending, with the baseline rule)", () => {
  it("fresh database: every version pending", () => {
    const plan = planMigrations(files, { revisions: [] }, undefined);
    expect(versions(plan.pending)).toEqual(versions(files));
    expect(plan.problems).toEqual([]);
    expect(plan.clean).toBe(true);
  });

  it("fully applied: nothing pending", () => {
    const plan = planMigrations(files, { revisions: files.map((f) => rev(f.version)) }, undefined);
    expect(plan.pending).toEqual([]);
    expect(plan.appliedVersion).toBe("20260612000000");
  });

  it("one new file: only that one", () => {
    const plan = planMigrations(files, { revisions: files.slice(0, 4).map((f) => rev(f.version)) }, undefined);
    expect(versions(plan.pending)).toEqual(["20260612000000"]);
  });

  it("GORM schema, no revisions, baseline: only the versions after it", () => {
    const plan = planMigrations(files, { revisions: [], notCleanReason: dirty }, "20260410000000");
    expect(versions(plan.pending)).toEqual(["20260508000000", "20260525000000", "20260612000000"]);
    expect(plan.baselineToWrite).toBe("20260410000000");
    expect(plan.problems).toEqual([]);
  });

  it("GORM schema, no revisions, no baseline: the missing-baseline problem", () => {
    const plan = planMigrations(files, { revisions: [], notCleanReason: dirty }, undefined);
    expect(plan.problems.map((p) => p.code)).toEqual(["missing-baseline"]);
    expect(plan.problems[0].message).toMatch(/not clean \(found schema "public"\).*set migrationBaseline/);
  });

  it("clean database with a baseline: refused, it would skip the schema", () => {
    const plan = planMigrations(files, { revisions: [] }, "20260525000000");
    expect(plan.problems.map((p) => p.code)).toEqual(["baseline-on-clean-database"]);
    expect(plan.problems[0].message).toMatch(/would mark 4 migration\(s\) as applied on a database that has no schema/);
  });

  it("baseline not in the directory: lists the nearest versions", () => {
    const plan = planMigrations(files, { revisions: [], notCleanReason: dirty }, "20260501000000");
    expect(plan.problems[0].message).toBe(
      "migrationBaseline 20260501000000 is not a version in the migration directory; nearest versions: 20260410000000, 20260508000000, 20260525000000",
    );
  });

  it("baseline is ignored once revisions exist, as Atlas does", () => {
    const plan = planMigrations(
      files,
      {
        revisions: [rev("20260410000000", { type: REVISION_TYPE.baseline, applied: 0, total: 0 })],
        notCleanReason: dirty,
      },
      "20260410000000",
    );
    expect(versions(plan.pending)).toEqual(["20260508000000", "20260525000000", "20260612000000"]);
    expect(plan.baselineToWrite).toBeUndefined();
    expect(plan.problems).toEqual([]);
  });

  it("database ahead of the directory: named", () => {
    const plan = planMigrations(files.slice(0, 3), { revisions: files.map((f) => rev(f.version)) }, undefined);
    expect(plan.problems.map((p) => p.code)).toEqual(["database-ahead", "database-ahead"]);
    expect(plan.problems[0].message).toMatch(
      /^the database has migration 20260525000000 \(m\) that this directory does not have/,
    );
    expect(plan.pending).toEqual([]);
  });

  it("a failed earlier run: named, and the failed file is pending again", () => {
    const revisions = [
      rev("20250909000000"),
      rev("20260410000000", { applied: 1, total: 3, error: 'pq: relation "x" does not exist' }),
    ];
    const plan = planMigrations(files, { revisions }, undefined);
    expect(plan.problems.map((p) => p.code)).toEqual(["failed-revision"]);
    expect(plan.problems[0].message).toMatch(
      /migration 20260410000000 \(m\) failed in an earlier run after 1 of 3 statement\(s\): pq: relation "x" does not exist/,
    );
    expect(versions(plan.pending)[0]).toBe("20260410000000");
  });

  it("a file older than the last revision that never ran: out of order", () => {
    const revisions = [rev("20250909000000"), rev("20260508000000")];
    const plan = planMigrations(files, { revisions }, undefined);
    expect(plan.problems.map((p) => p.code)).toEqual(["out-of-order"]);
    expect(plan.problems[0].message).toMatch(
      /^20260410000000_m.sql is older than the database's last migration 20260508000000/,
    );
  });
});
