import * as pulumi from "@pulumi/pulumi";
import { APPLIED_OUTPUTS, appliedRecord, type AppliedRecord } from "../lib/deploy/applied";
import type { ConfigSource } from "../lib/config/source";
import { PREFLIGHT_URL_ENV } from "../lib/deploy/preflightUrl";

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
 * This stack's fully qualified name as the backend knows it: the organization the engine
 * reports (a Pulumi Cloud organization, or "organization" on a file backend), the project
 * and the stack.
 */
export function selfStackName(): string {
  return `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

/** The stack's own outputs from its last `up`, read from its state (the offline plan's reference). */
export async function lastApplied(): Promise<AppliedRecord> {
  const self = new pulumi.StackReference(selfStackName());
  const values = await Promise.all(
    APPLIED_OUTPUTS.map(async (name) => {
      const details = await self.getOutputDetails(name);
      return [name, details.value ?? details.secretValue] as const;
    }),
  );
  return appliedRecord(Object.fromEntries(values));
}

/** The URL the online preflight may read with useExistingSecret: the deploy's environment only, never config. */
export function preflightDatabaseUrl(): string | undefined {
  return process.env[PREFLIGHT_URL_ENV];
}
