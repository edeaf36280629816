import * as pulumi from "@pulumi/pulumi";
import type { DevelopersItaliaApi } from "../components/developersItaliaApi";
import type { AppliedRecord } from "../lib/deploy/applied";
import type { DeployPlan } from "../lib/deploy/plan";
import { databaseUrlDigest } from "../lib/database/state";
import { newestVersion, type MigrationDir } from "../lib/migration/dir";
import { appliedMigrations } from "../lib/migration/promotion";
import type { ApiSpec } from "../lib/spec";

/**
 * The stack's outputs: what it runs, and its record of the migration run (read back by its
 * next plan, lib/deploy/applied.ts, and by a stack promoting from it).
 */
export function stackOutputs(
  spec: ApiSpec,
  dir: MigrationDir,
  deploy: DeployPlan,
  applied: AppliedRecord,
  api: DevelopersItaliaApi,
) {
  const newest = newestVersion(dir);
  // Known only once the Job completed: a failed run leaves the previous values in place. A
  // rollback keeps the record of the run it did not repeat.
  const onceApplied = <T>(value: T, kept: T | undefined) =>
    deploy.run.rollback ? kept : api.migration.job.status.apply((s) => (s?.succeeded ? value : undefined));
  return {
    deploymentName: api.deployment.metadata.name,
    instance: deploy.instance,
    jobName: api.migration.jobName,
    migrationKey: api.migration.runKey,
    newestMigration: newest,
    pendingMigrations: deploy.run.pending.map((f) => f.version),
    readyReplicas: api.readyReplicas,
    serviceUrl: api.serviceUrl,
    appliedVersion: onceApplied(newest, applied.version),
    // Which files it applied (version, name, sha256; no contents): the offline plan's record,
    // and what a stack promoting from this one may run (promoteFrom).
    appliedMigrations: onceApplied(appliedMigrations(dir.files), applied.migrationRecords),
    appliedDatabase: onceApplied(deploy.run.databaseIdentity, applied.databaseIdentity),
    appliedDatabaseUrlDigest: pulumi.secret(
      onceApplied(databaseUrlDigest(spec.database.url ?? ""), applied.databaseUrlDigest),
    ),
    migrationPlan: deploy.report,
    ...contractOutputs(deploy, applied, api),
  };
}

/**
 * The contract phase's record, known once its Job completed (after the rollout). Without a
 * contract plan (no contract migration, or a rollback to a release without them) the last
 * record is kept, so the next offline plan still knows what the database has.
 */
function contractOutputs(deploy: DeployPlan, applied: AppliedRecord, api: DevelopersItaliaApi) {
  const kept = applied.contract ?? {};
  const contract = deploy.contract;
  const job = api.contractMigration;
  if (!contract || !job) {
    return {
      appliedContractVersion: kept.version,
      appliedContractMigrations: kept.migrationRecords,
      contractMigrationKey: kept.migrationKey,
    };
  }
  const onceApplied = <T>(value: T, previous: T | undefined) =>
    contract.run.rollback ? previous : job.job.status.apply((s) => (s?.succeeded ? value : undefined));
  return {
    contractJobName: job.jobName,
    contractMigrationKey: job.runKey,
    appliedContractVersion: onceApplied(newestVersion(contract.dir), kept.version),
    appliedContractMigrations: onceApplied(appliedMigrations(contract.dir.files), kept.migrationRecords),
  };
}
