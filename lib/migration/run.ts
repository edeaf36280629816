import type * as k8s from "@pulumi/kubernetes";
import type { PullPolicy } from "../spec";
import { MigrationDir, MigrationDirError, SUM_FILE, shortDigest } from "./dir";
import { DATABASE_CA_DIR, DATABASE_CA_FILE } from "../database/tls";
import type { Phase } from "./phase";

/**
 * Everything the migration Job runs, as plain data: the content key, Atlas's command
 * line and config, and the pod spec. The component only wires these to resources, and the
 * integration tests run exactly this command against a real PostgreSQL.
 */

export interface MigrationRunInput {
  /** Atlas's image, pinned. */
  readonly atlasImage: string;
  readonly baseline?: string;
  /** Atlas's --lock-timeout: how long a run waits for another run's advisory lock. */
  readonly atlasLockTimeout: string;
  readonly revisionsSchema?: string;
  /** atlas.sum total of the directory shipped to the Job. */
  readonly sumTotal: string;
  /** Which database the run is about (databaseIdentity: no credentials); "" when unknown. */
  readonly databaseIdentity?: string;
  /** PostgreSQL `lock_timeout` of the migration session: how long a statement waits for a table lock; "0" disables it. */
  readonly postgresLockTimeout: string;
  /** The Job's activeDeadlineSeconds, from which the session's statement_timeout derives. */
  readonly deadlineSeconds: number;
  /**
   * The contract phase (lib/migration/phase.ts): its own directory and revisions schema, and
   * `--allow-dirty`, since the expand phase built the schema it finds. @default expand
   */
  readonly phase?: Phase;
}

/** One migration run as data, its content key computed once: what the plan shows is what the Job carries. */
export interface MigrationRun {
  readonly input: MigrationRunInput;
  readonly key: string;
}

export function migrationRun(input: MigrationRunInput): MigrationRun {
  return { input, key: migrationKey(input) };
}

/** Each migration file runs in its own transaction, rolled back if any statement fails. */
export const TX_MODE = "file";
/**
 * Atlas 0.13 has no --exec-order flag: it always runs files in version order after the
 * last revision (what newer releases call `linear`). Part of the key so that moving to an
 * Atlas with another order is a visible Job change.
 */
export const EXEC_ORDER = "linear";
export const ATLAS_ENV = "deploy";
export const CONFIG_MOUNT = "/etc/atlas";
export const MIGRATIONS_PATH = `${CONFIG_MOUNT}/migrations`;
export const DATABASE_URL_ENV = "DATABASE_URL";
/** Key of the database URL in the migration Secret. */
export const SECRET_KEY = "databaseUrl";
export const KEY_ANNOTATION = "deploy.developers.italia.it/migration-key";
export const JOB_ANNOTATION = "deploy.developers.italia.it/migration-job";

/** statement_timeout is this much below the Job's deadline, so PostgreSQL ends the statement itself. */
export const STATEMENT_TIMEOUT_MARGIN_SECONDS = 5;
/** How often the server checks, during a statement, that the migration pod is still connected. */
export const CONNECTION_CHECK_INTERVAL = "2s";
export const MIGRATION_APPLICATION_NAME = "developers-italia-migration";

/**
 * The PostgreSQL settings of the migration's session, so that a migration never holds the
 * live API hostage: DDL that cannot get its lock fails after `lock_timeout` instead of
 * queueing every API query behind it; a statement ends before the Job's deadline; and when
 * the pod dies, the server notices the closed connection within seconds, ends the statement
 * and so releases the session's advisory lock.
 */
export function migrationSessionParameters(input: MigrationRunInput): Array<[string, string]> {
  return [
    ["lock_timeout", input.postgresLockTimeout],
    ["statement_timeout", `${Math.max(1, input.deadlineSeconds - STATEMENT_TIMEOUT_MARGIN_SECONDS)}s`],
    ["client_connection_check_interval", CONNECTION_CHECK_INTERVAL],
  ];
}

