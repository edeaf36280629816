import { z } from "zod";
import type { SchedulingSpec } from "../spec";
import type { ConfigSource } from "./source";
import { kubeObject, labels, readKey, resourceName } from "./read";

/** Where API pods may run and how their image is pulled (chart values plus spread and priority). */

export const imagePullPolicySchema = z.enum(["IfNotPresent", "Always", "Never"]).default("IfNotPresent");

/** Secret names (the chart's `[{name: x}]` becomes `[x]`: Pulumi.yaml declares a list of strings). */
export const imagePullSecretsSchema = z.array(resourceName).default([]);

export const tolerationsSchema = z
  .array(
    z.strictObject({
      key: z.string().optional(),
      operator: z.enum(["Exists", "Equal"]).optional(),
      value: z.string().optional(),
      effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
      tolerationSeconds: z.number().int().optional(),
    }),
  )
  .default([]);

export const topologySpreadConstraintsSchema = z
  .array(
    z
      .object({
        maxSkew: z.number().int().min(1),
        topologyKey: z.string().min(1),
        whenUnsatisfiable: z.enum(["DoNotSchedule", "ScheduleAnyway"]),
        /** Unset: the API's own pods (the Deployment's selector). */
        labelSelector: kubeObject.optional(),
      })
      .catchall(z.unknown()),
  )
  .default([]);

export const affinitySchema = z
  .strictObject({
    nodeAffinity: kubeObject.optional(),
    podAffinity: kubeObject.optional(),
    podAntiAffinity: kubeObject.optional(),
  })
  .default({});

export function readScheduling(config: ConfigSource): SchedulingSpec {
  // Strict: a typo such as nodeAfinity would otherwise be dropped silently.
  const affinity = readKey(config, "affinity", affinitySchema);
  const priorityClassName = readKey(config, "priorityClassName", z.union([z.literal(""), resourceName]).default(""));
  return {
    imagePullPolicy: readKey(config, "imagePullPolicy", imagePullPolicySchema),
    imagePullSecrets: readKey(config, "imagePullSecrets", imagePullSecretsSchema),
    nodeSelector: readKey(config, "nodeSelector", labels),
    tolerations: readKey(config, "tolerations", tolerationsSchema),
    affinity: Object.keys(affinity).length > 0 ? affinity : undefined,
    topologySpreadConstraints: readKey(config, "topologySpreadConstraints", topologySpreadConstraintsSchema),
    priorityClassName: priorityClassName === "" ? undefined : priorityClassName,
  };
}
