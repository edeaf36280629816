import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MigrationDir } from "../lib/migration/dir";
import {
  containerSecurityContext,
  databaseCaMount,
  databaseCaVolume,
  JOB_ANNOTATION,
  KEY_ANNOTATION,
  podSecurityContext,
} from "../lib/migration/run";
import { DATABASE_CA_FILE } from "../lib/database/tls";
import { shortDigest } from "../lib/migration/dir";
import type { Resources } from "../lib/config/settings";
import type { Exposure } from "../lib/config/exposure";
import type { NetworkPolicySettings } from "../lib/config/policy";
import type { Scaling } from "../lib/config/scaling";
import type { Scheduling } from "../lib/config/scheduling";
import { EXISTING_SECRET_KEYS } from "../lib/config/secrets";
import type { Workload } from "../lib/config/workload";
import { AtlasMigration } from "./atlasMigration";
import { createExposure } from "./exposure";
import { createNetworkPolicies } from "./policy";
import { createScaling } from "./scaling";
import { schedulingSpec, serviceAccountName } from "./workload";

export interface DevelopersItaliaApiArgs {
  /** Namespace for every object. */
  readonly namespace: string;
  /**
   * The app.kubernetes.io/instance label, in every object's labels and the pods' selector:
   * unique per namespace, so that two deployments there never select each other's pods.
   * @default the component's name
   */
  readonly instance?: string;
  /**
   * Create the namespace (false when it is managed elsewhere). Either way the program never
   * deletes it: a namespace that already exists is adopted, and destroy leaves it. @default true
   */
  readonly createNamespace?: boolean;
  /** The API image reference, digest-pinned when possible. */
  readonly image: string;
  /** @default 2 */
  readonly replicas?: number;
  /** Container resources. @default {} */
  readonly resources?: Resources;
  /** Plain environment of the API (ENVIRONMENT, MAX_REQUESTS, WEBHOOK_*). @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Database URL (secret), used by both the API and the migration. Required unless existingSecret. */
  readonly databaseUrl?: pulumi.Output<string>;
  /**
   * A Secret managed elsewhere holding `databaseDSN` and optionally `pasetoKey` (the chart's
   * useExistingSecret); then databaseUrl and pasetoKey are not given. @default none
   */
  readonly existingSecret?: string;
  /**
   * The database CA bundle (PEM, public): shipped in a ConfigMap and mounted read-only at
   * DATABASE_CA_DIR in the migration Job and the API; `databaseUrl` must then carry
   * sslrootcert=DATABASE_CA_PATH (readSettings does). @default none
   */
  readonly databaseCaCert?: string;
  /** PASETO_KEY (secret); without it the API is read-only. @default none */
  readonly pasetoKey?: pulumi.Output<string>;
  /** The verified migration directory. */
  readonly migrations: MigrationDir;
  readonly atlasImage: string;
  /** @default none */
  readonly migrationBaseline?: string;
  /** @default 300 */
  readonly migrationDeadlineSeconds?: number;
  /** @default "10s" */
  readonly migrationLockTimeout?: string;
  /** @default Atlas's default */
  readonly migrationRevisionsSchema?: string;
  /** Service, Ingress, ServiceMonitor. @default a ClusterIP Service on port 80 */
  readonly exposure?: Exposure;
  /** The HPA (then `replicas` is left to it) and the PDB. @default neither */
  readonly autoscaling?: Scaling["autoscaling"];
  /** @default none */
  readonly podDisruptionBudget?: Scaling["podDisruptionBudget"];
  /** Pull policy and secrets, node selection, spread and priority. @default IfNotPresent, nothing else */
  readonly scheduling?: Partial<Scheduling>;
  /** The API's ServiceAccount, annotations, labels and extra volumes. @default a new ServiceAccount */
  readonly workload?: Partial<Workload>;
  /** Opt-in NetworkPolicies for the API and the migration Job. @default none */
  readonly networkPolicy?: NetworkPolicySettings;
  /** databaseIdentity of databaseUrl; part of the migration key. @default "" */
  readonly databaseIdentity?: string;
  /** PostgreSQL lock_timeout of the migration session. @default "5s" */
  readonly migrationLockWaitTimeout?: string;
  /** Roll the API without re-running the migration Job (rollbackWithoutMigrations). @default false */
  readonly holdMigration?: boolean;
}

const DEFAULT_EXPOSURE: Exposure = {
  service: { type: "ClusterIP", port: 80, annotations: {} },
  ingress: { enabled: false, className: "", annotations: {}, hosts: [], tls: [] },
  serviceMonitor: { enabled: false, additionalLabels: {}, jobLabel: "", targetLabels: [], path: "/metrics" },
};

