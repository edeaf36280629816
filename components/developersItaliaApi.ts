import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DATABASE_CA_FILE } from "../lib/database/tls";
import { type MigrationDir, shortDigest } from "../lib/migration/dir";
import {
  containerSecurityContext,
  databaseCaMount,
  databaseCaVolume,
  JOB_ANNOTATION,
  KEY_ANNOTATION,
  type MigrationRun,
  podSecurityContext,
} from "../lib/migration/run";
import { imageRef } from "../lib/config/image";
import type { DeployPlan } from "../lib/deploy/plan";
import {
  type ApiSpec,
  EXISTING_SECRET_KEYS,
  type ExposureSpec,
  type NetworkPolicySpec,
  type Resources,
  ROLLOUT_AWAIT_MARGIN_SECONDS,
  type RolloutSpec,
  type ScalingSpec,
  type SchedulingSpec,
  type WorkloadSpec,
} from "../lib/spec";
import { AtlasMigration } from "./atlasMigration";
import { createExposure } from "./exposure";
import { createNetworkPolicies } from "./policy";
import { createScaling } from "./scaling";
import { schedulingSpec, serviceAccountName } from "./workload";

/**
 * The component's arguments, grouped by concern. Every value is resolved (lib/config/ owns
 * the defaults, lib/deploy/ the migration run): the component decides nothing a stack sets.
 */
export interface DevelopersItaliaApiArgs {
  /** Namespace for every object. */
  readonly namespace: string;
  /**
   * The app.kubernetes.io/instance label, in every object's labels and the pods' selector:
   * unique per namespace, so that two deployments there never select each other's pods.
   */
  readonly instance: string;
  /**
   * Create the namespace (false when it is managed elsewhere). Either way the program never
   * deletes it: a namespace that already exists is adopted, and destroy leaves it.
   */
  readonly createNamespace: boolean;
  /** The API container: its image, environment, resources and PASETO_KEY, and its pods' metadata. */
  readonly workload: ApiWorkloadArgs;
  /** Where the database URL comes from, and its CA bundle. */
  readonly database: DatabaseArgs;
  /** The migration run that gates the Deployment. */
  readonly migration: MigrationArgs;
  /** Service, Ingress, ServiceMonitor. */
  readonly exposure: ExposureSpec;
  /** A fixed replica count, or the HPA; and the PDB. */
  readonly scaling: ScalingSpec;
  /** How long the Deployment's rollout may take before it, and the `up`, fail. */
  readonly rollout: RolloutSpec;
  /** Pull policy and secrets, node selection, spread and priority (the Job's image pull too). */
  readonly scheduling: SchedulingSpec;
  /** Opt-in NetworkPolicies for the API and the migration Job. */
  readonly networkPolicy: NetworkPolicySpec;
}

export interface ApiWorkloadArgs extends WorkloadSpec {
  /** The API image reference, digest-pinned when possible. */
  readonly image: string;
  /** Plain environment of the API (ENVIRONMENT, MAX_REQUESTS, WEBHOOK_*). */
  readonly env: Readonly<Record<string, string>>;
  readonly resources: Resources;
  /** PASETO_KEY (a secret Output); without it the API is read-only. Not with an existing Secret, which holds it. */
  readonly pasetoKey?: pulumi.Output<string>;
}

/**
 * The database URL as a secret Output (used by the API and, with the session settings, by
 * Atlas), or the name of a Secret managed elsewhere holding it under the chart's key. `caCert`:
 * the CA bundle (PEM, public), shipped in a ConfigMap and mounted read-only at DATABASE_CA_DIR;
 * the URL must then carry sslrootcert=DATABASE_CA_PATH (lib/config/ does).
 */
export type DatabaseArgs =
  | { readonly url: pulumi.Output<string>; readonly existingSecret?: undefined; readonly caCert?: string }
  | { readonly existingSecret: string; readonly url?: undefined; readonly caCert?: string };

