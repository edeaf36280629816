import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { SchedulingSpec, WorkloadSpec } from "../lib/spec";

type PodSpec = k8s.types.input.core.v1.PodSpec;

/**
 * The API's ServiceAccount (the chart's serviceAccount.*), distinct from the migration's:
 * created by default (autonamed, or named by serviceAccount.name) with its annotations for
 * workload identity; or an existing account used by name.
 */
export function serviceAccountName(
  name: string,
  sa: WorkloadSpec["serviceAccount"],
  metadata: { namespace: pulumi.Input<string>; labels: Record<string, string> },
  parent: pulumi.Resource,
): { resource?: k8s.core.v1.ServiceAccount; name: pulumi.Input<string>; automountToken: boolean } {
  if (!sa.create) return { name: sa.name, automountToken: sa.automountToken };
  const resource = new k8s.core.v1.ServiceAccount(
    `${name}-api-sa`,
    {
      metadata: {
        ...metadata,
        ...(sa.name ? { name: sa.name } : {}),
        ...(Object.keys(sa.annotations).length > 0 ? { annotations: sa.annotations } : {}),
      },
      automountServiceAccountToken: sa.automountToken,
    },
    { parent },
  );
  return { resource, name: resource.metadata.name, automountToken: sa.automountToken };
}

/**
 * Where the API pods run and how their image is pulled. A topology spread constraint
 * without a labelSelector spreads the API's own pods.
 */
export function schedulingSpec(s: SchedulingSpec, selector: Readonly<Record<string, string>>): Partial<PodSpec> {
  const spec: Partial<PodSpec> = {};
  if (s.imagePullSecrets.length) spec.imagePullSecrets = s.imagePullSecrets.map((n) => ({ name: n }));
  if (Object.keys(s.nodeSelector).length > 0) spec.nodeSelector = { ...s.nodeSelector };
  if (s.tolerations.length) spec.tolerations = s.tolerations.map((t) => ({ ...t }));
  if (s.affinity) spec.affinity = s.affinity as k8s.types.input.core.v1.Affinity;
  if (s.topologySpreadConstraints.length) {
    spec.topologySpreadConstraints = s.topologySpreadConstraints.map((c) => ({
      ...c,
      labelSelector: c.labelSelector ?? { matchLabels: { ...selector } },
    })) as k8s.types.input.core.v1.TopologySpreadConstraint[];
  }
  if (s.priorityClassName) spec.priorityClassName = s.priorityClassName;
  return spec;
}
