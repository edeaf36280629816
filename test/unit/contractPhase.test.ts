import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { appliedRecord, type AppliedRecord } from "../../lib/deploy/applied";
import { planDeploy } from "../../lib/deploy/plan";
import { renderPlanMarkdown } from "../../lib/deploy/report";
import { type MigrationDir, writeSumFile } from "../../lib/migration/dir";
import { contractBaseline, contractRevisionsSchema, loadMigrationPhases } from "../../lib/migration/phase";
import { planMigrations } from "../../lib/migration/plan";
import { promotionSource } from "../../lib/migration/promotion";
import { atlasArgs, migrationKey, type MigrationRunInput } from "../../lib/migration/run";
import { migrationDir, migrationFile } from "../support/migrationFiles";
import { specOf, testArgs } from "../support/apiArgs";
import { recordResources, Registered, valueOf } from "../support/pulumiMocks";
// The components register nothing at import time, so importing them before the mocks is safe.
import { DevelopersItaliaApi } from "../../components/developersItaliaApi";

const registered: Registered[] = recordResources();

const expand = migrationDir([
  migrationFile("20260101000000", "CREATE TABLE t (id int, old_name text);"),
  migrationFile("20260201000000", "ALTER TABLE t ADD COLUMN new_name text;"),
]);
const contract = migrationDir(
  [migrationFile("20260201000001", "COMMENT ON COLUMN t.old_name IS 'unused';", "drop_old_name")],
  "/repo/migrations/contract",
);
const spec = specOf({ databaseDsn: "postgres://app:pw@db:5432/api?sslmode=disable" });
const never: AppliedRecord = { deployed: false };

describe("the contract phase's directory", () => {
  const root = () => fs.mkdtempSync(path.join(os.tmpdir(), "phases-"));
  const write = (dir: string, name: string, text: string) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
    writeSumFile(dir);
  };

  it("is empty, and needs no atlas.sum, when migrations/contract/ does not exist", () => {
    const dir = root();
    write(dir, "20260101000000_a.sql", "CREATE TABLE a (id int);\n");
    const phases = loadMigrationPhases(dir);
    expect(phases.expand.files.map((f) => f.version)).toEqual(["20260101000000"]);
    expect(phases.contract.files).toEqual([]);
    expect(phases.contract.path).toBe(path.join(dir, "contract"));
  });

  it("is a directory of its own: its files are not the expand phase's, and its atlas.sum is verified", () => {
    const dir = root();
    write(dir, "20260101000000_a.sql", "CREATE TABLE a (id int);\n");
    write(path.join(dir, "contract"), "20260101000001_b.sql", "ALTER TABLE a DROP COLUMN id;\n");
    const phases = loadMigrationPhases(dir);
    expect(phases.expand.files.map((f) => f.name)).toEqual(["20260101000000_a.sql"]);
    expect(phases.contract.files.map((f) => f.name)).toEqual(["20260101000001_b.sql"]);
    fs.appendFileSync(path.join(dir, "contract", "20260101000001_b.sql"), "-- edited\n");
    expect(() => loadMigrationPhases(dir)).toThrow(/contract\/atlas\.sum.*20260101000001_b\.sql was edited/);
  });

  it("refuses a version that names a file in both phases, naming both", () => {
    const dir = root();
    write(dir, "20260101000000_a.sql", "CREATE TABLE a (id int);\n");
    write(path.join(dir, "contract"), "20260101000000_b.sql", "SELECT 1;\n");
    expect(() => loadMigrationPhases(dir)).toThrow(
      /contract\/20260101000000_b\.sql: version 20260101000000 is also .*20260101000000_a\.sql; a version names one migration in one phase/,
    );
  });
});

