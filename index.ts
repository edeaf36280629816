import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DevelopersItaliaApi } from "./components/developersItaliaApi";
import { lastApplied, stackConfig } from "./components/stackConfig";
import { databaseUrlDigest } from "./lib/databaseState";
import { checkDestructive, loadSqlParser } from "./lib/destructiveGuard";
import { loadMigrationDir, newestVersion } from "./lib/migrationDir";
import { describePlan, planRun } from "./lib/preflight";
import { imageRef, readSettings } from "./lib/settings";
import { userError } from "./lib/userError";

export = async () => {
  try {
    const settings = readSettings(stackConfig());
    const migrations = loadMigrationDir(path.join(__dirname, "migrations"));
    const { migration } = settings;
    const applied = await lastApplied();
    const plan = await planRun({
      mode: migration.preflight,
      dir: migrations,
      databaseUrl: settings.databaseUrl,
      baseline: migration.baseline,
      revisionsSchema: migration.revisionsSchema,
      lastAppliedVersion: migration.preflight === "online" && !migration.rollback ? undefined : applied.version,
      lastAppliedMigrations: applied.migrations,
      lastDatabaseIdentity: applied.databaseIdentity,
      lastDatabaseUrlDigest: applied.databaseUrlDigest,
      acceptDatabase: migration.acceptDatabase,
      rollback: migration.rollback,
    });
    await loadSqlParser();
    checkDestructive(plan.pending, migration.allowDestructive);

    const api = new DevelopersItaliaApi("developers-italia-api", {
      namespace: settings.namespace,
      createNamespace: settings.createNamespace,
      image: imageRef(settings.image),
      replicas: settings.replicas,
      resources: settings.resources,
      env: settings.env,
      databaseUrl: pulumi.secret(settings.databaseUrl),
      pasetoKey: settings.pasetoKey === undefined ? undefined : pulumi.secret(settings.pasetoKey),
      migrations,
      migrationSource: migration.source,
      atlasImage: migration.atlasImage,
      migrationBaseline: migration.baseline,
      migrationDeadlineSeconds: migration.deadlineSeconds,
      migrationLockTimeout: migration.lockTimeout,
      migrationRevisionsSchema: migration.revisionsSchema,
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
      jobName: api.migration.jobName,
      migrationKey: api.migration.runKey,
      newestMigration: newest,
      pendingMigrations: plan.pending.map((f) => f.version),
      appliedVersion: onceApplied(newest, applied.version),
      appliedMigrations: onceApplied(
        migrations.files.map((f) => f.version),
        applied.migrations,
      ),
      appliedDatabase: onceApplied(plan.databaseIdentity, applied.databaseIdentity),
      appliedDatabaseUrlDigest: pulumi.secret(
        onceApplied(databaseUrlDigest(settings.databaseUrl), applied.databaseUrlDigest),
      ),
    };
  } catch (err) {
    throw userError(err);
  }
};
