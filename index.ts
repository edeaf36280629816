import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DevelopersItaliaApi } from "./components/developersItaliaApi";
import { lastAppliedVersion, stackConfig } from "./components/stackConfig";
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
    const plan = await planRun({
      mode: migration.preflight,
      dir: migrations,
      databaseUrl: settings.databaseUrl,
      databaseCaCert: settings.databaseCaCert,
      baseline: migration.baseline,
      revisionsSchema: migration.revisionsSchema,
      lastAppliedVersion: migration.preflight === "online" ? undefined : await lastAppliedVersion(),
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
      databaseCaCert: settings.databaseCaCert,
      pasetoKey: settings.pasetoKey === undefined ? undefined : pulumi.secret(settings.pasetoKey),
      migrations,
      migrationSource: migration.source,
      atlasImage: migration.atlasImage,
      migrationBaseline: migration.baseline,
      migrationDeadlineSeconds: migration.deadlineSeconds,
      migrationLockTimeout: migration.lockTimeout,
      migrationRevisionsSchema: migration.revisionsSchema,
    });
    void pulumi.log.info(describePlan(plan, api.migration.key));

    const newest = newestVersion(migrations);
    return {
      deploymentName: api.deployment.metadata.name,
      jobName: api.migration.jobName,
      migrationKey: api.migration.key,
      newestMigration: newest,
      pendingMigrations: plan.pending.map((f) => f.version),
      // Known only once the Job completed: a failed run leaves the previous value in place.
      appliedVersion: api.migration.job.status.apply((s) => (s?.succeeded ? newest : undefined)),
    };
  } catch (err) {
    throw userError(err);
  }
};