const APP = "developers-italia-api";
/** The labels migrationPodSpec gives the Job's pods. */
const MIGRATION_POD_SELECTOR = { "app.kubernetes.io/name": APP, "app.kubernetes.io/component": "migration" };
/** Pod-template annotation with the CA bundle's digest: a new CA rolls the API (pgx reads it at startup). */
export const DATABASE_CA_ANNOTATION = "deploy.developers.italia.it/database-ca";
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
  public readonly ingress?: k8s.networking.v1.Ingress;
  public readonly serviceMonitor?: k8s.apiextensions.CustomResource;
  public readonly hpa?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
  public readonly pdb?: k8s.policy.v1.PodDisruptionBudget;
  public readonly networkPolicies: k8s.networking.v1.NetworkPolicy[];
  public readonly serviceAccount?: k8s.core.v1.ServiceAccount;
  /** The Service's in-cluster URL. */
  public readonly serviceUrl: pulumi.Output<string>;
  /** Ready API pods, as the last `up` saw them. */
  public readonly readyReplicas: pulumi.Output<number>;

  constructor(name: string, args: DevelopersItaliaApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("developers-italia:app:DevelopersItaliaApi", name, {}, opts);
    if (args.existingSecret === undefined && args.databaseUrl === undefined) {
      throw new pulumi.ResourceError(`${name}: give databaseUrl or existingSecret`, this);
    }
    const workload = args.workload ?? {};
    const labels = {
      ...workload.labels,
      "app.kubernetes.io/name": APP,
      "app.kubernetes.io/instance": args.instance ?? name,
      "app.kubernetes.io/managed-by": "pulumi",
    };

    // Never deleted, by `pulumi destroy` or by createNamespace turning false: server-side
    // apply adopts a namespace that already exists (a Helm release's, with its Secrets) without
    // a word, and deleting it would take everything in it. Destroy leaves the namespace, empty
    // of this stack's objects (docs/helm-chart.md, "Migrating from a Helm release of the chart").
    const namespace =
      args.createNamespace === false
        ? pulumi.output(args.namespace)
        : new k8s.core.v1.Namespace(
            `${name}-ns`,
            { metadata: { name: args.namespace, labels } },
            { parent: this, retainOnDelete: true },
          ).metadata.name;

    // Mutable, so a new CA keeps the name: the Job is not re-run for it; the API rolls (annotation).
    const databaseCa =
      args.databaseCaCert === undefined
        ? undefined
        : new k8s.core.v1.ConfigMap(
            `${name}-db-ca`,
            { metadata: { namespace, labels }, data: { [DATABASE_CA_FILE]: args.databaseCaCert } },
            { parent: this },
          );

    this.migration = new AtlasMigration(
      `${name}-migrate`,
      {
        namespace,
        dir: args.migrations,
        databaseUrl: args.databaseUrl,
        atlasImage: args.atlasImage,
        baseline: args.migrationBaseline,
        deadlineSeconds: args.migrationDeadlineSeconds,
        lockTimeout: args.migrationLockTimeout,
        revisionsSchema: args.migrationRevisionsSchema,
        databaseCaConfigMap: databaseCa?.metadata.name,
        databaseIdentity: args.databaseIdentity,
        lockWaitTimeout: args.migrationLockWaitTimeout,
        hold: args.holdMigration,
        labels,
        existingSecret:
          args.existingSecret === undefined
            ? undefined
            : { name: args.existingSecret, key: EXISTING_SECRET_KEYS.databaseUrl },
        imagePullSecrets: args.scheduling?.imagePullSecrets,
        imagePullPolicy: args.scheduling?.imagePullPolicy,
      },
      { parent: this },
    );

    const secret =
      args.existingSecret !== undefined
        ? undefined
        : new k8s.core.v1.Secret(
            `${name}-env`,
            {
              metadata: { namespace, labels },
              type: "Opaque",
              stringData: {
                DATABASE_DSN: pulumi.secret(args.databaseUrl!),
                ...(args.pasetoKey ? { PASETO_KEY: pulumi.secret(args.pasetoKey) } : {}),
              },
            },
            { parent: this },
          );

    const selector = {
      "app.kubernetes.io/name": APP,
      "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"],
    };
    const serviceAccount = serviceAccountName(name, workload.serviceAccount, { namespace, labels }, this);
    this.serviceAccount = serviceAccount.resource;
    // Secret references: ours (keys DATABASE_DSN, PASETO_KEY) or the existing Secret's (the chart's keys).
    const secretEnv =
      secret !== undefined
        ? ["DATABASE_DSN", ...(args.pasetoKey ? ["PASETO_KEY"] : [])].map((key) => ({
            name: key,
            valueFrom: { secretKeyRef: { name: secret.metadata.name, key } },
          }))
        : [
            {
              name: "DATABASE_DSN",
              valueFrom: { secretKeyRef: { name: args.existingSecret!, key: EXISTING_SECRET_KEYS.databaseUrl } },
            },
            {
              // Optional: without it the API runs read-only, as with an empty pasetoKey.
              name: "PASETO_KEY",
              valueFrom: {
                secretKeyRef: { name: args.existingSecret!, key: EXISTING_SECRET_KEYS.pasetoKey, optional: true },
              },
            },
          ];
    const probe = (path: string, failureThreshold: number) => ({
      httpGet: { path, port: "http" },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold,
    });
    const volumes: k8s.types.input.core.v1.Volume[] = [
      ...((workload.extraVolumes ?? []) as unknown as k8s.types.input.core.v1.Volume[]),
      ...(databaseCa ? [databaseCaVolume(databaseCa.metadata.name)] : []),
    ];
    const volumeMounts: k8s.types.input.core.v1.VolumeMount[] = [
      ...((workload.extraVolumeMounts ?? []) as unknown as k8s.types.input.core.v1.VolumeMount[]),
      ...(databaseCa ? [databaseCaMount] : []),
    ];
    this.deployment = new k8s.apps.v1.Deployment(
      `${name}-api`,
      {
        metadata: {
          namespace,
          labels,
          ...(Object.keys(workload.deploymentAnnotations ?? {}).length > 0
            ? { annotations: workload.deploymentAnnotations }
            : {}),
        },
        spec: {
          // With the HPA on, `replicas` stays out of what Pulumi applies, so the HPA keeps owning it.
          ...(args.autoscaling ? {} : { replicas: args.replicas ?? 2 }),
          selector: { matchLabels: selector },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: {
              labels: { ...labels, ...selector },
              // The rollout is tied to the migration run that gates it: a new run, a new rollout.
              annotations: {
                ...workload.podAnnotations,
                [JOB_ANNOTATION]: this.migration.jobName,
                [KEY_ANNOTATION]: this.migration.runKey,
                ...(args.databaseCaCert ? { [DATABASE_CA_ANNOTATION]: shortDigest([args.databaseCaCert]) } : {}),
              },
            },
            spec: {
              serviceAccountName: serviceAccount.name,
              automountServiceAccountToken: serviceAccount.automountToken,
              securityContext: podSecurityContext,
              ...schedulingSpec(args.scheduling, selector),
              ...(volumes.length > 0 ? { volumes } : {}),
              containers: [
                {
                  name: APP,
                  image: args.image,
                  imagePullPolicy: args.scheduling?.imagePullPolicy ?? "IfNotPresent",
                  ports: [{ name: "http", containerPort: PORT, protocol: "TCP" }],
                  env: [
                    ...Object.entries(args.env ?? {})
                      .sort(([a], [b]) => a.localeCompare(b))
                      .map(([k, value]) => ({ name: k, value })),
                    ...secretEnv,
                  ],
                  ...(volumeMounts.length > 0 ? { volumeMounts } : {}),
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

    const exposure = createExposure(
      name,
      { namespace, labels, selector, settings: args.exposure ?? DEFAULT_EXPOSURE },
      this,
    );
    this.service = exposure.service;
    this.ingress = exposure.ingress;
    this.serviceMonitor = exposure.serviceMonitor;
    this.serviceUrl = exposure.inClusterUrl;

    const scaling = createScaling(
      name,
      {
        namespace,
        labels,
        selector,
        deployment: this.deployment,
        settings: { autoscaling: args.autoscaling, podDisruptionBudget: args.podDisruptionBudget },
      },
      this,
    );
    this.hpa = scaling.hpa;
    this.pdb = scaling.pdb;

    this.networkPolicies = args.networkPolicy
      ? createNetworkPolicies(
          name,
          {
            namespace,
            labels,
            apiSelector: selector,
            migrationSelector: MIGRATION_POD_SELECTOR,
            apiPort: PORT,
            settings: args.networkPolicy,
          },
          this,
        )
      : [];
    this.readyReplicas = this.deployment.status.apply((s) => s?.readyReplicas ?? 0);

    this.registerOutputs({
      serviceUrl: this.serviceUrl,
      readyReplicas: this.readyReplicas,
      deploymentName: this.deployment.metadata.name,
      jobName: this.migration.jobName,
      migrationKey: this.migration.key,
    });
  }
}
