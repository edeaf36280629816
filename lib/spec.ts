import type { Acknowledgement } from "./migration/guard";

/**
 * What one deploy of the API is, fully resolved: every default applied, every value
 * checked. lib/config/ reads a stack into it (and owns the defaults); lib/deploy/ plans
 * from it; components/ take their parts. Nothing secret is logged from here: `database.url`
 * and `pasetoKey` become secret Outputs where the program hands them to resources.
 */
export interface ApiSpec {
  readonly namespace: string;
  /** `instance`: the app.kubernetes.io/instance label, when the stack sets one (lib/deploy/ resolves it). */
  readonly instance?: string;
  /** Create the namespace; the program never deletes one either way. */
  readonly createNamespace: boolean;
  readonly image: ImageSpec;
  readonly resources: Resources;
  /** Plain, non-secret environment of the API (ENVIRONMENT, MAX_REQUESTS, WEBHOOK_*). */
  readonly env: Readonly<Record<string, string>>;
  readonly database: DatabaseSpec;
  /** PASETO_KEY, when writes are enabled; never with `database.existingSecret` (that Secret holds it). */
  readonly pasetoKey?: string;
  readonly migration: MigrationSpec;
  readonly exposure: ExposureSpec;
  readonly scaling: ScalingSpec;
  readonly rollout: RolloutSpec;
  readonly scheduling: SchedulingSpec;
  readonly workload: WorkloadSpec;
  readonly networkPolicy: NetworkPolicySpec;
  /** The stack whose successful migrations this one may run (promotion); none when unset. */
  readonly promoteFrom?: string;
}

export interface ImageSpec {
  readonly repository: string;
  readonly tag: string;
  readonly digest?: string;
}

export interface Resources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

/**
 * Where the database URL comes from: this stack's secret config (the URL, sslmode always
 * explicit), or a Secret managed elsewhere (the chart's useExistingSecret), which the
 * program never reads; then `address` (existingSecretDatabase), when set, names the database
 * that Secret's URL points at, as a URL without credentials: its identity is the Job's and
 * the record's, and the online preflight reads only that database. `caCert`: the CA bundle
 * (normalized PEM, public), mounted at DATABASE_CA_PATH in the Job and the API.
 */
export type DatabaseSpec =
  | {
      readonly url: string;
      readonly existingSecret?: undefined;
      readonly address?: undefined;
      readonly caCert?: string;
    }
  | { readonly existingSecret: string; readonly url?: undefined; readonly address?: string; readonly caCert?: string };

export type MigrationPreflight = "online" | "offline" | "off";

export interface MigrationSpec {
  /** Atlas's image, pinned by version tag or digest. */
  readonly atlasImage: string;
  readonly baseline?: string;
  /** The Job's activeDeadlineSeconds. */
  readonly deadlineSeconds: number;
  /** Atlas's --lock-timeout: how long a run waits for another run's advisory lock (a Go duration). */
  readonly atlasLockTimeout: string;
  /** PostgreSQL's lock_timeout in the migration session: how long a statement waits for a table lock ("0": no limit). */
  readonly postgresLockTimeout: string;
  readonly revisionsSchema?: string;
  readonly preflight: MigrationPreflight;
  /** allowDestructiveMigrations: files whose loses-data statements are acknowledged (lib/migration/risk.ts). */
  readonly allowDestructive: readonly Acknowledgement[];
  /** allowBreakingMigrations: files whose breaks-old-pods statements may run before the rollout. */
  readonly allowBreaking: readonly Acknowledgement[];
  /** allowLockingMigrations: files whose long-lock statements are acknowledged. */
  readonly allowLocking: readonly Acknowledgement[];
  /** Roll the API back without running migrations: the Job is kept as it is. */
  readonly rollback: boolean;
  /** The identity of a new database whose full run the offline plan accepts. */
  readonly acceptDatabase?: string;
}

export interface ExposureSpec {
  readonly service: ServiceSpec;
  readonly ingress: IngressSpec;
  readonly serviceMonitor: ServiceMonitorSpec;
}

