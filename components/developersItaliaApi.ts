import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MigrationDir } from "../lib/migrationDir";
import { containerSecurityContext, JOB_ANNOTATION, KEY_ANNOTATION, podSecurityContext } from "../lib/migrationRun";
import type { MigrationSource, Resources } from "../lib/settings";
import { AtlasMigration } from "./atlasMigration";

export interface DevelopersItaliaApiArgs {
  /** Namespace for every object. */
  readonly namespace: string;
  /** Create the namespace (false when it is managed elsewhere). @default true */
  readonly createNamespace?: boolean;
  /** The API image reference, digest-pinned when possible. */
  readonly image: string;
  /** @default 2 */
  readonly replicas?: number;
  /** Container resources. @default {} */
  readonly resources?: Resources;
  /** Plain environment of the API (ENVIRONMENT, MAX_REQUESTS, WEBHOOK_*). @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Database URL (secret), used by both the API and the migration. */
  readonly databaseUrl: pulumi.Output<string>;
  /** PASETO_KEY (secret); without it the API is read-only. @default none */
  readonly pasetoKey?: pulumi.Output<string>;
  /** The verified migration directory. */
  readonly migrations: MigrationDir;
  /** @default "configmap" */
  readonly migrationSource?: MigrationSource;
  readonly atlasImage: string;
  /** @default none */
  readonly migrationBaseline?: string;
  /** @default 300 */
  readonly migrationDeadlineSeconds?: number;
  /** @default "10s" */
  readonly migrationLockTimeout?: string;
  /** @default Atlas's default */
  readonly migrationRevisionsSchema?: string;
  /** databaseIdentity of databaseUrl; part of the migration key. @default "" */
  readonly databaseIdentity?: string;
  /** PostgreSQL lock_timeout of the migration session. @default "5s" */
  readonly migrationLockWaitTimeout?: string;
  /** Roll the API without re-running the migration Job (rollbackWithoutMigrations). @default false */
  readonly holdMigration?: boolean;
}

const APP = "developers-italia-api";
const PORT = 3000;

/**
 * developers-italia-api on Kubernetes: its Secret, the migration gate and the Deployment
 * that waits for it, and a Service. When the migration fails, the Deployment is not
 * touched and the old pods keep serving.
 */
export class DevelopersItaliaApi extends pulumi.ComponentResource {
  public readonly migration: AtlasMigration;
  public readonly deployment: k8s.apps.v1.Deployment;
  public readonly service: k8s.core.v1.Service;

  constructor(name: string, args: DevelopersItaliaApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("developers-italia:app:DevelopersItaliaApi", name, {}, opts);
    const labels = {
      "app.kubernetes.io/name": APP,
      "app.kubernetes.io/instance": name,
      "app.kubernetes.io/managed-by": "pulumi",
    };

    const namespace =
      args.createNamespace === false
        ? pulumi.output(args.namespace)
        : new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: args.namespace, labels } }, { parent: this })
            .metadata.name;

    this.migration = new AtlasMigration(
      `${name}-migrate`,
      {
        namespace,
        dir: args.migrations,
        databaseUrl: args.databaseUrl,
        source: args.migrationSource,
        atlasImage: args.atlasImage,
        apiImage: args.image,
        baseline: args.migrationBaseline,
        deadlineSeconds: args.migrationDeadlineSeconds,
        lockTimeout: args.migrationLockTimeout,
        revisionsSchema: args.migrationRevisionsSchema,
        databaseIdentity: args.databaseIdentity,
        lockWaitTimeout: args.migrationLockWaitTimeout,
        hold: args.holdMigration,
        labels,
      },
      { parent: this },
    );

    const secret = new k8s.core.v1.Secret(
      `${name}-env`,
      {
        metadata: { namespace, labels },
        type: "Opaque",
        stringData: {
          DATABASE_DSN: pulumi.secret(args.databaseUrl),
          ...(args.pasetoKey ? { PASETO_KEY: pulumi.secret(args.pasetoKey) } : {}),
        },
      },
      { parent: this },
    );

    const selector = { "app.kubernetes.io/name": APP, "app.kubernetes.io/instance": name };
    const probe = (path: string, failureThreshold: number) => ({
      httpGet: { path, port: "http" },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold,
    });
    this.deployment = new k8s.apps.v1.Deployment(
      `${name}-api`,
      {
        metadata: { namespace, labels },
        spec: {
          replicas: args.replicas ?? 2,
          selector: { matchLabels: selector },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: {
              labels: { ...labels, ...selector },
              // The rollout is tied to the migration run that gates it: a new run, a new rollout.
              annotations: { [JOB_ANNOTATION]: this.migration.jobName, [KEY_ANNOTATION]: this.migration.runKey },
            },
            spec: {
              automountServiceAccountToken: false,
              securityContext: podSecurityContext,
              containers: [
                {
                  name: APP,
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  ports: [{ name: "http", containerPort: PORT, protocol: "TCP" }],
                  env: [
                    ...Object.entries(args.env ?? {})
                      .sort(([a], [b]) => a.localeCompare(b))
                      .map(([k, value]) => ({ name: k, value })),
                    ...["DATABASE_DSN", ...(args.pasetoKey ? ["PASETO_KEY"] : [])].map((key) => ({
                      name: key,
                      valueFrom: { secretKeyRef: { name: secret.metadata.name, key } },
                    })),
                  ],
                  startupProbe: probe("/livez", 30),
                  livenessProbe: probe("/livez", 3),
                  readinessProbe: probe("/readyz", 3),
                  resources: args.resources ?? {},
                  securityContext: containerSecurityContext,
                  terminationMessagePolicy: "FallbackToLogsOnError",
                },
              ],
            },
          },
        },
      },
      { parent: this, dependsOn: [this.migration.job] },
    );

    this.service = new k8s.core.v1.Service(
      `${name}-svc`,
      {
        metadata: { namespace, labels },
        spec: { type: "ClusterIP", selector, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
      },
      { parent: this },
    );

    this.registerOutputs({
      deploymentName: this.deployment.metadata.name,
      jobName: this.migration.jobName,
      migrationKey: this.migration.key,
    });
  }
}
