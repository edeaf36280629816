import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { assertBuildCurrent, projectRoot } from "./runtime/buildStamp";
import { DevelopersItaliaApi } from "./components/developersItaliaApi";
import { lastApplied, stackConfig } from "./stack/config";
import { databaseUrlDigest } from "./lib/database/state";
import { checkDestructive, loadSqlParser } from "./lib/migration/guard";
import { loadMigrationDir, newestVersion } from "./lib/migration/dir";
import { describePlan, planRun } from "./lib/migration/preflight";
import { imageRef, instanceLabel, readSettings } from "./lib/config/settings";
import { publishPlan } from "./stack/planArtifact";
import { jobBaselineFor } from "./lib/deploy/report";
import { appliedMigrations } from "./lib/migration/promotion";
import { userError } from "./runtime/userError";

export = async () => {
  try {
    assertBuildCurrent(__filename);
    const settings = readSettings(stackConfig());
    const migrations = loadMigrationDir(path.join(projectRoot(__dirname), "migrations"));
    const { migration } = settings;
    const applied = await lastApplied();
    const plan = await planRun({
      mode: migration.preflight,
      dir: migrations,
      // Only the online preflight reads it, and that is refused without a URL (useExistingSecret).
      databaseUrl: settings.databaseUrl ?? "",
      databaseCaCert: settings.databaseCaCert,
      baseline: migration.baseline,
      revisionsSchema: migration.revisionsSchema,
      lastAppliedVersion: migration.preflight === "online" && !migration.rollback ? undefined : applied.version,
      lastAppliedMigrations: applied.migrations,
      lastDatabaseIdentity: applied.databaseIdentity,
      lastDatabaseUrlDigest: applied.databaseUrlDigest,
      acceptDatabase: migration.acceptDatabase,
      rollback: migration.rollback,
    });
    // The parser is WebAssembly: loaded only when there is something to parse.
    if (plan.pending.length > 0) await loadSqlParser();
    const report = await publishPlan(settings, migrations, plan, applied.migrationKey);
    checkDestructive(plan.pending, migration.allowDestructive);

    const instance = instanceLabel({
      configured: settings.instance,
      recorded: applied.instance,
      deployedBefore: applied.deployed,
      stack: pulumi.getStack(),
    });
    const api = new DevelopersItaliaApi("developers-italia-api", {
      namespace: settings.namespace,
      instance,
      createNamespace: settings.createNamespace,
      image: imageRef(settings.image),
      replicas: settings.scaling.replicas,
      resources: settings.resources,
      env: settings.env,
      databaseUrl: settings.databaseUrl === undefined ? undefined : pulumi.secret(settings.databaseUrl),
      databaseCaCert: settings.databaseCaCert,
      pasetoKey: settings.pasetoKey === undefined ? undefined : pulumi.secret(settings.pasetoKey),
      migrations,
      atlasImage: migration.atlasImage,
      // The configured one while it takes effect; once revisions exist, the Job's own, so that
      // adding or removing migrationBaseline then replaces nothing.
      migrationBaseline: jobBaselineFor(settings, migrations, {
        baselineToWrite: plan.baselineToWrite,
        databaseIdentity: plan.databaseIdentity || undefined,
        recordedKey: applied.migrationKey,
      }),
      migrationDeadlineSeconds: migration.deadlineSeconds,
      migrationLockTimeout: migration.lockTimeout,
      migrationRevisionsSchema: migration.revisionsSchema,
      existingSecret: settings.existingSecret,
      exposure: settings.exposure,
      autoscaling: settings.scaling.autoscaling,
      podDisruptionBudget: settings.scaling.podDisruptionBudget,
      scheduling: settings.scheduling,
      workload: settings.workload,
      networkPolicy: settings.networkPolicy,
      databaseIdentity: plan.databaseIdentity,
      migrationLockWaitTimeout: migration.lockWaitTimeout,
      holdMigration: plan.rollback,
    });
    void pulumi.log.info(describePlan(plan, api.migration.key));

    const newest = newestVersion(migrations);
    // Known only once the Job completed: a failed run leaves the previous values in place. A
    // rollback keeps the record of the run it did not repeat.
    const onceApplied = <T>(value: T, kept: T | undefined) =>
      plan.rollback ? kept : api.migration.job.status.apply((s) => (s?.succeeded ? value : undefined));
    return {
      deploymentName: api.deployment.metadata.name,
      instance,
      jobName: api.migration.jobName,
      migrationKey: api.migration.runKey,
      newestMigration: newest,
      pendingMigrations: plan.pending.map((f) => f.version),
      readyReplicas: api.readyReplicas,
      serviceUrl: api.serviceUrl,
      // Known only once the Job completed: a failed run leaves the previous value in place.
      appliedVersion: onceApplied(newest, applied.version),
      // Which files it applied (version, name, sha256; no contents): the offline plan's record,
      // and what a stack promoting from this one may run (promoteFrom).
      appliedMigrations: onceApplied(appliedMigrations(migrations.files), applied.migrationRecords),
      appliedDatabase: onceApplied(plan.databaseIdentity, applied.databaseIdentity),
      appliedDatabaseUrlDigest: pulumi.secret(
        onceApplied(databaseUrlDigest(settings.databaseUrl ?? ""), applied.databaseUrlDigest),
      ),
      migrationPlan: report,
    };
  } catch (err) {
    throw userError(err);
  }
};