/**
 * The URL the migration Job connects with: the user's URL (already validated and
 * normalised by dsnToUrl) plus migrationSessionParameters as query parameters. lib/pq
 * (inside Atlas) sends every query parameter it does not know itself to the server as a
 * run-time parameter in the startup message, so these apply from the first statement. Only
 * the Job's Secret holds this URL; the API keeps the user's.
 */
export function migrationDatabaseUrl(databaseUrl: string, input: MigrationRunInput): string {
  const at = databaseUrl.indexOf("?");
  const base = at < 0 ? databaseUrl : databaseUrl.slice(0, at);
  const query = new URLSearchParams(at < 0 ? "" : databaseUrl.slice(at + 1));
  for (const [key, value] of migrationSessionParameters(input)) query.set(key, value);
  // Names the session in pg_stat_activity, unless the DSN names it (both lib/pq and pgx send it).
  if (!query.has("application_name")) query.set("application_name", MIGRATION_APPLICATION_NAME);
  return `${base}?${query.toString()}`;
}

/**
 * The content key: changes exactly when what the Job would do changes (the migrations,
 * the program that applies them, its flags and session settings, and which database it is
 * about), so an unchanged key never re-runs a Job. The database enters as its identity
 * (host, port, name, search_path), never its credentials.
 */
export function migrationKey(input: MigrationRunInput): string {
  return shortDigest([
    "v2",
    // The source, from when the API image's own migrate subcommand was one: kept so that no
    // stack's key (and so its Job) changes.
    "configmap",
    input.atlasImage,
    input.sumTotal,
    `baseline=${input.baseline ?? ""}`,
    `tx-mode=${TX_MODE}`,
    `exec-order=${EXEC_ORDER}`,
    `lock-timeout=${input.atlasLockTimeout}`,
    `revisions-schema=${input.revisionsSchema ?? ""}`,
    `database=${input.databaseIdentity ?? ""}`,
    ...migrationSessionParameters(input).map(([k, v]) => `${k}=${v}`),
    // Only the contract phase adds parts, so that no expand Job's key changes.
    ...(input.phase === "contract" ? ["phase=contract", "allow-dirty"] : []),
  ]);
}

export interface JobBaselineInput {
  /** The baseline the plan says this run writes (RunPlan.baselineToWrite): it takes effect. */
  readonly baselineToWrite?: string;
  /** The key of the Job in the cluster, as the stack's last `up` recorded it (its `migrationKey` output). */
  readonly recordedKey?: string;
  /** Every version a baseline can name (the directory's): where the recorded Job's is looked for. */
  readonly versions: readonly string[];
  /** The key of a Job with this baseline and every other input as configured now. */
  readonly keyWith: (baseline: string | undefined) => string;
}

/**
 * The `--baseline` the Job carries, and so its key. Atlas reads a baseline only while the
 * revisions table is empty: once a run wrote revisions, adding or removing
 * migrationBaseline changes nothing Atlas does, and must not replace the Job (and roll the
 * API) for a run that applies nothing. So:
 * - when the plan writes a baseline (nothing applied yet, or a new database), that one;
 * - otherwise the one the Job in the cluster already carries, found by the key it recorded,
 *   whatever the config says now; none when no version gives that key (the Job is replaced
 *   for another change anyway, and the baseline would be ignored).
 */
export function jobBaseline(input: JobBaselineInput): string | undefined {
  if (input.baselineToWrite !== undefined) return input.baselineToWrite;
  const recorded = input.recordedKey;
  if (recorded === undefined || input.keyWith(undefined) === recorded) return undefined;
  return input.versions.find((version) => input.keyWith(version) === recorded);
}

/** A Secret managed elsewhere that holds the Job's database URL under `key`. */
export interface ExternalUrlSource {
  readonly secret: string;
  readonly key: string;
}

/**
 * atlas.hcl: the URL comes from the environment, never from argv. From a Secret managed
 * elsewhere the Job reads it optionally (a missing Secret or key would keep the pod from
 * starting until the deadline), so the file checks it first: empty, or not a postgres:// URL
 * (the chart's key=value DSN), Atlas stops at once with an error that names the Secret and the
 * key (a text Atlas cannot open as a URL, quoted in its error) and never the value.
 */
