import * as fs from "fs";
import * as path from "path";
import { kubeClient, KubeClient, KubeObject, revision, type WatchRecorder } from "../../testbed/kube";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";
import { NEVER_READY_TAG, rolloutState } from "../../testbed/rollout";
import { TestStack } from "../../testbed/stack";
import { acknowledgementOf } from "../../lib/migration/guard";
import { migrationFile } from "../support/migrationFiles";

/**
 * docs/expand-contract.md's worked example through `pulumi up` on the test bed: the expand
 * Job, the rollout, the contract Job after it. A release that never becomes ready fails the
 * rollout, and the contract Job never runs then; a failed contract Job fails the `up` with its
 * cause while the new pods serve, and the next `up` after the fix needs no cleanup.
 */

jest.setTimeout(15 * 60_000);

interface JobObject extends KubeObject {
  status?: { succeeded?: number; failed?: number };
}
interface DeploymentObject extends KubeObject {
  spec: { template: { spec: { containers: Array<{ image: string }> } } };
  status?: { updatedReplicas?: number; readyReplicas?: number; observedGeneration?: number };
}

const NS = `e2e-contract-${process.pid}`;
const EXAMPLE = path.join(__dirname, "../../docs/examples/rename-column");
const EXPAND_FILE = "20270101000000_add_publishers_external_id.sql";
const INDEX_FILE = "20270101000100_index_publishers_external_id.sql";
const CONTRACT_FILE = "contract/20270101000200_drop_publishers_alternative_id.sql";
const CONTRACT_VERSION = "20270101000200";

let kube: KubeClient;
let db: TestDatabase;
let stack: TestStack;
let jobWatch: WatchRecorder<JobObject>;
let deploymentWatch: WatchRecorder<DeploymentObject>;

const jobs = async () => (await kube.list<JobObject>(`/apis/batch/v1/namespaces/${NS}/jobs`)).items;
const contractJobs = async () =>
  (await jobs()).filter((j) => j.metadata.name?.startsWith("developers-italia-api-contract-job"));
const columns = async () =>
  (
    await query<{ column_name: string }>(
      db.url,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'publishers' ORDER BY column_name",
    )
  ).map((r) => r.column_name);
const contractRevisions = async () =>
  (
    await query<{ t: string | null }>(
      db.url,
      "SELECT to_regclass('atlas_schema_revisions_contract.atlas_schema_revisions')::text AS t",
    )
  )[0].t === null
    ? []
    : (
        await query<{ version: string }>(
          db.url,
          "SELECT version FROM atlas_schema_revisions_contract.atlas_schema_revisions ORDER BY version",
        )
      ).map((r) => r.version);
const example = (name: string) => fs.readFileSync(path.join(EXAMPLE, name), "utf8");

beforeAll(async () => {
  kube = kubeClient();
  jobWatch = await kube.record<JobObject>(`/apis/batch/v1/namespaces/${NS}/jobs`);
  deploymentWatch = await kube.record<DeploymentObject>(`/apis/apps/v1/namespaces/${NS}/deployments`);
  db = await createDatabase("e2e_contract");
  stack = await TestStack.create(
    "contract",
    {
      namespace: NS,
      replicas: "1",
      imageTag: "v1.4.0",
      migrationDeadlineSeconds: "60",
      rolloutTimeoutSeconds: "15",
      environment: "test",
    },
    db.url,
  );
});

afterAll(async () => {
  jobWatch?.stop();
  deploymentWatch?.stop();
  stack?.remove();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  await db?.drop();
  kube?.close();
});

