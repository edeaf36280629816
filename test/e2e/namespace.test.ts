import { KubeClient, kubeClient, KubeObject } from "../../testbed/kube";
import { createDatabase, TestDatabase } from "../../testbed/pg";
import { CommandResult, TestStack } from "../../testbed/stack";

/**
 * Issue 27 on real parts: a stack with the default createNamespace deployed into a namespace
 * that already holds someone else's objects (a Helm release's Secret), as a chart user who
 * forgot `createNamespace: false` does. Server-side apply adopts the namespace; `destroy` must
 * leave it and what it holds. On the way, the baseline that took effect on the first run is
 * removed from the config: the Job and the Deployment must not change for it.
 */

jest.setTimeout(10 * 60_000);

const NS = `e2e-ns-${process.pid}`;
// The newest version: on this fresh database Atlas records it and runs nothing (preflight off
// allows it unchecked), enough to make the first run's Job carry `--baseline`.
const BASELINE = "20260612000000";

/** Fails with the command's output, which says why. */
function succeeded(result: CommandResult) {
  if (result.code !== 0) throw new Error(`exit ${result.code}:\n${result.output}`);
}

let kube: KubeClient;
let db: TestDatabase;
let stack: TestStack;

beforeAll(async () => {
  kube = kubeClient();
  db = await createDatabase("e2ens");
  stack = await TestStack.create(
    "ns",
    {
      namespace: NS,
      // Set, as Pulumi.yaml (d23f69a) declares it without a default and the CLI then requires it.
      instance: "ns",
      replicas: "1",
      migrationDeadlineSeconds: "60",
      migrationPreflight: "off",
      migrationBaseline: BASELINE,
    },
    db.url,
  );
});

afterAll(async () => {
  stack?.remove();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  await db?.drop();
  kube?.close();
});

it("adopts an existing namespace, ignores a removed baseline, and destroy leaves the namespace and its foreign objects", async () => {
  const namespace = await kube.post<KubeObject>("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: NS },
  });
  // What `helm install` stores for a release, and a Secret of the user's own.
  const release = await kube.post<KubeObject>(`/api/v1/namespaces/${NS}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "sh.helm.release.v1.api.v1", labels: { owner: "helm", name: "api" } },
    type: "helm.sh/release.v1",
    data: { release: Buffer.from("release").toString("base64") },
  });

  const up = await stack.up();
  succeeded(up);
  expect((await kube.get<KubeObject>(`/api/v1/namespaces/${NS}`)).metadata.uid).toBe(namespace.metadata.uid);

  // After the switch (docs/helm-chart.md, step 6) the baseline goes: Atlas would ignore it, so nothing changes.
  stack.removeConfig("migrationBaseline");
  const preview = await stack.preview("--expect-no-changes");
  succeeded(preview);

  const destroy = await stack.pulumi("destroy", "--yes", "--skip-preview");
  succeeded(destroy);
  const after = await kube.tryGet<KubeObject>(`/api/v1/namespaces/${NS}`);
  expect(after?.metadata.uid).toBe(namespace.metadata.uid);
  expect(after?.metadata.deletionTimestamp).toBeUndefined();
  const kept = await kube.tryGet<KubeObject>(`/api/v1/namespaces/${NS}/secrets/${release.metadata.name}`);
  expect(kept?.metadata.uid).toBe(release.metadata.uid);
  // Only the stack's own objects went.
  const deployments = await kube.list<KubeObject>(`/apis/apps/v1/namespaces/${NS}/deployments`);
  expect(deployments.items.map((d) => d.metadata.name)).toEqual([]);
});