describe("the contract phase's Atlas run", () => {
  it("keeps its revisions in a schema of its own, next to the expand phase's", () => {
    expect(contractRevisionsSchema(undefined)).toBe("atlas_schema_revisions_contract");
    expect(contractRevisionsSchema("ops")).toBe("ops_contract");
  });

  it("takes its baseline from migrationBaseline: the newest contract version up to it", () => {
    expect(contractBaseline(contract, undefined)).toBeUndefined();
    expect(contractBaseline(contract, "20260201000000")).toBeUndefined();
    expect(contractBaseline(contract, "20260301000000")).toBe("20260201000001");
  });

  it("runs with --allow-dirty (the expand phase built the schema), and no expand key changes", () => {
    const input: MigrationRunInput = {
      atlasImage: "arigaio/atlas:0.13.1",
      atlasLockTimeout: "10s",
      sumTotal: contract.hashFile.total,
      postgresLockTimeout: "5s",
      deadlineSeconds: 300,
      revisionsSchema: "atlas_schema_revisions_contract",
    };
    expect(atlasArgs(input)).not.toContain("--allow-dirty");
    const args = atlasArgs({ ...input, phase: "contract" });
    expect(args.slice(-3)).toEqual(["--revisions-schema", "atlas_schema_revisions_contract", "--allow-dirty"]);
    expect(migrationKey({ ...input, phase: "expand" })).toBe(migrationKey(input));
    expect(migrationKey({ ...input, phase: "contract" })).not.toBe(migrationKey(input));
  });

  it("expects a schema without revisions: no missing-baseline refusal, unlike the expand phase", () => {
    const state = { revisions: [], notCleanReason: 'found table "t"' };
    expect(planMigrations(contract.files, state, undefined).problems.map((p) => p.code)).toEqual(["missing-baseline"]);
    const plan = planMigrations(contract.files, state, undefined, true);
    expect(plan.problems).toEqual([]);
    expect(plan.pending.map((f) => f.version)).toEqual(["20260201000001"]);
  });
});