describe("expand, roll out, contract on the test bed", () => {
  it("the release before: no contract directory, no contract Job, rows written", async () => {
    const up = await stack.up();
    expect(up.code).toBe(0);
    expect(await contractJobs()).toEqual([]);
    await query(db.url, "INSERT INTO publishers (id, description, alternative_id) VALUES ('p1', 'one', 'alt-1')");
  });

  it("preview shows both phases, and the contract file's acknowledgement is for data loss only", async () => {
    stack.writeMigration(EXPAND_FILE, example(EXPAND_FILE));
    stack.writeMigration(INDEX_FILE, example(INDEX_FILE));
    stack.writeMigration(CONTRACT_FILE, example(CONTRACT_FILE));
    const refused = await stack.preview();
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("20270101000200_drop_publishers_alternative_id.sql:4");
    const ack = acknowledgementOf(
      migrationFile(CONTRACT_VERSION, example(CONTRACT_FILE), "drop_publishers_alternative_id"),
    );
    await stack.setConfig("allowDestructiveMigrations", JSON.stringify([ack]));
    const preview = await stack.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toMatch(
      /2 migration\(s\) will run, in this order:\n\s+20270101000000 {2}20270101000000_add_publishers_external_id\.sql\n\s+20270101000100 {2}20270101000100_index_publishers_external_id\.sql {2}\(runs outside a transaction/,
    );
    expect(preview.output).toMatch(
      /Contract migrations, after the rollout \(preflight offline;[^\n]*\n[\s\S]*20270101000200 {2}20270101000200_drop_publishers_alternative_id\.sql/,
    );
  });

  it("a release that never becomes ready: up fails at the rollout; expanded, not contracted; the old pod serves", async () => {
    await stack.setConfig("imageTag", NEVER_READY_TAG);
    const up = await stack.up();
    expect(up.code).not.toBe(0);
    expect(await columns()).toEqual(expect.arrayContaining(["alternative_id", "external_id"]));
    expect(await contractJobs()).toEqual([]);
    expect(await contractRevisions()).toEqual([]);
    const state = await rolloutState(kube, NS);
    expect(state[0].pods.map((p) => p.ready)).toEqual([true]);
    expect(state[state.length - 1].image).toContain(NEVER_READY_TAG);
    expect((await stack.outputs()).appliedContractVersion).toBeUndefined();

    // And again, with nothing changed: still no contract Job while the rollout has not completed.
    const again = await stack.up();
    expect(again.code).not.toBe(0);
    expect(await contractJobs()).toEqual([]);
    expect(await columns()).toContain("alternative_id");
  });

  it("the good release: the contract Job runs once its pods are ready, and drops the old column", async () => {
    const expandJobs = async () =>
      (await jobs())
        .filter((j) => j.metadata.name?.startsWith("developers-italia-api-migrate-job"))
        .map((j) => j.metadata.uid);
    const expandedBy = await expandJobs();
    await stack.setConfig("imageTag", "v1.5.0");
    const up = await stack.up();
    expect(up.code).toBe(0);
    // The expand phase is not run again: its Job, which succeeded in the failed up, is kept (and
    // the one it replaced is deleted now, at the end of the first up that succeeds).
    const kept = await expandJobs();
    expect(kept).toHaveLength(1);
    expect(expandedBy).toContain(kept[0]);
    const [job] = await contractJobs();
    expect(job.status?.succeeded).toBe(1);
    expect(await columns()).not.toContain("alternative_id");
    expect(await query(db.url, "SELECT id, external_id FROM publishers")).toEqual([{ id: "p1", external_id: "alt-1" }]);
    expect(await contractRevisions()).toEqual([CONTRACT_VERSION]);
    const outputs = await stack.outputs();
    expect(outputs.appliedContractVersion).toBe(CONTRACT_VERSION);
    expect(outputs.contractJobName).toBe(job.metadata.name);
    // Order, from the watches: the Deployment reported every replica updated and ready before the Job existed.
    const created = jobWatch.events.find((e) => e.type === "ADDED" && e.object.metadata.name === job.metadata.name)!;
    const rolledOut = deploymentWatch.events.find(
      ({ object: d }) =>
        d.spec.template.spec.containers[0].image.endsWith(":v1.5.0") &&
        (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
        d.status?.updatedReplicas === 1 &&
        d.status?.readyReplicas === 1,
    );
    expect(rolledOut).toBeDefined();
    expect(revision(rolledOut!.object)).toBeLessThan(revision(created.object));

    const preview = await stack.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toMatch(/Contract migrations, after the rollout[^\n]*\n[\s\S]*no migration will run/);
  });

  it("a failed contract Job fails the up with its cause while the new pods serve; the fix needs no cleanup", async () => {
    stack.writeMigration("contract/20270102000001_broken.sql", "ALTER TABLE no_such_table ADD COLUMN x text;\n");
    await stack.setConfig("imageTag", "v1.5.1");
    const up = await stack.up();
    expect(up.code).not.toBe(0);
    expect(up.output).toContain('relation "no_such_table" does not exist');
    const state = await rolloutState(kube, NS);
    const serving = state[state.length - 1];
    expect(serving.image).toContain("v1.5.1");
    expect(serving.pods.map((p) => p.ready)).toEqual([true]);
    expect((await stack.outputs()).appliedContractVersion).toBe(CONTRACT_VERSION);

    stack.writeMigration("contract/20270102000001_broken.sql", "COMMENT ON TABLE publishers IS 'fixed';\n");
    const fixed = await stack.up();
    expect(fixed.code).toBe(0);
    const all = await contractJobs();
    expect(all).toHaveLength(1);
    expect(all[0].status?.succeeded).toBe(1);
    expect(await contractRevisions()).toEqual([CONTRACT_VERSION, "20270102000001"]);
    expect((await stack.outputs()).appliedContractVersion).toBe("20270102000001");
  });
});