export function atlasConfig(external?: ExternalUrlSource): string {
  if (external === undefined) {
    return [`env "${ATLAS_ENV}" {`, `  url = getenv("${DATABASE_URL_ENV}")`, `}`, ``].join("\n");
  }
  const where = `Secret ${external.secret}, key ${external.key}`;
  const missing = `no database URL: ${where}, is missing or empty; create it with a postgres:// URL`;
  const notUrl =
    `no database URL: ${where}, does not hold a postgres:// URL (a key=value DSN, as the chart stores it?); ` +
    "store postgres://user:password@host:5432/name?sslmode=...";
  return [
    "locals {",
    `  url    = getenv("${DATABASE_URL_ENV}")`,
    `  is_url = substr(local.url, 0, 11) == "postgres://" || substr(local.url, 0, 13) == "postgresql://"`,
    "}",
    `env "${ATLAS_ENV}" {`,
    `  url = local.is_url ? local.url : (local.url == "" ? ${JSON.stringify(missing)} : ${JSON.stringify(notUrl)})`,
    "}",
    "",
  ].join("\n");
}

/** `atlas` arguments; the flags are explicit so the plan shows them. */
export function atlasArgs(input: MigrationRunInput): string[] {
  return [
    "migrate",
    "apply",
    "--config",
    `file://${CONFIG_MOUNT}/atlas.hcl`,
    "--env",
    ATLAS_ENV,
    "--dir",
    `file://${MIGRATIONS_PATH}`,
    "--tx-mode",
    TX_MODE,
    "--lock-timeout",
    input.atlasLockTimeout,
    ...(input.revisionsSchema ? ["--revisions-schema", input.revisionsSchema] : []),
    ...(input.baseline ? ["--baseline", input.baseline] : []),
    // The expand phase built the schema the contract phase finds: not a clean database.
    ...(input.phase === "contract" ? ["--allow-dirty"] : []),
  ];
}

/** ConfigMap content: every migration file, atlas.sum and atlas.hcl. */
export function configMapData(
  dir: MigrationDir,
  sumText: string,
  external?: ExternalUrlSource,
): Record<string, string> {
  const data: Record<string, string> = { "atlas.hcl": atlasConfig(external), [SUM_FILE]: sumText };
  for (const f of dir.files) data[configMapKey(f.name)] = f.text;
  return data;
}

/**
 * A ConfigMap key allows only [-._a-zA-Z0-9] (at most 253 characters), a migration file name
 * anything Atlas reads (spaces, any letter): other names travel base64url-encoded under a
 * prefix no file name has (they start with digits), and the item's path restores them.
 */
const ENCODED_KEY_PREFIX = "name.";
export function configMapKey(name: string): string {
  if (/^[-._a-zA-Z0-9]{1,253}$/.test(name)) return name;
  const key = ENCODED_KEY_PREFIX + Buffer.from(name).toString("base64url");
  if (key.length > 253) {
    throw new MigrationDirError(
      `migration file name ${JSON.stringify(name)} is too long for a ConfigMap key once encoded ` +
        "(names with characters other than letters a-z, digits, '-', '_' and '.' may have at most 186 bytes); shorten it",
    );
  }
  return key;
}

function fileNameOfKey(key: string): string {
  return key.startsWith(ENCODED_KEY_PREFIX)
    ? Buffer.from(key.slice(ENCODED_KEY_PREFIX.length), "base64url").toString("utf8")
    : key;
}

/** How the ConfigMap's keys land under CONFIG_MOUNT (keys cannot hold "/"). */
export function configMapItems(data: Readonly<Record<string, string>>): Array<{ key: string; path: string }> {
  return Object.keys(data)
    .sort()
    .map((key) => ({ key, path: key === "atlas.hcl" ? key : `migrations/${fileNameOfKey(key)}` }));
}

/** ConfigMaps hold at most 1 MiB; say so before the API server does. */
export const CONFIGMAP_LIMIT_BYTES = 1024 * 1024 - 16 * 1024;