export interface MigrationArgs {
  /** The verified migration directory. */
  readonly dir: MigrationDir;
  /** The run's input and content key, as the plan computed them (lib/deploy/plan.ts). */
  readonly run: MigrationRun;
  /** Keep the Job exactly as the last `up` left it (rollbackWithoutMigrations). */
  readonly hold: boolean;
  /**
   * The contract phase: a second Job, run only once the Deployment has rolled out and its new
   * pods are ready; none when there is no contract migration.
   */
  readonly contract?: { readonly dir: MigrationDir; readonly run: MigrationRun; readonly hold: boolean };
}

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
  /** The contract phase's Job, after the rollout (MigrationArgs.contract). */
  public readonly contractMigration?: AtlasMigration;
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
    const { workload, database } = args;
    if (database.existingSecret !== undefined && workload.pasetoKey !== undefined) {
      throw new pulumi.ResourceError(
        `${name}: workload.pasetoKey is given with database.existingSecret, whose Secret holds it; give one of them`,
        this,
      );
    }
    const labels = {
      ...workload.labels,
      "app.kubernetes.io/name": APP,
      "app.kubernetes.io/instance": args.instance,
      "app.kubernetes.io/managed-by": "pulumi",
    };
    const selector = { "app.kubernetes.io/name": APP, "app.kubernetes.io/instance": args.instance };

    // Never deleted, by `pulumi destroy` or by createNamespace turning false: server-side
    // apply adopts a namespace that already exists (a Helm release's, with its Secrets) without
    // a word, and deleting it would take everything in it (docs/helm-chart.md).
    const namespace = args.createNamespace
      ? new k8s.core.v1.Namespace(
          `${name}-ns`,
          { metadata: { name: args.namespace, labels } },
          { parent: this, retainOnDelete: true },
        ).metadata.name
      : pulumi.output(args.namespace);

    // Mutable, so a new CA keeps the name: the Job is not re-run for it; the API rolls (annotation).
    const databaseCa =
      database.caCert === undefined
        ? undefined
        : new k8s.core.v1.ConfigMap(
            `${name}-db-ca`,
            { metadata: { namespace, labels }, data: { [DATABASE_CA_FILE]: database.caCert } },
            { parent: this },
          );

    const migrationArgs = (phase: { dir: MigrationDir; run: MigrationRun; hold: boolean }) => ({
      namespace,
      ...phase,
      database:
        database.existingSecret === undefined
          ? { url: database.url }
          : { existingSecret: { name: database.existingSecret, key: EXISTING_SECRET_KEYS.databaseUrl } },
      databaseCaConfigMap: databaseCa?.metadata.name,
      labels,
      imagePullSecrets: args.scheduling.imagePullSecrets,
      imagePullPolicy: args.scheduling.imagePullPolicy,
    });
    this.migration = new AtlasMigration(`${name}-migrate`, migrationArgs(args.migration), { parent: this });

    const serviceAccount = serviceAccountName(name, workload.serviceAccount, { namespace, labels }, this);
    this.serviceAccount = serviceAccount.resource;
    const volumes: k8s.types.input.core.v1.Volume[] = [
      ...(workload.extraVolumes as unknown as k8s.types.input.core.v1.Volume[]),
      ...(databaseCa ? [databaseCaVolume(databaseCa.metadata.name)] : []),
    ];
    const volumeMounts: k8s.types.input.core.v1.VolumeMount[] = [
      ...(workload.extraVolumeMounts as unknown as k8s.types.input.core.v1.VolumeMount[]),
      ...(databaseCa ? [databaseCaMount] : []),
    ];
    this.deployment = new k8s.apps.v1.Deployment(
      `${name}-api`,
      {
        metadata: {
          namespace,
          labels,
          ...(Object.keys(workload.deploymentAnnotations).length > 0
            ? { annotations: workload.deploymentAnnotations }
            : {}),
        },
        spec: {
          // With the HPA on, `replicas` stays out of what Pulumi applies, so the HPA keeps owning it.
          ...(args.scaling.autoscaling ? {} : { replicas: args.scaling.replicas }),
          selector: { matchLabels: selector },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          progressDeadlineSeconds: args.rollout.timeoutSeconds,
          template: {
            metadata: {
              labels: { ...labels, ...selector },
              // The rollout is tied to the migration run that gates it: a new run, a new rollout.
              annotations: {
                ...workload.podAnnotations,
                [JOB_ANNOTATION]: this.migration.jobName,
                [KEY_ANNOTATION]: this.migration.runKey,
                ...(database.caCert ? { [DATABASE_CA_ANNOTATION]: shortDigest([database.caCert]) } : {}),
              },
            },
            spec: {
              serviceAccountName: serviceAccount.name,
              automountServiceAccountToken: serviceAccount.automountToken,
              securityContext: podSecurityContext,
              ...schedulingSpec(args.scheduling, selector),
              ...(volumes.length > 0 ? { volumes } : {}),
              containers: [
                apiContainer(
                  workload,
                  args.scheduling.imagePullPolicy,
                  volumeMounts,
                  this.secretEnv(name, database, workload.pasetoKey, { namespace, labels }),
                ),
              ],
            },
          },
        },
      },
      {
        parent: this,
        dependsOn: [this.migration.job],
        // The provider's await never stops at ProgressDeadlineExceeded by itself: this bounds the
        // `up`, a little after the Deployment's own verdict, which the error then names.
        customTimeouts: {
          create: `${args.rollout.timeoutSeconds + ROLLOUT_AWAIT_MARGIN_SECONDS}s`,
          update: `${args.rollout.timeoutSeconds + ROLLOUT_AWAIT_MARGIN_SECONDS}s`,
        },
      },
    );

    // After the rollout: the provider awaits the Deployment until its new pods are ready, and a
    // rollout that fails or times out fails it, so this Job is never created then.
    const contract = args.migration.contract;
    this.contractMigration = contract
      ? new AtlasMigration(
          `${name}-contract`,
          { ...migrationArgs(contract), after: [this.deployment] },
          { parent: this },
        )
      : undefined;

    const exposure = createExposure(name, { namespace, labels, selector, settings: args.exposure }, this);
    this.service = exposure.service;
    this.ingress = exposure.ingress;
    this.serviceMonitor = exposure.serviceMonitor;
    this.serviceUrl = exposure.inClusterUrl;

    const scaling = createScaling(
      name,
      { namespace, labels, selector, deployment: this.deployment, settings: args.scaling },
      this,
    );
    this.hpa = scaling.hpa;
    this.pdb = scaling.pdb;

    this.networkPolicies = createNetworkPolicies(
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
    );
    this.readyReplicas = this.deployment.status.apply((s) => s?.readyReplicas ?? 0);

    this.registerOutputs({
      serviceUrl: this.serviceUrl,
      readyReplicas: this.readyReplicas,
      deploymentName: this.deployment.metadata.name,
      jobName: this.migration.jobName,
      migrationKey: this.migration.key,
      contractJobName: this.contractMigration?.jobName,
    });
  }

  /**
   * The API's secret environment: from a Secret of ours (keys DATABASE_DSN, PASETO_KEY), or
   * from the existing Secret under the chart's keys.
   */
  private secretEnv(
    name: string,
    database: DatabaseArgs,
    pasetoKey: pulumi.Output<string> | undefined,
    metadata: { namespace: pulumi.Input<string>; labels: Record<string, string> },
  ): k8s.types.input.core.v1.EnvVar[] {
    if (database.existingSecret !== undefined) {
      const from = (key: string, optional?: boolean) => ({
        secretKeyRef: { name: database.existingSecret, key, ...(optional ? { optional } : {}) },
      });
      return [
        { name: "DATABASE_DSN", valueFrom: from(EXISTING_SECRET_KEYS.databaseUrl) },
        // Optional: without it the API runs read-only, as with an empty pasetoKey.
        { name: "PASETO_KEY", valueFrom: from(EXISTING_SECRET_KEYS.pasetoKey, true) },
      ];
    }
    const secret = new k8s.core.v1.Secret(
      `${name}-env`,
      {
        metadata,
        type: "Opaque",
        stringData: {
          DATABASE_DSN: pulumi.secret(database.url),
          ...(pasetoKey ? { PASETO_KEY: pulumi.secret(pasetoKey) } : {}),
        },
      },
      { parent: this },
    );
    return ["DATABASE_DSN", ...(pasetoKey ? ["PASETO_KEY"] : [])].map((key) => ({
      name: key,
      valueFrom: { secretKeyRef: { name: secret.metadata.name, key } },
    }));
  }
}

