import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { KubeClient, kubeClient, KubeObject, Pod } from "../../testbed/kube";
import { MIGRATION_APPLICATION_NAME } from "../../lib/migration/run";
import { adminUrl, createDatabase, query, TestDatabase } from "../../testbed/pg";
import { TestStack } from "../../testbed/stack";

/**
 * What the first days in production do to the gate, on real parts (the real Pulumi engine
 * and Kubernetes provider, the local control plane, Atlas against the real PostgreSQL), with
 * the default offline preflight: the stack's record of what it applied, a password rotation,
 * a move to another database, a migration that outlives its pod, and a rollback of the API
 * without migrations. The scenarios run in order, each from the state the previous one left.
 */

jest.setTimeout(15 * 60_000);

interface Deployment extends KubeObject {
  spec: { template: { spec: { containers: Array<{ image: string }> } } };
}
interface JobObject extends KubeObject {
  status?: { succeeded?: number; failed?: number; conditions?: Array<{ type: string; status: string }> };
}

const NS = `e2e-prod-${process.pid}`;
const ROLE = `e2e_app_${randomBytes(4).toString("hex")}`;
let kube: KubeClient;
let db: TestDatabase;
let db2: TestDatabase;
let stack: TestStack;

const jobs = async () =>
  (await kube.list<JobObject>(`/apis/batch/v1/namespaces/${NS}/jobs`)).items.sort((a, b) =>
    a.metadata.creationTimestamp!.localeCompare(b.metadata.creationTimestamp!),
  );
const migrationPods = async () =>
  (await kube.list<Pod>(`/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/component%3Dmigration`)).items;
const replicaSetUids = async () =>
  (await kube.list<KubeObject>(`/apis/apps/v1/namespaces/${NS}/replicasets`)).items.map((rs) => rs.metadata.uid);
const image = async () =>
  (await kube.list<Deployment>(`/apis/apps/v1/namespaces/${NS}/deployments`)).items[0].spec.template.spec.containers[0]
    .image;
const revisions = async (database: TestDatabase) =>
  (
    await query<{ version: string }>(
      database.url,
      "SELECT version FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
    )
  ).map((r) => r.version);
const dsn = (database: TestDatabase, password: string) => {
  const u = new URL(adminUrl());
  return `host=${u.hostname} port=${u.port} dbname=${database.name} user=${ROLE} password=${password} sslmode=disable`;
};
const jobStep = (steps: Array<{ op: string; type: string }>) =>
  steps.find((s) => s.type === "kubernetes:batch/v1:Job")?.op ?? "same";
const REPO_VERSIONS = ["20250909000000", "20260410000000", "20260508000000", "20260525000000", "20260612000000"];

beforeAll(async () => {
  kube = kubeClient();
  await query(adminUrl(), `CREATE ROLE ${ROLE} LOGIN PASSWORD 'first0pass'`);
  db = await createDatabase("e2e_prod");
  db2 = await createDatabase("e2e_prod_restore");
  for (const d of [db, db2]) await query(adminUrl(), `ALTER DATABASE "${d.name}" OWNER TO ${ROLE}`);
  stack = await TestStack.create(
    "production",
    // The shortest deadline the config accepts: the stuck migration below waits it out.
    { namespace: NS, replicas: "1", migrationDeadlineSeconds: "30", environment: "test" },
    dsn(db, "first0pass"),
  );
});

