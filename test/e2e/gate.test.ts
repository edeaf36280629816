import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import {
  KubeClient,
  kubeClient,
  KubeObject,
  Pod,
  revision,
  trueCondition,
  type Condition,
  type WatchRecorder,
} from "../../testbed/kube";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";
import { TestStack } from "../../testbed/stack";

/**
 * The gate on real parts: the real Pulumi engine and Kubernetes provider against the
 * local kube-apiserver and Job controller, migration pods really running Atlas (through
 * the test bed's executor) against the real PostgreSQL. The scenarios run in order, each
 * starting from the state the previous one left and checked.
 */

jest.setTimeout(15 * 60_000);

interface Deployment extends KubeObject {
  spec: {
    template: { metadata: { annotations?: Record<string, string> }; spec: { containers: Array<{ image: string }> } };
  };
}
interface ReplicaSet extends KubeObject {
  spec: { template: { spec: { containers: Array<{ image: string }> } } };
  status?: { replicas?: number; readyReplicas?: number };
}
interface JobObject extends KubeObject {
  status?: {
    completionTime?: string;
    succeeded?: number;
    failed?: number;
    conditions?: Condition[];
  };
}

const NS = `e2e-${process.pid}`;
const IMAGE_TAG = "v1.4.0";
// The Atlas image the test bed has (testbed/images.ts): exactly the release tools/versions.env
// builds. Set explicitly, so the suite runs that Atlas whatever the production default is.
const ATLAS_IMAGE = `arigaio/atlas:${
  /^ATLAS_VERSION=(.*)$/m.exec(fs.readFileSync(path.join(__dirname, "../../tools/versions.env"), "utf8"))![1]
}`;
let kube: KubeClient;
let db: TestDatabase;
let stack: TestStack;
// Every change to the namespace's Jobs and ReplicaSets, from a watch on the API server.
let jobWatch: WatchRecorder<JobObject>;
let rsWatch: WatchRecorder<ReplicaSet>;

/**
 * Asserts from the watches that the Job `jobName` reported Complete at an earlier etcd
 * revision than the one at which the ReplicaSet `rsUid` was created: an order that holds even
 * when both happen in the same second (creationTimestamp and completionTime have 1 s resolution).
 */
async function expectCompletedBeforeCreated(jobName: string, rsUid: string): Promise<void> {
  const [completed, created] = await kube.waitFor(
    async () => {
      for (const w of [jobWatch, rsWatch]) if (w.error()) throw w.error();
      const c = jobWatch.events.find(
        (e) => e.object.metadata.name === jobName && trueCondition(e.object, "Complete") !== undefined,
      );
      const r = rsWatch.events.find((e) => e.type === "ADDED" && e.object.metadata.uid === rsUid);
      return c && r ? ([c, r] as const) : undefined;
    },
    { timeoutMs: 10_000, what: `watch events for Job ${jobName} completing and ReplicaSet ${rsUid} being added` },
  );
  expect(revision(completed.object)).toBeLessThan(revision(created.object));
}

/** Atlas's advisory-lock key for migrate apply: FNV-1 (32 bit) of "atlas_migrate_execute" (sql/postgres Driver.Lock). */
function atlasApplyLockKey(): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from("atlas_migrate_execute")) {
    h = Math.imul(h, 0x01000193) >>> 0;
    h = (h ^ b) >>> 0;
  }
  return h;
}

const jobs = async () =>
  (await kube.list<JobObject>(`/apis/batch/v1/namespaces/${NS}/jobs`)).items.sort((a, b) =>
    a.metadata.creationTimestamp!.localeCompare(b.metadata.creationTimestamp!),
  );
const migrationPods = async () =>
  (await kube.list<Pod>(`/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/component%3Dmigration`)).items;
const replicaSets = async () =>
  (await kube.list<ReplicaSet>(`/apis/apps/v1/namespaces/${NS}/replicasets`)).items.sort((a, b) =>
    a.metadata.creationTimestamp!.localeCompare(b.metadata.creationTimestamp!),
  );
