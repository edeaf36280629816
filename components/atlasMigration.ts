import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MigrationDir, SUM_FILE } from "../lib/migration/dir";
import { formatHashFile } from "../lib/migration/atlasSum";
import {
  CONFIGMAP_LIMIT_BYTES,
  configMapData,
  configMapItems,
  KEY_ANNOTATION,
  migrationDatabaseUrl,
  migrationPodSpec,
  type MigrationRun,
  SECRET_KEY,
} from "../lib/migration/run";
import type { PullPolicy } from "../lib/spec";

export interface AtlasMigrationArgs {
  /** Namespace of every object; an Output of the Namespace resource makes the Job wait for it. */
  readonly namespace: pulumi.Input<string>;
  /** The verified migration directory (see loadMigrationDir). */
  readonly dir: MigrationDir;
  /** What the Job runs and its content key (migrationRun): the Job is re-created exactly when the key changes. */
  readonly run: MigrationRun;
  /**
   * The database URL for Atlas, a secret Output (this component adds the session settings
   * and keeps it in a Secret of its own); or a Secret managed elsewhere and the key of its URL,
   * which the Job reads as it is and this component never sees.
   */
  readonly database:
    | { readonly url: pulumi.Output<string> }
    | { readonly existingSecret: { readonly name: string; readonly key: string } };
  /**
   * Name of a ConfigMap holding the database CA bundle under key `ca.crt`; mounted read-only
   * at DATABASE_CA_DIR, where the URL's sslrootcert points. @default none
   */
  readonly databaseCaConfigMap?: pulumi.Input<string>;
  /** Pull secrets and policy for Atlas's image (a mirror in the API's registry). */
  readonly imagePullSecrets: readonly string[];
  readonly imagePullPolicy: PullPolicy;
  /**
   * Keep the Job, its Secret and ConfigMap exactly as the last `up` left them: nothing is
   * re-run (rolling the API back without migrations). Needs a Job that already exists.
   */
  readonly hold: boolean;
  /** Labels for every object. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Resources the Job waits for (the contract phase: the Deployment, whose await ends when its
   * new pods are ready); children do not inherit a component's dependsOn. @default none
   */
  readonly after?: readonly pulumi.Resource[];
}

/** How much longer Pulumi waits than Kubernetes, so the Job's own DeadlineExceeded always wins. */
export const AWAIT_MARGIN_SECONDS = 120;

/**
 * One Atlas `migrate apply` run as a Kubernetes Job, with everything it uses as children
 * (ServiceAccount, Secret, ConfigMap), so a first install works. The Job is re-created
 * only when `key` changes; a failed Job is replaced by the next `up`.
 */
export class AtlasMigration extends pulumi.ComponentResource {
  public readonly job: k8s.batch.v1.Job;
  /** Content key: the migrations, the image and the flags. */
  public readonly key: string;
  public readonly jobName: pulumi.Output<string>;
  /** The key of the Job in the cluster: `key`, or the held Job's own when `hold` is set. */
  public readonly runKey: pulumi.Output<string>;

  constructor(name: string, args: AtlasMigrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("developers-italia:migrations:AtlasMigration", name, {}, opts);
    const { input, key } = args.run;
    const deadlineSeconds = input.deadlineSeconds;
    // A held run ignores every change: a new key must not replace (and so re-run) the Job.
    const hold = (paths: string[]) => (args.hold ? { ignoreChanges: paths } : {});
    this.key = key;
    const labels = { ...args.labels, "app.kubernetes.io/component": "migration" };
    const metadata = { namespace: args.namespace, labels };

    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata, automountServiceAccountToken: false },
      { parent: this },
    );
    // With an existing Secret, the Job reads its URL as it is: the session settings of
    // migrationDatabaseUrl cannot be added to a value this program never sees.
    const { database } = args;
    let secret: k8s.core.v1.Secret | undefined;
    let secretRef: { secret: pulumi.Input<string>; secretKey?: string; secretOptional?: boolean };
    if ("existingSecret" in database) {
      secretRef = {
        secret: database.existingSecret.name,
        secretKey: database.existingSecret.key,
        secretOptional: true,
      };
    } else {
      secret = new k8s.core.v1.Secret(
        `${name}-db`,
        {
          metadata,
          type: "Opaque",
          stringData: {
            [SECRET_KEY]: pulumi.secret(database.url).apply((url) => migrationDatabaseUrl(url, input)),
          },
        },
        { parent: this, ...hold(["stringData", "data"]) },
      );
      secretRef = { secret: secret.metadata.name };
    }

    const external =
      "existingSecret" in database
        ? { secret: database.existingSecret.name, key: database.existingSecret.key }
        : undefined;
    const data = configMapData(args.dir, formatHashFile(args.dir.hashFile), external);
    const size = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (size > CONFIGMAP_LIMIT_BYTES) {
      throw new pulumi.ResourceError(
        `${name}: the migrations (${size} bytes) do not fit in a ConfigMap (1 MiB); ` +
          `squash old migrations into a new baseline (${args.dir.path}/${SUM_FILE})`,
        this,
      );
    }
    // Immutable: new content means a new ConfigMap (and a new Job), never an edit under a running one.
    const configMap = new k8s.core.v1.ConfigMap(
      `${name}-files`,
      { metadata, immutable: true, data },
      { parent: this, ...hold(["data"]) },
    );

    this.job = new k8s.batch.v1.Job(
      `${name}-job`,
      {
        metadata: {
          ...metadata,
          annotations: {
            // A failed run is replaced by the next `up` instead of being awaited again.
            "pulumi.com/replaceUnready": "true",
          },
        },
        spec: {
          backoffLimit: 0,
          activeDeadlineSeconds: deadlineSeconds,
          template: withPullSecrets(
            migrationPodSpec(
              input,
              {
                serviceAccount: serviceAccount.metadata.name,
                ...secretRef,
                configMap: configMap.metadata.name,
                databaseCa: args.databaseCaConfigMap,
              },
              configMapItems(data),
              this.key,
              args.imagePullPolicy,
            ),
            args.imagePullSecrets,
          ),
        },
      },
      {
        parent: this,
        ...hold(["metadata", "spec"]),
        dependsOn: [serviceAccount, ...(secret ? [secret] : []), configMap, ...(args.after ?? [])],
        customTimeouts: {
          create: `${deadlineSeconds + AWAIT_MARGIN_SECONDS}s`,
          update: `${deadlineSeconds + AWAIT_MARGIN_SECONDS}s`,
        },
      },
    );
    this.jobName = this.job.metadata.name;
    this.runKey = args.hold
      ? this.job.spec.template.metadata.annotations.apply((a) => a?.[KEY_ANNOTATION] ?? this.key)
      : pulumi.output(this.key);
    this.registerOutputs({ key: this.key, jobName: this.jobName });
  }
}

/** The Job pulls Atlas's image with the API's pull secrets (a mirror in the same private registry). */
function withPullSecrets(
  template: k8s.types.input.core.v1.PodTemplateSpec,
  names: readonly string[],
): k8s.types.input.core.v1.PodTemplateSpec {
  if (names.length === 0) return template;
  const spec = template.spec as k8s.types.input.core.v1.PodSpec;
  return { ...template, spec: { ...spec, imagePullSecrets: names.map((name) => ({ name })) } };
}
