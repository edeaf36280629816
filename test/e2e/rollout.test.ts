import * as path from "path";
import { kubeClient, type Condition, type KubeClient, type KubeObject } from "../../testbed/kube";
import { createDatabase, type TestDatabase } from "../../testbed/pg";
import { NEVER_READY_TAG, rolloutState, type RolloutReplicaSet } from "../../testbed/rollout";
import { type CommandResult, TestStack } from "../../testbed/stack";

/**
 * A failed rollout, on real parts: the real Pulumi engine and Kubernetes provider against the
 * local control plane, a release whose pods never become Ready (the test bed's
 * testbed-never-ready tag). What the contract phase (issue 25) builds on: how the failed `up`
 * ends, that the old pods keep serving, that the next `up` with no change awaits the rollout
 * again and fails again (the engine's initErrors), so a resource that depends on the Deployment
 * is neither created nor updated until a good release rolls out. The steps run in order, each
 * from the state the previous one left. A provider or engine upgrade that changes any of this
 * fails here.
 */

jest.setTimeout(10 * 60_000);

const NS = `e2e-rollout-${process.pid}`;
const API = "ghcr.io/italia/developers-italia-api";
/** Short, so each failed `up` takes seconds: Kubernetes' deadline, then Pulumi's await 10 s later. */
const ROLLOUT_TIMEOUT_SECONDS = 10;
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
/**
 * A bound, not a measure: a failed `up` ends when Pulumi's await does, 20 s into the rollout
 * (about 25 s in all here). Without rolloutTimeoutSeconds reaching the await (customTimeouts),
 * it would end at the provider's default, 10 min, and the test fails on this bound.
 */
const FAILED_UP_BOUND_MS = 3 * 60_000;

interface Deployment extends KubeObject {
  metadata: KubeObject["metadata"] & { generation?: number };
  status?: { conditions?: Condition[] };
}
interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

let kube: KubeClient;
let db: TestDatabase;
let stack: TestStack;

const deployment = async () => (await kube.list<Deployment>(`/apis/apps/v1/namespaces/${NS}/deployments`)).items[0];
const progressing = async () => (await deployment()).status?.conditions?.find((c) => c.type === "Progressing");
/** The ConfigMap the program makes after the rollout (test/support/afterRolloutProgram.ts). */
const afterRollout = async () =>
  (
    await kube.list<ConfigMap>(
      `/api/v1/namespaces/${NS}/configmaps?labelSelector=e2e.developers.italia.it%2Fafter-rollout`,
    )
  ).items.map((c) => c.data?.image);
const deploymentInitErrors = async () => (await stack.resources()).find((r) => r.type === DEPLOYMENT)?.initErrors;
/** The ReplicaSets without their pods' generated names. */
const replicaSets = async () =>
  (await rolloutState(kube, NS)).map((rs: RolloutReplicaSet) => ({
    name: rs.name,
    image: rs.image,
    replicas: rs.replicas,
    pods: rs.pods.map((p) => ({ phase: p.phase, ready: p.ready })),
  }));

/**
 * The failed await's errors, as the provider words them, for the ReplicaSet that did not roll
 * out: the timeout, and the Deployment's own verdict, which came first (progressDeadlineSeconds
 * is below the await's timeout). The provider may add others (the pods' status, when it has
 * aggregated them by then), so these are checked, not the count.
 */
const rolloutErrors = (replicaSet: string) => [
  `the Kubernetes API server reported that "${NS}/${deploymentName}" failed to fully initialize or become live: ` +
    `'${deploymentName}' timed out waiting to be Ready`,
  `[ProgressDeadlineExceeded] ReplicaSet "${replicaSet}" has timed out progressing.`,
];

function expectRolloutFailure(up: CommandResult, replicaSet: string): void {
  expect(up.code).not.toBe(0);
  expect(up.output).toMatch(/error: \d+ errors occurred:/);
  for (const error of rolloutErrors(replicaSet)) expect(up.output).toContain(error);
}

let deploymentName = "";
let outputsAfterGoodUp: Record<string, unknown>;
let good: Awaited<ReturnType<typeof replicaSets>>[number];
let broken: Awaited<ReturnType<typeof replicaSets>>[number];

beforeAll(async () => {
  kube = kubeClient();
  db = await createDatabase("e2e_rollout");
  stack = await TestStack.create(
    "rollout",
    {
      namespace: NS,
      replicas: "1",
      environment: "test",
      rolloutTimeoutSeconds: String(ROLLOUT_TIMEOUT_SECONDS),
    },
    db.url,
  );
  await stack.compileProgram(path.join(__dirname, "../support/afterRolloutProgram.ts"));
});

afterAll(async () => {
  stack?.remove();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  await db?.drop();
  kube?.close();
});