const deployment = async () => (await kube.list<Deployment>(`/apis/apps/v1/namespaces/${NS}/deployments`)).items[0];
const revisions = () =>
  query<{ version: string }>(
    db.url,
    "SELECT version FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
  );
const namespaceExists = async () => (await kube.tryGet(`/api/v1/namespaces/${NS}`)) !== undefined;

beforeAll(async () => {
  kube = kubeClient();
  jobWatch = await kube.record<JobObject>(`/apis/batch/v1/namespaces/${NS}/jobs`);
  rsWatch = await kube.record<ReplicaSet>(`/apis/apps/v1/namespaces/${NS}/replicasets`);
  db = await createDatabase("e2e");
  const u = new URL(db.url);
  // The libpq form, as operators write it; the program turns it into Atlas's URL.
  const dsn = `host=${u.hostname} port=${u.port} dbname=${db.name} user=${decodeURIComponent(u.username)} password='${decodeURIComponent(u.password)}' sslmode=disable`;
  stack = await TestStack.create(
    "e2e",
    {
      namespace: NS,
      replicas: "2",
      imageTag: IMAGE_TAG,
      atlasImage: ATLAS_IMAGE,
      migrationDeadlineSeconds: "60",
      environment: "test",
    },
    dsn,
  );
});

afterAll(async () => {
  jobWatch?.stop();
  rsWatch?.stop();
  stack?.remove();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  await db?.drop();
  kube?.close();
});