export interface ServiceSpec {
  readonly type: "ClusterIP" | "NodePort" | "LoadBalancer";
  readonly port: number;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface IngressSpec {
  readonly enabled: boolean;
  readonly className: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly hosts: ReadonlyArray<{
    readonly host: string;
    readonly paths: ReadonlyArray<{
      readonly path: string;
      readonly pathType: "Exact" | "Prefix" | "ImplementationSpecific";
    }>;
  }>;
  /** Without secretName, the ingress controller's default certificate. */
  readonly tls: ReadonlyArray<{ readonly secretName?: string; readonly hosts: readonly string[] }>;
}

export interface ServiceMonitorSpec {
  readonly enabled: boolean;
  readonly additionalLabels: Readonly<Record<string, string>>;
  readonly jobLabel: string;
  readonly interval?: string;
  readonly scrapeTimeout?: string;
  readonly targetLabels: readonly string[];
  readonly path: string;
}

export interface ScalingSpec {
  /** undefined when the HPA owns the count: the Deployment then leaves `replicas` out. */
  readonly replicas?: number;
  readonly autoscaling?: {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCPUUtilizationPercentage?: number;
    readonly targetMemoryUtilizationPercentage?: number;
  };
  readonly podDisruptionBudget?: { readonly minAvailable?: number | string; readonly maxUnavailable?: number | string };
}

/** How long a rollout of the API may take before it counts as failed. */
export interface RolloutSpec {
  /**
   * The Deployment's progressDeadlineSeconds: a new ReplicaSet whose pods do not become
   * available for this long is marked ProgressDeadlineExceeded, and `pulumi up` waits this long
   * plus ROLLOUT_AWAIT_MARGIN_SECONDS for the whole rollout before it fails.
   */
  readonly timeoutSeconds: number;
}

/** How much longer `pulumi up` waits for a rollout than Kubernetes, so the Deployment's own
 * ProgressDeadlineExceeded is what the failed `up` reports. */
export const ROLLOUT_AWAIT_MARGIN_SECONDS = 10;

export type PullPolicy = "IfNotPresent" | "Always" | "Never";

export interface SchedulingSpec {
  readonly imagePullPolicy: PullPolicy;
  readonly imagePullSecrets: readonly string[];
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: ReadonlyArray<{
    readonly key?: string;
    readonly operator?: "Exists" | "Equal";
    readonly value?: string;
    readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
    readonly tolerationSeconds?: number;
  }>;
  readonly affinity?: Readonly<Record<string, unknown>>;
  readonly topologySpreadConstraints: ReadonlyArray<
    Readonly<Record<string, unknown>> & {
      readonly maxSkew: number;
      readonly topologyKey: string;
      readonly whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
      /** Unset: the API's own pods (the Deployment's selector). */
      readonly labelSelector?: Readonly<Record<string, unknown>>;
    }
  >;
  readonly priorityClassName?: string;
}

export interface WorkloadSpec {
  readonly serviceAccount: {
    readonly create: boolean;
    readonly annotations: Readonly<Record<string, string>>;
    /** With create, the name to give it (autonamed when empty); without, an existing account to use. */
    readonly name: string;
    readonly automountToken: boolean;
  };
  readonly deploymentAnnotations: Readonly<Record<string, string>>;
  readonly podAnnotations: Readonly<Record<string, string>>;
  /** Extra labels on every object this program creates, and on the API pods. */
  readonly labels: Readonly<Record<string, string>>;
  /** Kubernetes Volume objects, checked by the API server's dry run in preview. */
  readonly extraVolumes: ReadonlyArray<Readonly<Record<string, unknown>> & { readonly name: string }>;
  readonly extraVolumeMounts: ReadonlyArray<
    Readonly<Record<string, unknown>> & { readonly name: string; readonly mountPath: string }
  >;
}

/** A NetworkPolicy peer: pods selected by namespace and/or pod labels. */
export interface PolicyPeer {
  readonly namespaceSelector?: Readonly<Record<string, unknown>>;
  readonly podSelector?: Readonly<Record<string, unknown>>;
}

export interface NetworkPolicySpec {
  readonly enabled: boolean;
  /** Who may reach the API's port (e.g. the ingress controller's namespace, Prometheus). */
  readonly ingressFrom: readonly PolicyPeer[];
  readonly database: {
    readonly cidrs: readonly string[];
    readonly peers: readonly PolicyPeer[];
    readonly port: number;
  };
  /** Allow HTTPS (443) to public addresses, for the webhooks the API sends. */
  readonly webhooks: boolean;
  /** More ranges webhooks must not reach, on top of the private ones. */
  readonly webhookExceptCidrs: readonly string[];
}

/**
 * Private, link-local and loopback ranges: webhook URLs are chosen by API clients, so never
 * these. Always blocked; `networkPolicy.webhookExceptCidrs` adds to them and cannot open one.
 */
export const NON_PUBLIC_CIDRS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"];
/** The IPv6 counterparts: unique-local, link-local and loopback. */
export const NON_PUBLIC_CIDRS_V6 = ["fc00::/7", "fe80::/10", "::1/128"];

/** The keys of a Secret managed elsewhere (`database.existingSecret`), as the upstream chart names them. */
export const EXISTING_SECRET_KEYS = { databaseUrl: "databaseDSN", pasetoKey: "pasetoKey" } as const;