describe("a rollout that fails", () => {
  it("first up: the release rolls out, then the step after it runs", async () => {
    const up = await stack.up();
    expect(up.code).toBe(0);
    deploymentName = (await deployment()).metadata.name!;
    const sets = await replicaSets();
    expect(sets).toEqual([
      expect.objectContaining({ image: `${API}:v1.4.0`, pods: [{ phase: "Running", ready: true }] }),
    ]);
    good = sets[0];
    expect(await afterRollout()).toEqual([`${API}:v1.4.0`]);
    expect(await deploymentInitErrors()).toBeUndefined();
    outputsAfterGoodUp = await stack.outputs();
  });

  it(
    "a release that never becomes Ready: up fails at the deadline, the old pod keeps serving, the step after it does not run",
    async () => {
      await stack.setConfig("imageTag", NEVER_READY_TAG);
      const up = await stack.up();
      const sets = await replicaSets();
      expect(sets).toHaveLength(2);
      broken = sets[1];
      expectRolloutFailure(up, broken.name);
      // maxUnavailable 0: the old ReplicaSet keeps its Ready pod; the new one's never becomes Ready.
      expect(sets).toEqual([
        good,
        {
          name: broken.name,
          image: `${API}:${NEVER_READY_TAG}`,
          replicas: 1,
          pods: [{ phase: "Running", ready: false }],
        },
      ]);
      expect(await progressing()).toMatchObject({ status: "False", reason: "ProgressDeadlineExceeded" });
      // The engine records the failed await on the Deployment: its next up updates it again.
      expect(await deploymentInitErrors()).toEqual(expect.arrayContaining(rolloutErrors(broken.name)));
      expect(await afterRollout()).toEqual([`${API}:v1.4.0`]);
      // The program's outputs are not registered by a failed up: the last good up's stay.
      expect(await stack.outputs()).toEqual(outputsAfterGoodUp);
    },
    FAILED_UP_BOUND_MS,
  );

  it("preview after it: the Deployment is an update with no property changed (its initErrors), the step after it still pending", async () => {
    const steps = await stack.previewSteps();
    expect(steps.filter((s) => s.op !== "same" && s.op !== "read")).toEqual([
      { op: "update", type: DEPLOYMENT, name: "developers-italia-api-api", changed: [] },
      { op: "replace", type: "kubernetes:core/v1:ConfigMap", name: "after-rollout", changed: ["data.image"] },
    ]);
    const expectNone = await stack.preview("--expect-no-changes");
    expect(expectNone.code).not.toBe(0);
    expect(expectNone.output).toContain("error: no changes were expected for preview but changes were proposed");
  });

  it(
    "a second up with no change awaits the rollout again and fails the same way; the step after it still does not run",
    async () => {
      const generation = (await deployment()).metadata.generation;
      const up = await stack.up();
      expectRolloutFailure(up, broken.name);
      // Nothing was rolled: the same Deployment generation, the same two ReplicaSets and pods.
      expect((await deployment()).metadata.generation).toBe(generation);
      expect(await replicaSets()).toEqual([good, broken]);
      expect(await deploymentInitErrors()).toEqual(expect.arrayContaining(rolloutErrors(broken.name)));
      expect(await afterRollout()).toEqual([`${API}:v1.4.0`]);
    },
    FAILED_UP_BOUND_MS,
  );

  it("refresh keeps the Deployment failed (and the Service, whose endpoints hold the unready pod)", async () => {
    const unreadyPod = (await rolloutState(kube, NS))[1].pods[0].name;
    const refresh = await stack.pulumi("refresh", "--yes", "--skip-preview");
    expect(refresh.code).toBe(0);
    expect(refresh.output).toContain("warning: Refreshed resource is in an unhealthy state:");
    // Read from the cluster at once, so worded as a read: the pod's status is there.
    expect(await deploymentInitErrors()).toEqual([
      `Resource '${deploymentName}' was created but failed to initialize`,
      `[ProgressDeadlineExceeded] ReplicaSet "${broken.name}" has timed out progressing.`,
      "Minimum number of Pods to consider the application live was not attained",
      `[Pod ${NS}/${unreadyPod}]: containers with unready status: [developers-italia-api]`,
    ]);
    const steps = await stack.previewSteps();
    expect(steps.filter((s) => s.op !== "same" && s.op !== "read").map((s) => [s.op, s.type])).toEqual([
      ["update", "kubernetes:core/v1:Service"],
      ["update", DEPLOYMENT],
      ["replace", "kubernetes:core/v1:ConfigMap"],
    ]);
  });

  it("a good release: the rollout completes, the step after it runs, nothing is left failed", async () => {
    await stack.setConfig("imageTag", "v1.4.1");
    const up = await stack.up();
    expect(up.code).toBe(0);
    expect(await progressing()).toMatchObject({ status: "True", reason: "NewReplicaSetAvailable" });
    const sets = await replicaSets();
    expect(sets[sets.length - 1]).toMatchObject({ image: `${API}:v1.4.1`, pods: [{ phase: "Running", ready: true }] });
    // The old and the broken ReplicaSets are scaled to zero.
    expect(sets.slice(0, -1).map((rs) => rs.replicas)).toEqual([0, 0]);
    expect(await afterRollout()).toEqual([`${API}:v1.4.1`]);
    expect((await stack.resources()).filter((r) => r.initErrors)).toEqual([]);
    expect((await stack.preview("--expect-no-changes")).code).toBe(0);
  });
});