export interface PodNames {
  readonly serviceAccount: k8s.types.input.core.v1.PodSpec["serviceAccountName"];
  readonly secret: k8s.types.input.core.v1.SecretKeySelector["name"];
  /** The key of the database URL in that Secret. @default SECRET_KEY */
  readonly secretKey?: string;
  /** A Secret managed elsewhere: read optionally, so atlas.hcl reports a missing one at once. */
  readonly secretOptional?: boolean;
  readonly configMap: k8s.types.input.core.v1.ConfigMapVolumeSource["name"];
  /** ConfigMap holding the database CA bundle (key DATABASE_CA_FILE), when there is one. */
  readonly databaseCa?: k8s.types.input.core.v1.ConfigMapVolumeSource["name"];
}

export const DATABASE_CA_VOLUME = "database-ca";

/**
 * The database CA bundle as a read-only volume at DATABASE_CA_DIR: the same path in the
 * migration Job and the API, the one their URL's sslrootcert names.
 */
export function databaseCaVolume(configMap: k8s.types.input.core.v1.ConfigMapVolumeSource["name"]) {
  return {
    name: DATABASE_CA_VOLUME,
    configMap: { name: configMap, items: [{ key: DATABASE_CA_FILE, path: DATABASE_CA_FILE }] },
  };
}
export const databaseCaMount = { name: DATABASE_CA_VOLUME, mountPath: DATABASE_CA_DIR, readOnly: true };

export const NON_ROOT_UID = 65532;

export const podSecurityContext = {
  runAsNonRoot: true,
  runAsUser: NON_ROOT_UID,
  runAsGroup: NON_ROOT_UID,
  fsGroup: NON_ROOT_UID,
  seccompProfile: { type: "RuntimeDefault" },
};

export const containerSecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  privileged: false,
  capabilities: { drop: ["ALL"] },
};

/**
 * The migration pod: one container, no retries, its error kept as the termination message.
 * `imagePullPolicy` is the stack's (the API's): Never on an air-gapped node must mean no pull
 * for the Job either, Always a registry check for it too.
 */
export function migrationPodSpec(
  input: MigrationRunInput,
  names: PodNames,
  items: Array<{ key: string; path: string }>,
  key: string,
  imagePullPolicy: PullPolicy,
): k8s.types.input.core.v1.PodTemplateSpec {
  const secretEnv = (name: string) => ({
    name,
    valueFrom: {
      secretKeyRef: {
        name: names.secret,
        key: names.secretKey ?? SECRET_KEY,
        ...(names.secretOptional ? { optional: true } : {}),
      },
    },
  });
  const container = {
    name: "atlas",
    image: input.atlasImage,
    command: ["/atlas"],
    args: atlasArgs(input),
    env: [
      secretEnv(DATABASE_URL_ENV),
      { name: "ATLAS_NO_UPDATE_NOTIFIER", value: "1" },
      { name: "ATLAS_NO_UPGRADE_SUGGESTIONS", value: "1" },
      // Current releases (the default image) send anonymous usage data unless told not to.
      { name: "ATLAS_NO_ANON_TELEMETRY", value: "true" },
      { name: "HOME", value: "/tmp" },
    ],
    volumeMounts: [
      { name: "atlas", mountPath: CONFIG_MOUNT, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
  };
  return {
    metadata: {
      labels: { "app.kubernetes.io/name": "developers-italia-api", "app.kubernetes.io/component": "migration" },
      annotations: { [KEY_ANNOTATION]: key },
    },
    spec: {
      restartPolicy: "Never",
      serviceAccountName: names.serviceAccount,
      automountServiceAccountToken: false,
      securityContext: podSecurityContext,
      containers: [
        {
          ...container,
          volumeMounts: [...container.volumeMounts, ...(names.databaseCa ? [databaseCaMount] : [])],
          imagePullPolicy,
          terminationMessagePolicy: "FallbackToLogsOnError",
          securityContext: containerSecurityContext,
          resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
        },
      ],
      volumes: [
        { name: "atlas", configMap: { name: names.configMap, items } },
        { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
        ...(names.databaseCa ? [databaseCaVolume(names.databaseCa)] : []),
      ],
    },
  };
}
