import * as pulumi from "@pulumi/pulumi";
import type { ConfigSource } from "../lib/settings";

// Not in the SDK's typings, but what Config.getSecret relies on: the keys the engine
// passed as secrets (PULUMI_CONFIG_SECRET_KEYS).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** This project's stack config as a ConfigSource (plain text plus secrecy per key). */
export function stackConfig(project = pulumi.getProject()): ConfigSource {
  return {
    get: (key) => pulumi.runtime.getConfig(`${project}:${key}`),
    isSecret: (key) => runtimeConfig.isConfigSecret(`${project}:${key}`),
  };
}

/**
 * The `appliedVersion` this stack exported after its last successful `up`, read from the
 * stack's own state (the offline plan's reference point).
 */
export async function lastAppliedVersion(): Promise<string | undefined> {
  const self = new pulumi.StackReference(`organization/${pulumi.getProject()}/${pulumi.getStack()}`);
  const details = await self.getOutputDetails("appliedVersion");
  const value = details.value ?? details.secretValue;
  return typeof value === "string" && value !== "" ? value : undefined;
}