describe("the migration gate, end to end", () => {
  it("1. an edited migration without a re-hash fails preview, naming the file, before anything exists", async () => {
    const file = path.join(stack.migrationsDir, "20260525000000_catalog_analysis.sql");
    const original = fs.readFileSync(file);
    fs.appendFileSync(file, "\n-- a harmless-looking edit\n");
    const preview = await stack.preview();
    fs.writeFileSync(file, original);
    expect(preview.code).not.toBe(0);
    expect(preview.output).toContain("20260525000000_catalog_analysis.sql was edited after atlas.sum was written");
    expect(preview.output).toContain("npm run migrations:hash");
    expect(await namespaceExists()).toBe(false);
  });

  it("first up: the Job applies every migration, then the Deployment rolls", async () => {
    const preview = await stack.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).not.toMatch(/unreachable/i);
    expect(preview.output).toContain("5 migration(s) will run, in this order:");

    const up = await stack.up();
    expect(up.code).toBe(0);
    expect((await revisions()).map((r) => r.version)).toHaveLength(5);
    // The database password is nowhere in the output or the stack's state.
    const password = decodeURIComponent(new URL(db.url).password);
    for (const text of [preview.output, up.output, await stack.stateFiles()]) expect(text).not.toContain(password);
    const [job] = await jobs();
    expect(job.status?.succeeded).toBe(1);
    const outputs = await stack.outputs();
    expect(outputs.appliedVersion).toBe("20260612000000");
    expect(outputs.jobName).toBe(job.metadata.name);
    const [rs] = await replicaSets();
    await expectCompletedBeforeCreated(job.metadata.name!, rs.metadata.uid!);
  });

  it("2. a new migration: preview lists exactly it; up applies it before the new ReplicaSet exists", async () => {
    stack.writeMigration("20270101000000_software_tags.sql", "ALTER TABLE software ADD COLUMN tags text;\n");
    const preview = await stack.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toContain("1 migration(s) will run, in this order:\n");
    expect(preview.output).toContain("20270101000000  20270101000000_software_tags.sql");
    expect(preview.output).not.toContain("20260612000000  ");

    const before = await replicaSets();
    const up = await stack.up();
    expect(up.code).toBe(0);
    expect((await revisions()).map((r) => r.version)).toContain("20270101000000");
    const newJob = (await jobs()).pop()!;
    const newRs = (await replicaSets()).filter((rs) => !before.some((b) => b.metadata.uid === rs.metadata.uid));
    expect(newRs).toHaveLength(1);
    await expectCompletedBeforeCreated(newJob.metadata.name!, newRs[0].metadata.uid!);
    expect((await deployment()).spec.template.metadata.annotations?.["deploy.developers.italia.it/migration-job"]).toBe(
      newJob.metadata.name,
    );
  });

  let failedJobName = "";
  it("3. a failing migration with an image change: up fails with PostgreSQL's error, the Deployment is untouched", async () => {
    const rsBefore = await replicaSets();
    stack.writeMigration(
      "20270102000000_broken.sql",
      "CREATE TABLE broken_first (id text);\nALTER TABLE no_such_table ADD COLUMN x text;\n",
    );
    await stack.setConfig("imageTag", "v1.4.1");
    const up = await stack.up();
    expect(up.code).not.toBe(0);
    expect(up.output).toContain('relation "no_such_table" does not exist');
    expect((await stack.outputs()).appliedVersion).toBe("20270101000000");
    const dep = await deployment();
    expect(dep.spec.template.spec.containers[0].image).toBe(`ghcr.io/italia/developers-italia-api:${IMAGE_TAG}`);
    const rsAfter = await replicaSets();
    expect(rsAfter.map((rs) => rs.metadata.uid)).toEqual(rsBefore.map((rs) => rs.metadata.uid));
    expect(rsAfter[rsAfter.length - 1].status?.readyReplicas).toBe(2);
    const failed = (await jobs()).find((j) => (j.status?.failed ?? 0) > 0);
    expect(failed).toBeDefined();
    failedJobName = failed!.metadata.name ?? "";
    expect(await query(db.url, "SELECT to_regclass('public.broken_first') AS t")).toEqual([{ t: null }]);
  });

  it("4. fix, re-hash, up: a new Job succeeds, the Deployment updates, the failed Job is gone", async () => {
    stack.writeMigration("20270102000000_broken.sql", "CREATE TABLE fixed_first (id text);\n");
    const up = await stack.up();
    expect(up.code).toBe(0);
    const all = await jobs();
    expect(all.map((j) => j.metadata.name)).not.toContain(failedJobName);
    expect(all).toHaveLength(1);
    expect(all[0].status?.succeeded).toBe(1);
    expect((await deployment()).spec.template.spec.containers[0].image).toBe(
      "ghcr.io/italia/developers-italia-api:v1.4.1",
    );
    expect((await revisions()).map((r) => r.version)).toContain("20270102000000");
  });

  it("4b. a transient failure (the migration lock held elsewhere): up fails and appliedVersion stays; once released, the next up replaces the failed Job with the same key", async () => {
    stack.writeMigration("20270103000000_after_lock.sql", "CREATE TABLE after_lock (id int);\n");
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    let failedName = "";
    let failedKey = "";
    try {
      await holder.query("SELECT pg_advisory_lock($1)", [atlasApplyLockKey()]);
      const failed = await stack.up();
      expect(failed.code).not.toBe(0);
      // Atlas waited migrationLockTimeout for the lock, then gave up.
      expect(failed.output).toContain("acquiring database lock");
      expect((await stack.outputs()).appliedVersion).toBe("20270102000000");
      expect((await revisions()).map((r) => r.version)).not.toContain("20270103000000");
      const failedJob = (await jobs()).find((j) => (j.status?.failed ?? 0) > 0);
      expect(failedJob).toBeDefined();
      failedName = failedJob!.metadata.name!;
      const pod = (await migrationPods()).find(
        (p) => p.metadata.labels?.["batch.kubernetes.io/job-name"] === failedName,
      );
      failedKey = pod?.metadata.annotations?.["deploy.developers.italia.it/migration-key"] ?? "";
      expect(failedKey).not.toBe("");
    } finally {
      await holder.end(); // the session ends: the lock is released
    }

    const rsBefore = await replicaSets();
    const up = await stack.up();
    expect(up.code).toBe(0);
    const all = await jobs();
    expect(all).toHaveLength(1);
    expect(all[0].metadata.name).not.toBe(failedName);
    expect(all[0].status?.succeeded).toBe(1);
    const pods = await migrationPods();
    const newPod = pods.find((p) => p.metadata.labels?.["batch.kubernetes.io/job-name"] === all[0].metadata.name);
    expect(newPod?.metadata.annotations?.["deploy.developers.italia.it/migration-key"]).toBe(failedKey);
    const outputs = await stack.outputs();
    expect(outputs.migrationKey).toBe(failedKey);
    expect(outputs.appliedVersion).toBe("20270103000000");
    expect((await revisions()).map((r) => r.version)).toContain("20270103000000");
    const newRs = (await replicaSets()).filter((rs) => !rsBefore.some((b) => b.metadata.uid === rs.metadata.uid));
    expect(newRs).toHaveLength(1);
    await expectCompletedBeforeCreated(all[0].metadata.name!, newRs[0].metadata.uid!);
  });

  it("5. an app-only change: no Job change in preview, no migration pod in up, nothing after refresh", async () => {
    await stack.setConfig("maxRequests", "100");
    const steps = await stack.previewSteps();
    // `preview --json` lists changed resources only; the Deployment's step proves the parse.
    expect(steps.find((s) => s.type === "kubernetes:apps/v1:Deployment")?.op).toBe("update");
    expect(steps.filter((s) => s.type === "kubernetes:batch/v1:Job" && s.op !== "same")).toEqual([]);
    expect(steps.filter((s) => s.op !== "same").map((s) => s.type)).not.toContain("kubernetes:core/v1:ConfigMap");

    const podsBefore = (await migrationPods()).map((p) => p.metadata.uid);
    const jobsBefore = (await jobs()).map((j) => j.metadata.uid);
    expect((await stack.up()).code).toBe(0);
    expect((await migrationPods()).map((p) => p.metadata.uid)).toEqual(podsBefore);
    expect((await jobs()).map((j) => j.metadata.uid)).toEqual(jobsBefore);

    expect((await stack.pulumi("refresh", "--yes", "--skip-preview")).code).toBe(0);
    const again = await stack.up("--expect-no-changes");
    expect(again.output).not.toContain("error:");
    expect(again.code).toBe(0);
  });

  it("6. setting and unsetting migrationBaseline once revisions exist changes neither the Job nor the Deployment", async () => {
    // Atlas ignores a baseline once revisions exist: no Job replaced, no rollout, no change at all.
    const noChanges = async () => {
      const preview = await stack.preview("--expect-no-changes");
      expect(preview.code === 0 ? "" : preview.output).toBe("");
    };
    await stack.setConfig("migrationPreflight", "online");
    await stack.setConfig("migrationBaseline", "20260525000000");
    await noChanges();
    const up = await stack.up();
    expect(up.code).toBe(0);
    expect(up.output).toContain("no migration will run");
    expect(
      await query(
        db.url,
        "SELECT count(*)::int AS n FROM atlas_schema_revisions.atlas_schema_revisions WHERE type = 1",
      ),
    ).toEqual([{ n: 0 }]);

    stack.removeConfig("migrationBaseline");
    await noChanges();
    expect((await stack.up()).code).toBe(0);
  });
});

describe("a baseline that would skip the schema", () => {
  let fresh: TestDatabase;
  let other: TestStack;
  const ns = `${NS}-b`;

  beforeAll(async () => {
    fresh = await createDatabase("e2e_baseline");
    other = await TestStack.create(
      "baseline",
      { namespace: ns, replicas: "1", migrationPreflight: "online", migrationBaseline: "20260525000000" },
      fresh.url,
    );
  });
  afterAll(async () => {
    other?.remove();
    await fresh?.drop();
  });

  it("fails pulumi up before any object exists, and writes nothing to the database", async () => {
    const up = await other.up();
    expect(up.code).not.toBe(0);
    expect(up.output).toContain(
      "migrationBaseline 20260525000000 would mark 4 migration(s) as applied on a database that has no schema",
    );
    expect(await kube.tryGet(`/api/v1/namespaces/${ns}`)).toBeUndefined();
    expect(await query(fresh.url, "SELECT to_regclass('atlas_schema_revisions.atlas_schema_revisions') AS t")).toEqual([
      { t: null },
    ]);
  });
});
