import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ScalingSpec as Scaling } from "../lib/spec";

export interface ScalingArgs {
  readonly namespace: pulumi.Input<string>;
  readonly labels: Readonly<Record<string, string>>;
  /** The API pods' selector. */
  readonly selector: Readonly<Record<string, string>>;
  readonly deployment: k8s.apps.v1.Deployment;
  readonly settings: Scaling;
}

export interface ScalingResources {
  readonly hpa?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
  readonly pdb?: k8s.policy.v1.PodDisruptionBudget;
}

/** autoscaling/v2 metrics for the configured utilization targets. */
export function hpaMetrics(a: NonNullable<Scaling["autoscaling"]>): k8s.types.input.autoscaling.v2.MetricSpec[] {
  const target = (name: string, averageUtilization: number) => ({
    type: "Resource",
    resource: { name, target: { type: "Utilization", averageUtilization } },
  });
  return [
    ...(a.targetCPUUtilizationPercentage !== undefined ? [target("cpu", a.targetCPUUtilizationPercentage)] : []),
    ...(a.targetMemoryUtilizationPercentage !== undefined
      ? [target("memory", a.targetMemoryUtilizationPercentage)]
      : []),
  ];
}

/**
 * The HorizontalPodAutoscaler (autoscaling/v2, which replaced the chart's removed v2beta1)
 * and the PodDisruptionBudget. With the HPA on, the Deployment leaves `replicas` out, so
 * Pulumi's server-side-apply field manager never owns `.spec.replicas`: the HPA (or a
 * `kubectl scale`) keeps the count through later `up`s, with no conflict and no reset.
 */
export function createScaling(name: string, args: ScalingArgs, parent: pulumi.Resource): ScalingResources {
  const metadata = { namespace: args.namespace, labels: args.labels };
  const { autoscaling, podDisruptionBudget } = args.settings;
  const hpa = autoscaling
    ? new k8s.autoscaling.v2.HorizontalPodAutoscaler(
        `${name}-hpa`,
        {
          metadata,
          spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: args.deployment.metadata.name },
            minReplicas: autoscaling.minReplicas,
            maxReplicas: autoscaling.maxReplicas,
            metrics: hpaMetrics(autoscaling),
          },
        },
        { parent },
      )
    : undefined;
  const pdb = podDisruptionBudget
    ? new k8s.policy.v1.PodDisruptionBudget(
        `${name}-pdb`,
        {
          metadata,
          spec: {
            selector: { matchLabels: args.selector },
            ...podDisruptionBudget,
            // A pod that never became ready must not block a drain: it serves nothing anyway.
            unhealthyPodEvictionPolicy: "AlwaysAllow",
          },
        },
        { parent },
      )
    : undefined;
  return { hpa, pdb };
}