/** The API's container: its image, port, environment (plain, then secret), probes and hardening. */
function apiContainer(
  workload: ApiWorkloadArgs,
  imagePullPolicy: SchedulingSpec["imagePullPolicy"],
  volumeMounts: k8s.types.input.core.v1.VolumeMount[],
  secretEnv: k8s.types.input.core.v1.EnvVar[],
): k8s.types.input.core.v1.Container {
  const probe = (path: string, failureThreshold: number) => ({
    httpGet: { path, port: "http" },
    periodSeconds: 10,
    timeoutSeconds: 2,
    failureThreshold,
  });
  return {
    name: APP,
    image: workload.image,
    imagePullPolicy,
    ports: [{ name: "http", containerPort: PORT, protocol: "TCP" }],
    env: [
      ...Object.entries(workload.env)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, value]) => ({ name: k, value })),
      ...secretEnv,
    ],
    ...(volumeMounts.length > 0 ? { volumeMounts } : {}),
    startupProbe: probe("/livez", 30),
    livenessProbe: probe("/livez", 3),
    readinessProbe: probe("/readyz", 3),
    resources: workload.resources,
    securityContext: containerSecurityContext,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

/** The component's arguments for a stack's spec and its plan (what index.ts deploys). */
export function apiArgs(spec: ApiSpec, deploy: DeployPlan, dir: MigrationDir): DevelopersItaliaApiArgs {
  const { database } = spec;
  return {
    namespace: spec.namespace,
    instance: deploy.instance,
    createNamespace: spec.createNamespace,
    workload: {
      ...spec.workload,
      image: imageRef(spec.image),
      env: spec.env,
      resources: spec.resources,
      pasetoKey: spec.pasetoKey === undefined ? undefined : pulumi.secret(spec.pasetoKey),
    },
    database:
      database.url === undefined
        ? { existingSecret: database.existingSecret, caCert: database.caCert }
        : { url: pulumi.secret(database.url), caCert: database.caCert },
    migration: {
      dir,
      run: deploy.migration,
      hold: deploy.run.rollback,
      contract: deploy.contract && {
        dir: deploy.contract.dir,
        run: deploy.contract.migration,
        hold: deploy.contract.run.rollback,
      },
    },
    exposure: spec.exposure,
    scaling: spec.scaling,
    rollout: spec.rollout,
    scheduling: spec.scheduling,
    networkPolicy: spec.networkPolicy,
  };
}
