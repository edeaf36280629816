import { describePlan, planRun, PreflightError } from "../../lib/preflight";
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