afterAll(async () => {
  stack?.remove();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  await db?.drop();
  await db2?.drop();
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ROLE}`);
  kube?.close();
});

describe("production, end to end (offline preflight)", () => {
  it("the first up records what it applied: the versions and the database's identity, no credentials", async () => {
    const up = await stack.up();
    expect(up.code).toBe(0);
    expect(await revisions(db)).toEqual(REPO_VERSIONS);
    const outputs = await stack.outputs();
    expect(outputs.appliedVersion).toBe("20260612000000");
    // One record per file of the directory: version, file name and sha256 (never its contents).
    const records = outputs.appliedMigrations as Array<{ version: string; file: string; sha256: string }>;
    expect(records.map((r) => r.version)).toEqual(REPO_VERSIONS);
    for (const r of records) {
      expect(r.file).toMatch(new RegExp(`^${r.version}_.+\\.sql$`));
      expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(Object.keys(r).sort()).toEqual(["file", "sha256", "version"]);
    }
    expect(outputs.appliedDatabase).toMatch(/^[0-9a-f]{16}$/);
    expect(outputs.appliedDatabaseUrlDigest).toBeDefined();
    expect(JSON.stringify(outputs)).not.toContain("first0pass");
    expect(await stack.stateFiles()).not.toContain("first0pass");
  });

  it("a migration merged below the applied version fails the offline preview with the online check's message", async () => {
    stack.writeMigration("20260601000000_merged_late.sql", "CREATE TABLE merged_late (id text);\n");
    const preview = await stack.preview();
    expect(preview.code).not.toBe(0);
    expect(preview.output).toContain(
      "20260601000000_merged_late.sql is older than the database's last migration 20260612000000 but was never applied: " +
        "Atlas runs migrations in version order only",
    );
    // The online preflight says the same about the same file.
    await stack.setConfig("migrationPreflight", "online");
    const online = await stack.preview();
    await stack.setConfig("migrationPreflight", "offline");
    expect(online.code).not.toBe(0);
    expect(online.output).toContain(
      "20260601000000_merged_late.sql is older than the database's last migration 20260612000000 but was never applied",
    );
    fs.rmSync(path.join(stack.migrationsDir, "20260601000000_merged_late.sql"));
    stack.rehash();
  });

  it("a password rotation is named; the Job re-runs with the new password (nothing to apply), then the API rolls out", async () => {
    await query(adminUrl(), `ALTER ROLE ${ROLE} PASSWORD 'second0pass'`);
    await stack.setConfig("databaseDsn", dsn(db, "second0pass"), true);
    const preview = await stack.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toContain("databaseDsn changed but names the same database");
    expect(preview.output).toContain("a password rotation");
    expect(preview.output).toContain("no migration will run");
    expect(preview.output).not.toContain("second0pass");

    const jobsBefore = (await jobs()).map((j) => j.metadata.uid);
    const rsBefore = await replicaSetUids();
    const up = await stack.up();
    expect(up.code).toBe(0);
    const after = await jobs();
    expect(after).toHaveLength(1);
    expect(jobsBefore).not.toContain(after[0].metadata.uid);
    // The old password no longer works, so this success is the new one's.
    expect(after[0].status?.succeeded).toBe(1);
    expect(await revisions(db)).toEqual(REPO_VERSIONS);
    expect((await replicaSetUids()).filter((uid) => !rsBefore.includes(uid))).toHaveLength(1);
  });

  it("another database: refused offline until accepted, then a full run on it and an API rollout", async () => {
    await stack.setConfig("databaseDsn", dsn(db2, "second0pass"), true);
    const refused = await stack.preview();
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("the database changed: databaseDsn now points at 127.0.0.1:");
    expect(refused.output).toContain("pulumi config set migrationPreflight online");
    const identity = /pulumi config set migrationAcceptDatabase ([0-9a-f]{16})/.exec(refused.output)?.[1];
    expect(identity).toBeDefined();

    await stack.setConfig("migrationAcceptDatabase", identity!);
    const preview = await stack.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toContain("planned as unknown: every migration may run");
    expect(preview.output).toContain("5 migration(s) will run, in this order:");
    const rsBefore = await replicaSetUids();
    const up = await stack.up();
    expect(up.code).toBe(0);
    expect(await revisions(db2)).toEqual(REPO_VERSIONS);
    expect((await stack.outputs()).appliedDatabase).toBe(identity);
    expect((await replicaSetUids()).filter((uid) => !rsBefore.includes(uid))).toHaveLength(1);
    // Recorded now: the acceptance is spent, the same database plans normally.
    stack.removeConfig("migrationAcceptDatabase");
    const again = await stack.preview();
    expect(again.code).toBe(0);
    expect(again.output).toContain("no migration will run");
  });

  it("a migration stuck in pg_sleep: the Job fails, and within seconds no backend or advisory lock is left; the fixed file applies", async () => {
    stack.writeMigration("20270101000000_slow.sql", "SELECT pg_sleep(10000);\n");
    const up = await stack.up();
    expect(up.code).not.toBe(0);
    const failedAt = Date.now();
    let left = { backends: -1, locks: -1 };
    while (Date.now() - failedAt < 10_000) {
      [left] = await query<{ backends: number; locks: number }>(
        db2.url,
        `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1) AS backends,
                (SELECT count(*)::int FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                  WHERE l.locktype = 'advisory' AND d.datname = current_database()) AS locks`,
        [MIGRATION_APPLICATION_NAME],
      );
      if (left.backends === 0 && left.locks === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(left).toEqual({ backends: 0, locks: 0 });

    stack.writeMigration("20270101000000_slow.sql", "CREATE TABLE quick (id text);\n");
    const fixed = await stack.up();
    expect(fixed.code).toBe(0);
    expect(await revisions(db2)).toContain("20270101000000");
  });

  it("rolling the API back: refused by default; with rollbackWithoutMigrations the Job is not re-run", async () => {
    // The older release: its directory lacks the newest migration, its image is older.
    fs.rmSync(path.join(stack.migrationsDir, "20270101000000_slow.sql"));
    stack.rehash();
    await stack.setConfig("imageTag", "v1.3.0");
    for (const mode of ["offline", "online"]) {
      await stack.setConfig("migrationPreflight", mode);
      const refused = await stack.preview();
      expect(refused.code).not.toBe(0);
      expect(refused.output).toContain("the database has migration 20270101000000");
      expect(refused.output).toContain("rollbackWithoutMigrations");
    }

    await stack.setConfig("rollbackWithoutMigrations", "true");
    const preview = await stack.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toContain("no migration will run: the Job is not re-run");
    expect(preview.output).toContain("the migration Job is kept as it is and not re-run");
    const steps = await stack.previewSteps();
    expect(steps.find((s) => s.type === "kubernetes:apps/v1:Deployment")?.op).toBe("update");
    expect(jobStep(steps)).toBe("same");
    expect(steps.filter((s) => s.op !== "same").map((s) => s.type)).not.toContain("kubernetes:core/v1:ConfigMap");

    const podsBefore = (await migrationPods()).map((p) => p.metadata.uid);
    const jobsBefore = (await jobs()).map((j) => j.metadata.uid);
    const up = await stack.up();
    expect(up.code).toBe(0);
    expect(await image()).toBe("ghcr.io/italia/developers-italia-api:v1.3.0");
    expect((await jobs()).map((j) => j.metadata.uid)).toEqual(jobsBefore);
    expect((await migrationPods()).map((p) => p.metadata.uid)).toEqual(podsBefore);
    expect(await revisions(db2)).toContain("20270101000000");
    expect((await stack.outputs()).appliedVersion).toBe("20270101000000");
  });
});
