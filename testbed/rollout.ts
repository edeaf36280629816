import type { KubeClient, KubeObject, Pod } from "./kube";

/**
 * A failed rollout on the test bed. kwok makes every pod that no Job owns Running and Ready
 * (testbed/kwok-stages.yaml), so no release of the API could ever fail there; a pod with a
 * container whose image carries this tag is made Running but never Ready instead (kwok's stage
 * `pod-never-ready`: its readiness probe failing, as a release whose /readyz never passes), in
 * any repository: `imageTag: testbed-never-ready` in a stack's config is a broken release.
 */
export const NEVER_READY_TAG = "testbed-never-ready";

export interface ReplicaSet extends KubeObject {
  spec: { replicas?: number; template: { spec: { containers: Array<{ image: string }> } } };
  status?: { replicas?: number; readyReplicas?: number };
}

/** One ReplicaSet of a rollout and its pods as the API server has them. */
export interface RolloutReplicaSet {
  readonly name: string;
  /** deployment.kubernetes.io/revision: the Deployment's revision this ReplicaSet belongs to. */
  readonly revision: number;
  readonly image: string;
  /** Desired replicas (0 once scaled down). */
  readonly replicas: number;
  readonly pods: ReadonlyArray<{ readonly name: string; readonly phase?: string; readonly ready: boolean }>;
}

/**
 * A namespace's ReplicaSets, oldest revision first, each with its pods (those it owns) and
 * whether each is Ready: what a rollout left behind, for a test to assert which release serves.
 */
export async function rolloutState(kube: KubeClient, namespace: string): Promise<RolloutReplicaSet[]> {
  const [replicaSets, pods] = await Promise.all([
    kube.list<ReplicaSet>(`/apis/apps/v1/namespaces/${namespace}/replicasets`),
    kube.list<Pod>(`/api/v1/namespaces/${namespace}/pods`),
  ]);
  return replicaSets.items
    .map((rs) => ({
      name: rs.metadata.name!,
      revision: Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0),
      image: rs.spec.template.spec.containers[0].image,
      replicas: rs.spec.replicas ?? 0,
      pods: pods.items
        .filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === rs.metadata.uid))
        .map((p) => ({
          name: p.metadata.name!,
          phase: p.status?.phase,
          ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
        })),
    }))
    .sort((a, b) => a.revision - b.revision);
}
