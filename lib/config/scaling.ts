import { z } from "zod";
import { ConfigError, type ConfigSource } from "../settings";
import { readKey } from "./read";

/**
 * How many API pods run: a fixed `replicas`, or an autoscaling/v2 HorizontalPodAutoscaler
 * that owns the count; and the PodDisruptionBudget that keeps at least one pod through a
 * node drain.
 */

const percent = z.number().int().min(1).max(1000);

export const autoscalingSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    minReplicas: z.number().int().min(1).default(1),
    maxReplicas: z.number().int().min(1).max(1000).default(100),
    targetCPUUtilizationPercentage: percent.optional(),
    targetMemoryUtilizationPercentage: percent.optional(),
  })
  .default({ enabled: false, minReplicas: 1, maxReplicas: 100 })
  .refine((a) => a.minReplicas <= a.maxReplicas, {
    message: "minReplicas must not exceed maxReplicas",
    path: ["minReplicas"],
  });

const budget = z.union([z.number().int().min(0), z.string().regex(/^\d{1,3}%$/, "expected a count or a percentage")]);

export const podDisruptionBudgetSchema = z
  .strictObject({
    /** Unset: on when more than one replica can run. */
    enabled: z.boolean().optional(),
    minAvailable: budget.optional(),
    maxUnavailable: budget.optional(),
  })
  .default({})
  .refine((p) => p.minAvailable === undefined || p.maxUnavailable === undefined, {
    message: "set minAvailable or maxUnavailable, not both",
    path: ["minAvailable"],
  });

export interface Scaling {
  /** undefined when the HPA owns the count: the Deployment then leaves `replicas` out. */
  readonly replicas?: number;
  readonly autoscaling?: {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCPUUtilizationPercentage?: number;
    readonly targetMemoryUtilizationPercentage?: number;
  };
  readonly podDisruptionBudget?: { readonly minAvailable?: number | string; readonly maxUnavailable?: number | string };
}

/** The chart's default CPU target when autoscaling is on and no target is given. */
export const DEFAULT_CPU_TARGET = 80;

/**
 * `replicas` is the fixed count read with the other keys; with autoscaling on it is not
 * used (Pulumi.yaml gives it a default, so "set" and "defaulted" cannot be told apart).
 */
export function readScaling(config: ConfigSource, replicas: number): Scaling {
  const autoscaling = readKey(config, "autoscaling", autoscalingSchema);
  const pdb = readKey(config, "podDisruptionBudget", podDisruptionBudgetSchema);
  let scaling: Pick<Scaling, "replicas" | "autoscaling">;
  if (autoscaling.enabled) {
    const { minReplicas, maxReplicas } = autoscaling;
    const noTarget =
      autoscaling.targetCPUUtilizationPercentage === undefined &&
      autoscaling.targetMemoryUtilizationPercentage === undefined;
    scaling = {
      autoscaling: {
        minReplicas,
        maxReplicas,
        targetCPUUtilizationPercentage: noTarget ? DEFAULT_CPU_TARGET : autoscaling.targetCPUUtilizationPercentage,
        targetMemoryUtilizationPercentage: autoscaling.targetMemoryUtilizationPercentage,
      },
    };
  } else {
    scaling = { replicas };
  }
  // A budget only protects when another pod keeps serving; with a single pod it would block drains.
  const leastPods = scaling.autoscaling ? scaling.autoscaling.minReplicas : replicas;
  const enabled = pdb.enabled ?? leastPods > 1;
  if (pdb.enabled === true && leastPods < 2 && pdb.maxUnavailable === undefined) {
    throw new ConfigError(
      "podDisruptionBudget",
      `enabled with at most ${leastPods} replica always running would block every node drain; ` +
        "raise replicas (or autoscaling.minReplicas) to 2, or set podDisruptionBudget.maxUnavailable",
    );
  }
  return {
    ...scaling,
    podDisruptionBudget: enabled
      ? pdb.minAvailable !== undefined
        ? { minAvailable: pdb.minAvailable }
        : { maxUnavailable: pdb.maxUnavailable ?? 1 }
      : undefined,
  };
}
