import { z } from "zod";
import type { ScalingSpec } from "../spec";
import { ConfigError, type ConfigSource } from "./source";
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

const budget = z.union([
  z.number().int().min(0),
  z.string().regex(/^(100|[1-9]?\d)%$/, "expected a count or a percentage from 0% to 100%"),
]);

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

type Scaling = ScalingSpec;

/** The chart's default CPU target when autoscaling is on and no target is given. */
export const DEFAULT_CPU_TARGET = 80;

/** A budget value as a pod count when `pods` run: a percentage rounded up, as the disruption controller does. */
function podCount(value: number | string, pods: number): number {
  return typeof value === "number" ? value : Math.ceil((Number(value.slice(0, -1)) * pods) / 100);
}

/** How many pods a budget lets a drain evict when `pods` run. */
export function allowedDisruptions(budget: NonNullable<Scaling["podDisruptionBudget"]>, pods: number): number {
  if (budget.minAvailable !== undefined) return Math.max(0, pods - podCount(budget.minAvailable, pods));
  return Math.min(pods, podCount(budget.maxUnavailable ?? 1, pods));
}

/**
 * `replicas` is the fixed count read with the other keys; with autoscaling on it is not
 * used (Pulumi.yaml gives it a default, so "set" and "defaulted" cannot be told apart),
 * except that 0 (never the default) asks for no pods, which an HPA cannot keep.
 */
export function readScaling(config: ConfigSource, replicas: number): Scaling {
  const autoscaling = readKey(config, "autoscaling", autoscalingSchema);
  const pdb = readKey(config, "podDisruptionBudget", podDisruptionBudgetSchema);
  let scaling: Pick<Scaling, "replicas" | "autoscaling">;
  if (autoscaling.enabled) {
    if (replicas === 0) {
      throw new ConfigError(
        "replicas",
        "is 0 while autoscaling.enabled is true, and the HPA keeps at least autoscaling.minReplicas (1 or more) pods; " +
          "to stop the API set autoscaling.enabled to false, or remove replicas to let the HPA count",
      );
    }
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
  // A budget only protects when another pod keeps serving: on by default from 2 pods. With no
  // pods there is nothing to protect, so there is no budget even when it is enabled.
  const leastPods = scaling.autoscaling ? scaling.autoscaling.minReplicas : replicas;
  const enabled = leastPods > 0 && (pdb.enabled ?? leastPods > 1);
  if (!enabled) return { ...scaling, podDisruptionBudget: undefined };
  const budget =
    pdb.minAvailable !== undefined ? { minAvailable: pdb.minAvailable } : { maxUnavailable: pdb.maxUnavailable ?? 1 };
  if (allowedDisruptions(budget, leastPods) === 0)
    throw drainBlocked(budget, leastPods, scaling.autoscaling !== undefined);
  return { ...scaling, podDisruptionBudget: budget };
}

/** The budget lets no pod be evicted when the fewest pods run: every node drain would hang. */
function drainBlocked(
  budget: NonNullable<Scaling["podDisruptionBudget"]>,
  pods: number,
  autoscaled: boolean,
): ConfigError {
  const running = `${pods} ${pods === 1 ? "replica" : "replicas"} (${autoscaled ? "autoscaling.minReplicas" : "replicas"})`;
  const consequence = "lets no pod be evicted, so every node drain would block";
  if (budget.maxUnavailable !== undefined) {
    return new ConfigError(
      "podDisruptionBudget",
      `maxUnavailable: ${JSON.stringify(budget.maxUnavailable)} ${consequence}; ` +
        "set podDisruptionBudget.maxUnavailable to 1 (or a percentage above 0%), or set podDisruptionBudget.enabled to false",
    );
  }
  const min = budget.minAvailable!;
  const asCount = typeof min === "string" ? ` (${podCount(min, pods)} of ${pods}, rounded up)` : "";
  return new ConfigError(
    "podDisruptionBudget",
    `minAvailable: ${JSON.stringify(min)}${asCount} with ${running} ${consequence}; ` +
      `set podDisruptionBudget.minAvailable below ${pods}, or use podDisruptionBudget.maxUnavailable: 1` +
      (pods < 2 ? ", or raise the replicas to 2 or more" : ""),
  );
}