describe("a deploy's plan with a contract phase", () => {
  it("plans both phases, each with its own Job key, and reports both", async () => {
    const deploy = await planDeploy({ stack: "dev", spec, dir: expand, contractDir: contract, applied: never });
    expect(deploy.run.pending.map((f) => f.version)).toEqual(["20260101000000", "20260201000000"]);
    expect(deploy.contract?.run.pending.map((f) => f.version)).toEqual(["20260201000001"]);
    expect(deploy.contract?.migration.input).toMatchObject({
      phase: "contract",
      revisionsSchema: "atlas_schema_revisions_contract",
      sumTotal: contract.hashFile.total,
    });
    expect(deploy.contract?.migration.key).not.toBe(deploy.migration.key);
    expect(deploy.report.contract).toEqual({
      appliedVersion: null,
      baseline: null,
      pending: [
        {
          version: "20260201000001",
          file: "20260201000001_drop_old_name.sql",
          sha256: expect.any(String),
          outsideTransaction: false,
        },
      ],
      migrationKey: deploy.contract?.migration.key,
    });
    const markdown = renderPlanMarkdown(deploy.report);
    expect(markdown).toContain("2 migration(s) before the rollout, 1 after");
    expect(markdown).toMatch(/Before the rollout \(expand\)[\s\S]*20260101000000[\s\S]*After the new pods/);
    expect(markdown).toMatch(
      /After the new pods are rolled out and ready \(contract\)[\s\S]*20260201000001_drop_old_name/,
    );
  });

  it("has no contract phase, and reports none, without contract files", async () => {
    const empty = migrationDir([], "/repo/migrations/contract");
    const deploy = await planDeploy({ stack: "dev", spec, dir: expand, contractDir: empty, applied: never });
    expect(deploy.contract).toBeUndefined();
    expect(deploy.report.contract).toBeNull();
    expect(renderPlanMarkdown(deploy.report)).not.toContain("contract");
  });

  it("plans each phase from its own record: the contract phase is pending until its Job succeeded", async () => {
    const outputs = {
      appliedVersion: "20260201000000",
      appliedMigrations: expand.files.map((f) => ({ version: f.version, file: f.name, sha256: "0".repeat(64) })),
      deploymentName: "api",
    };
    // The expand phase ran and the rollout happened, the contract Job did not complete.
    const halfway = await planDeploy({
      stack: "dev",
      spec,
      dir: expand,
      contractDir: contract,
      applied: appliedRecord(outputs),
    });
    expect(halfway.run.pending).toEqual([]);
    expect(halfway.contract?.run.pending.map((f) => f.version)).toEqual(["20260201000001"]);
    const done = await planDeploy({
      stack: "dev",
      spec,
      dir: expand,
      contractDir: contract,
      applied: appliedRecord({
        ...outputs,
        appliedContractVersion: "20260201000001",
        appliedContractMigrations: [{ version: "20260201000001", file: "x.sql", sha256: "0".repeat(64) }],
      }),
    });
    expect(done.contract?.run.pending).toEqual([]);
    expect(done.report.contract?.appliedVersion).toBe("20260201000001");
  });

  it("rolls back both phases: both Jobs kept, and a contract file the database lacks is not a rollback", async () => {
    const rollback = specOf({
      databaseDsn: "postgres://app:pw@db:5432/api?sslmode=disable",
      rollbackWithoutMigrations: "true",
    });
    const record = (contractVersions: string[]) =>
      appliedRecord({
        appliedVersion: "20260201000000",
        appliedMigrations: expand.files.map((f) => ({ version: f.version, file: f.name, sha256: "0".repeat(64) })),
        appliedDatabase: undefined,
        deploymentName: "api",
        appliedContractVersion: contractVersions.at(-1),
        appliedContractMigrations: contractVersions.map((v) => ({ version: v, file: `${v}.sql`, sha256: "0" })),
      });
    const kept = await planDeploy({
      stack: "dev",
      spec: rollback,
      dir: expand,
      contractDir: contract,
      applied: record(["20260201000001", "20260301000001"]),
    });
    expect(kept.run.rollback).toBe(true);
    expect(kept.contract?.run.rollback).toBe(true);
    expect(kept.contract?.run.pending).toEqual([]);
    await expect(
      planDeploy({
        stack: "dev",
        spec: rollback,
        dir: expand,
        contractDir: contract,
        applied: record(["20251201000001"]),
      }),
    ).rejects.toThrow(
      /rollbackWithoutMigrations: the database lacks 1 migration\(s\) of this directory \(20260201000001_drop_old_name\.sql\)/,
    );
  });

  it("follows migrationBaseline online: a contract file up to it is recorded, not run, and nothing is refused as not clean", async () => {
    const baselined = specOf({
      databaseDsn: "postgres://app:pw@db:5432/api?sslmode=disable",
      migrationPreflight: "online",
      migrationBaseline: "20260201000000",
    });
    const later = migrationDir(
      [...contract.files, migrationFile("20260301000001", "COMMENT ON TABLE t IS 'x';")],
      "/repo/migrations/contract",
    );
    // A GORM-built database: tables, no revisions in either schema.
    const readState = async (_url: string, options: { revisionsSchema?: string }) => ({
      revisions: [],
      notCleanReason: `found table "t" (revisions in ${options.revisionsSchema ?? "atlas_schema_revisions"})`,
    });
    const plan = await planDeploy({
      stack: "dev",
      spec: { ...baselined, migration: { ...baselined.migration, baseline: "20260301000000" } },
      dir: migrationDir([...expand.files, migrationFile("20260301000000", "SELECT 1;")]),
      contractDir: later,
      applied: never,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      readState: readState as any,
    });
    expect(plan.contract?.run.baselineToWrite).toBe("20260201000001");
    expect(plan.contract?.run.pending.map((f) => f.version)).toEqual(["20260301000001"]);
    expect(plan.contract?.migration.input.baseline).toBe("20260201000001");
    expect(atlasArgs(plan.contract!.migration.input)).toEqual(
      expect.arrayContaining(["--baseline", "20260201000001", "--allow-dirty"]),
    );
  });

  it("checks a baseline against what both phases' files up to it build, and names an expand version", async () => {
    // A GORM database of the release after the rename: its contract file already dropped old_name.
    const live = { tables: { t: ["id", "new_name"] }, indexes: [] };
    const readState = async () => ({ revisions: [], notCleanReason: 'found table "t"', schema: live });
    const dropped = migrationDir(
      [migrationFile("20260201000001", "ALTER TABLE t DROP COLUMN old_name;", "drop_old_name")],
      "/repo/migrations/contract",
    );
    const release = migrationDir([...expand.files, migrationFile("20260301000000", "SELECT 1;")]);
    const plan = (contractDir: MigrationDir | undefined, baseline: string) =>
      planDeploy({
        stack: "dev",
        spec: specOf({
          databaseDsn: "postgres://app:pw@db:5432/api?sslmode=disable",
          migrationPreflight: "online",
          migrationBaseline: baseline,
        }),
        dir: release,
        contractDir,
        applied: never,
        readState,
      });
    const accepted = await plan(dropped, "20260301000000");
    expect(accepted.run.baselineToWrite).toBe("20260301000000");
    expect(accepted.contract?.run.baselineToWrite).toBe("20260201000001");
    // Without the contract file in the fold, the schema of 20260301000000 would still have old_name.
    await expect(plan(undefined, "20260301000000")).rejects.toThrow(
      "migrationBaseline 20260301000000 does not match the database: it lacks column t.old_name",
    );
    // A baseline before the drop is refused, naming the expand version whose schema matches
    // (never the contract file's own: migrationBaseline names an expand version).
    await expect(plan(dropped, "20260201000000")).rejects.toThrow(
      /migrationBaseline 20260201000000 does not match the database: it lacks column t\.old_name.*The database has the schema of 20260301000000: pulumi config set migrationBaseline 20260301000000/s,
    );
  });

  it("promotes both phases: the source stack's record of either counts", () => {
    const a = { version: "20260101000000", file: "a.sql", sha256: "a" };
    const b = { version: "20260201000001", file: "b.sql", sha256: "b" };
    expect(promotionSource("staging", [a], [b])).toEqual({ stack: "staging", applied: [a, b] });
    expect(promotionSource("staging", [a], undefined)).toEqual({ stack: "staging", applied: [a] });
    expect(promotionSource("staging", undefined, undefined)).toEqual({ stack: "staging", applied: undefined });
  });
});

