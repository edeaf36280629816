import { z } from "zod";
import type { WorkloadSpec } from "../spec";
import { ConfigError, type ConfigSource } from "./source";
import { annotations, labels, readKey, resourceName } from "./read";
import { JOB_ANNOTATION, KEY_ANNOTATION } from "../migration/run";

/**
 * The API's own identity and metadata: its ServiceAccount (distinct from the migration's),
 * annotations and labels, and extra volumes.
 */

export const serviceAccountSchema = z
  .strictObject({
    create: z.boolean().default(true),
    annotations,
    /** With create, the name to give it (autonamed when empty); without, an existing account to use. */
    name: z.union([z.literal(""), resourceName]).default(""),
    /** Mount the account's token into the API pods (the API never calls the Kubernetes API). */
    automountToken: z.boolean().default(false),
  })
  .default({ create: true, annotations: {}, name: "", automountToken: false });

const volume = z.object({ name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/) }).catchall(z.unknown());
const volumeMount = z
  .object({ name: z.string().min(1), mountPath: z.string().startsWith("/", "must be an absolute path") })
  .catchall(z.unknown());

/** Labels the program sets itself: overriding them would break the selector or the gate. */
export const RESERVED_LABELS = ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"];

export function readWorkload(config: ConfigSource): WorkloadSpec {
  const serviceAccount = readKey(config, "serviceAccount", serviceAccountSchema);
  if (!serviceAccount.create && serviceAccount.name === "") {
    throw new ConfigError(
      "serviceAccount",
      "create is false but no name is given: set serviceAccount.name to the existing account the API runs as, " +
        "or set serviceAccount.create to true",
    );
  }
  const podAnnotations = readKey(config, "podAnnotations", annotations);
  for (const reserved of [JOB_ANNOTATION, KEY_ANNOTATION]) {
    if (reserved in podAnnotations) {
      throw new ConfigError("podAnnotations", `${reserved} is set by the migration gate; remove it`);
    }
  }
  const extraLabels = readKey(config, "labels", labels);
  const clash = Object.keys(extraLabels).find((k) => RESERVED_LABELS.includes(k));
  if (clash) throw new ConfigError("labels", `${clash} is set by this program (it selects the API's pods); remove it`);

  const extraVolumes = readKey(config, "extraVolumes", z.array(volume).default([]));
  const extraVolumeMounts = readKey(config, "extraVolumeMounts", z.array(volumeMount).default([]));
  const names = new Set(extraVolumes.map((v) => v.name));
  const dangling = extraVolumeMounts.find((m) => !names.has(m.name));
  if (dangling) {
    throw new ConfigError(
      "extraVolumeMounts",
      `mounts ${JSON.stringify(dangling.name)}, which is not in extraVolumes; add the volume or fix the name`,
    );
  }
  return {
    serviceAccount,
    deploymentAnnotations: readKey(config, "deploymentAnnotations", annotations),
    podAnnotations,
    labels: extraLabels,
    extraVolumes,
    extraVolumeMounts,
  };
}
