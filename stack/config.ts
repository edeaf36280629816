import * as pulumi from "@pulumi/pulumi";
import { AppliedMigration, parseAppliedMigrations } from "../lib/migration/promotion";
import type { ConfigSource } from "../lib/config/source";

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

/** What the last successful `up` of this stack recorded about its migration run. */
export interface AppliedRecord {
  /** `appliedVersion`: the newest version of the directory it applied. */
  readonly version?: string;
  /** The versions of its `appliedMigrations`: every file of that directory. */
  readonly migrations?: readonly string[];
  /** `appliedMigrations` as exported (version, file, sha256; no contents), kept by a rollback. */
  readonly migrationRecords?: readonly AppliedMigration[];
  /** `appliedDatabase`: the identity (no credentials) of the database it migrated. */
  readonly databaseIdentity?: string;
  /** `appliedDatabaseUrlDigest` (a secret output): tells a credential change from none. */
  readonly databaseUrlDigest?: string;
  /** `instance`: the app.kubernetes.io/instance label its pods carry. */
  readonly instance?: string;
  /** `migrationKey`: the key of the migration Job in the cluster (jobBaseline reads the Job's baseline from it). */
  readonly migrationKey?: string;
  /** Whether an `up` of this stack ever exported a Deployment. */
  readonly deployed: boolean;
}

/** The stack's own outputs from its last `up`, read from its state (the offline plan's reference). */
export async function lastApplied(): Promise<AppliedRecord> {
  const self = new pulumi.StackReference(selfStackName());
  const read = async (name: string) => {
    const details = await self.getOutputDetails(name);
    return details.value ?? details.secretValue;
  };
  const [version, migrations, identity, digest, instance, deployment, key] = await Promise.all(
    [
      "appliedVersion",
      "appliedMigrations",
      "appliedDatabase",
      "appliedDatabaseUrlDigest",
      "instance",
      "deploymentName",
      "migrationKey",
    ].map(read),
  );
  const records = parseAppliedMigrations(migrations);
  const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  return {
    version: text(version),
    migrations: records?.map((m) => m.version),
    migrationRecords: records,
    databaseIdentity: text(identity),
    databaseUrlDigest: text(digest),
    instance: text(instance),
    deployed: text(deployment) !== undefined,
    migrationKey: text(key),
  };
}

/**
 * The `appliedVersion` this stack exported after its last successful `up`, read from the
 * stack's own state (the offline plan's reference point).
 */
export async function lastAppliedVersion(): Promise<string | undefined> {
  return (await lastApplied()).version;
}