describe("the contract Job in the component", () => {
  async function build(withContract: boolean) {
    registered.length = 0;
    const args = testArgs(expand);
    const deploy = await planDeploy({ stack: "dev", spec, dir: expand, contractDir: contract, applied: never });
    const api = new DevelopersItaliaApi("dia", {
      ...args,
      database: { url: pulumi.secret("postgres://app:pw@db:5432/api?sslmode=disable") },
      migration: {
        ...args.migration,
        contract: withContract ? { dir: contract, run: deploy.contract!.migration, hold: false } : undefined,
      },
    });
    await valueOf(pulumi.all([api.deployment.urn, api.migration.job.urn]));
    if (api.contractMigration) await valueOf(api.contractMigration.job.urn);
    await new Promise((r) => setImmediate(r));
    return { api, deploy };
  }

  it("is created only after the Deployment (which the provider awaits until its new pods are ready)", async () => {
    const { api, deploy } = await build(true);
    const job = registered.find((r) => r.name === "dia-contract-job")!;
    expect(job).toBeDefined();
    expect(job.dependsOn).toContain("dia-api");
    expect(registered.find((r) => r.name === "dia-api")!.dependsOn).not.toContain("dia-contract-job");
    expect(api.contractMigration?.key).toBe(deploy.contract?.migration.key);
    // Its own files, its own run: the contract directory in its own ConfigMap.
    const files = registered.find((r) => r.name === "dia-contract-files")!;
    expect(Object.keys((files.inputs as { data: Record<string, string> }).data).sort()).toEqual([
      "20260201000001_drop_old_name.sql",
      "atlas.hcl",
      "atlas.sum",
    ]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const container = (job.inputs as any).spec.template.spec.containers[0];
    expect(container.args).toEqual(expect.arrayContaining(["--allow-dirty", "atlas_schema_revisions_contract"]));
  });

  it("does not exist without contract migrations", async () => {
    const { api } = await build(false);
    expect(api.contractMigration).toBeUndefined();
    expect(registered.filter((r) => r.name.startsWith("dia-contract"))).toEqual([]);
  });
});
