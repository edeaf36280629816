import { ConfigError, type ConfigSource } from "./source";
import { DsnError, dsnToUrl, urlParam } from "../database/dsn";
import { CaBundleError, DATABASE_CA_PATH, parseCaBundle } from "../database/tls";
import { Exposure, readExposure } from "./exposure";
import { NetworkPolicySettings, readPolicy } from "./policy";
import { readScaling, Scaling } from "./scaling";
import { readScheduling, Scheduling } from "./scheduling";
import { GO_MAX_DURATION_NS, goDurationNs, POSTGRES_MAX_TIMEOUT_MS, postgresDurationMs } from "./read";
import { readExistingSecret } from "./secrets";
import { Acknowledgement, parseAcknowledgements } from "../migration/guard";
import { readWorkload, Workload } from "./workload";

/**
 * Stack configuration, read and validated in one place. Every error names the config key
 * and says what to do; secret values are never echoed.
 */

export type MigrationPreflight = "online" | "offline" | "off";

export interface Resources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

export interface Settings {
  readonly namespace: string;
  /** `instance`: the app.kubernetes.io/instance label, when the stack sets it. */
  readonly instance?: string;
  readonly createNamespace: boolean;
  readonly image: { readonly repository: string; readonly tag: string; readonly digest?: string };
  readonly replicas: number;
  readonly resources: Resources;
  /** Plain, non-secret environment of the API (ENVIRONMENT, MAX_REQUESTS, WEBHOOK_*). */
  readonly env: Readonly<Record<string, string>>;
  /** Secret: the database URL both Atlas and the API use (sslmode always explicit); absent with useExistingSecret. */
  readonly databaseUrl?: string;
  /**
   * The database's CA bundle (normalized PEM, public), mounted at DATABASE_CA_PATH in the
   * migration Job and the API; databaseUrl then carries sslrootcert=DATABASE_CA_PATH.
   */
  readonly databaseCaCert?: string;
  /** Secret: PASETO_KEY, when writes are enabled. */
  readonly pasetoKey?: string;
  readonly migration: {
    readonly atlasImage: string;
    readonly baseline?: string;
    readonly deadlineSeconds: number;
    readonly lockTimeout: string;
    readonly revisionsSchema?: string;
    readonly preflight: MigrationPreflight;
    readonly allowDestructive: readonly Acknowledgement[];
    /** PostgreSQL lock_timeout of the migration session ("0": no limit). */
    readonly lockWaitTimeout: string;
    /** Roll the API back without running migrations: the Job is kept as it is. */
    readonly rollback: boolean;
    /** The identity of a new database whose full run the offline plan accepts. */
    readonly acceptDatabase?: string;
  };
  /** The chart's useExistingSecret: a Secret managed elsewhere (lib/config/secrets.ts). */
  readonly existingSecret?: string;
  readonly exposure: Exposure;
  readonly scaling: Scaling;
  readonly scheduling: Scheduling;
  readonly workload: Workload;
  readonly networkPolicy: NetworkPolicySettings;
  /** The stack whose successful migrations this one may run (promotion); none when unset. */
  readonly promoteFrom?: string;
}

/**
 * Atlas's community build (Apache 2.0, open-source code only, no login for `migrate apply`)
 * of a current release: it opens PostgreSQL 16-18, which the test bed's Atlas 0.13 cannot.
 * Ariga deletes images about six months after release: mirror it and pin it by digest
 * (docs/testbed.md, "Atlas versions").
 */
export const ATLAS_IMAGE = "arigaio/atlas:1.2.3-community";
export const DEFAULT_IMAGE = "ghcr.io/italia/developers-italia-api";
export const DEFAULT_TAG = "v1.4.0";

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const digestPattern = /^sha256:[a-f0-9]{64}$/;
const versionPattern = /^\d{14}$/;

export function readSettings(config: ConfigSource): Settings {
  const text = (key: string, fallback?: string) => {
    const value = config.get(key);
    return value === undefined || value === "" ? fallback : value;
  };
  const int = (key: string, fallback: number | undefined, min: number, max: number) => {
    const raw = text(key);
    if (raw === undefined) return fallback;
    // Decimal digits only: Number() would also take "0x10", "1e1", " 5 " and "".
    const value = /^(0|[1-9]\d*)$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(key, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const bool = (key: string, fallback: boolean) => {
    const raw = text(key);
    if (raw === undefined) return fallback;
    if (raw !== "true" && raw !== "false")
      throw new ConfigError(key, `expected true or false, got ${JSON.stringify(raw)}`);
    return raw === "true";
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const raw = text(key, fallback) as T;
    if (!allowed.includes(raw)) {
      throw new ConfigError(key, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
    }
    return raw;
  };
  const secret = (key: string, required: boolean) => {
    const raw = text(key);
    if (raw === undefined) {
      if (required) throw new ConfigError(key, `is required: pulumi config set --secret ${key} '<value>'`);
      return undefined;
    }
    if (!config.isSecret(key)) {
      throw new ConfigError(
        key,
        `is stored in plain text; store it encrypted: pulumi config set --secret ${key} '<value>'`,
      );
    }
    return raw;
  };

  const namespace = text("namespace", "developers-italia")!;
  if (!dnsLabel.test(namespace)) {
    throw new ConfigError("namespace", `${JSON.stringify(namespace)} is not a valid namespace name (a DNS label)`);
  }

  const instance = text("instance");
  if (instance !== undefined && !isLabelValue(instance)) {
    throw new ConfigError(
      "instance",
      `${JSON.stringify(instance)} is not a label value (1-63 letters, digits, "-", "_" or ".", starting and ending ` +
        "with a letter or digit)",
    );
  }

  const digest = text("imageDigest");
  if (digest !== undefined && !digestPattern.test(digest)) {
    throw new ConfigError("imageDigest", `expected sha256:<64 hex digits>, got ${JSON.stringify(digest)}`);
  }
  const image = { repository: text("image", DEFAULT_IMAGE)!, tag: text("imageTag", DEFAULT_TAG)!, digest };
  if (/[@:]/.test(image.repository.split("/").pop() ?? "")) {
    throw new ConfigError("image", "give the repository only; put the tag in imageTag and the digest in imageDigest");
  }
  if (!imageNamePattern.test(image.repository)) {
    throw new ConfigError(
      "image",
      `${JSON.stringify(image.repository)} is not an image repository (lower-case; a registry host needs a dot ` +
        `or a port, e.g. ${DEFAULT_IMAGE})`,
    );
  }
  if (!imageTagPattern.test(image.tag)) {
    throw new ConfigError(
      "imageTag",
      `${JSON.stringify(image.tag)} is not an image tag (letters, digits, ".", "_" and "-", at most 128, e.g. ${DEFAULT_TAG})`,
    );
  }

  const existingSecret = readExistingSecret(config);
  const databaseCaCert = readCaBundle(text("databaseCaCert"));
  const dsn = existingSecret === undefined ? secret("databaseDsn", true)! : undefined;
  let databaseUrl: string | undefined;
  try {
    databaseUrl =
      dsn === undefined
        ? undefined
        : dsnToUrl(dsn, { sslrootcert: databaseCaCert === undefined ? undefined : DATABASE_CA_PATH });
  } catch (err) {
    if (err instanceof DsnError) throw new ConfigError("databaseDsn", err.message);
    throw err;
  }
  if (databaseCaCert !== undefined && databaseUrl !== undefined && urlParam(databaseUrl, "sslmode") === "disable") {
    throw new ConfigError(
      "databaseCaCert",
      "is set but databaseDsn has sslmode=disable, so it would never be used: " +
        "set sslmode=verify-full in databaseDsn (or verify-ca), or remove databaseCaCert",
    );
  }

  const pasetoKey = secret("pasetoKey", false);
  if (pasetoKey !== undefined && !isApiPasetoKey(pasetoKey)) {
    throw new ConfigError(
      "pasetoKey",
      "must be the standard base64 of exactly 32 bytes (the API panics at startup otherwise); make one with: openssl rand -base64 32",
    );
  }

  const env: Record<string, string> = {
    ENVIRONMENT: oneOf("environment", ["production", "development", "test"], "production"),
  };
  const maxRequests = int("maxRequests", undefined, 0, 1_000_000);
  if (maxRequests !== undefined) env.MAX_REQUESTS = String(maxRequests);
  const debounce = int("webhookDebounceMs", undefined, 0, 3_600_000);
  if (debounce !== undefined) env.WEBHOOK_DEBOUNCE_MS = String(debounce);
  const debounceMax = int("webhookDebounceMaxMs", undefined, 0, 86_400_000);
  if (debounceMax !== undefined) env.WEBHOOK_DEBOUNCE_MAX_MS = String(debounceMax);

  readMigrationSource(text("migrationSource"));
  const baseline = text("migrationBaseline");
  if (baseline !== undefined && !versionPattern.test(baseline)) {
    throw new ConfigError(
      "migrationBaseline",
      `expected a 14-digit migration version (see migrations/README.md), got ${JSON.stringify(baseline)}`,
    );
  }
  const lockTimeout = text("migrationLockTimeout", "10s")!;
  const lockTimeoutNs = goDurationNs(lockTimeout);
  if (lockTimeoutNs === undefined) {
    throw new ConfigError(
      "migrationLockTimeout",
      `expected a Go duration such as 10s or 1m30s, got ${JSON.stringify(lockTimeout)}`,
    );
  }
  if (lockTimeoutNs > GO_MAX_DURATION_NS) {
    throw new ConfigError(
      "migrationLockTimeout",
      `${JSON.stringify(lockTimeout)} is longer than a Go duration can hold (2562047h, about 292 years), so Atlas ` +
        "would refuse its --lock-timeout; use a duration such as 10s or 1m30s",
    );
  }
  const revisionsSchema = text("migrationRevisionsSchema");
  if (revisionsSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(revisionsSchema)) {
    throw new ConfigError("migrationRevisionsSchema", `${JSON.stringify(revisionsSchema)} is not a plain schema name`);
  }
  const preflight = oneOf<MigrationPreflight>("migrationPreflight", ["online", "offline", "off"], "offline");
  if (baseline !== undefined && preflight === "offline") {
    throw new ConfigError(
      "migrationBaseline",
      "needs migrationPreflight: online, so the database is checked for the schema before a baseline revision is written " +
        "(Atlas writes a baseline even on an empty database and then skips the schema); run this deploy from where the " +
        "database is reachable, or set migrationPreflight to off to take that risk knowingly",
    );
  }
  const allowDestructive = readAcknowledgements("allowDestructiveMigrations", text("allowDestructiveMigrations"));
  const atlasImage = text("atlasImage", ATLAS_IMAGE)!;
  checkPinnedImage("atlasImage", atlasImage);

  const promoteFrom = text("promoteFrom");
  if (promoteFrom !== undefined && !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/.test(promoteFrom)) {
    throw new ConfigError(
      "promoteFrom",
      `expected a stack name such as staging (or <organization>/<project>/<stack>), got ${JSON.stringify(promoteFrom)}`,
    );
  }

  const lockWaitTimeout = text("migrationLockWaitTimeout", "5s")!;
  const lockWaitMs = postgresDurationMs(lockWaitTimeout);
  if (lockWaitMs === undefined) {
    throw new ConfigError(
      "migrationLockWaitTimeout",
      `expected a PostgreSQL duration such as 5s, 500ms or 1min, or 0 for no limit, got ${JSON.stringify(lockWaitTimeout)}`,
    );
  }
  if (lockWaitMs > POSTGRES_MAX_TIMEOUT_MS) {
    throw new ConfigError(
      "migrationLockWaitTimeout",
      `${JSON.stringify(lockWaitTimeout)} is above PostgreSQL's limit for lock_timeout (2147483647ms, about 596h), ` +
        "so the server would refuse the migration's connection; use a duration such as 5s, or 0 for no limit",
    );
  }
  const acceptDatabase = text("migrationAcceptDatabase");
  if (acceptDatabase !== undefined && !/^[0-9a-f]{16}$/.test(acceptDatabase)) {
    throw new ConfigError(
      "migrationAcceptDatabase",
      `expected the 16-hex-digit database identity that the preview prints, got ${JSON.stringify(acceptDatabase)}`,
    );
  }

  return {
    namespace,
    instance,
    createNamespace: bool("createNamespace", true),
    image,
    replicas: int("replicas", 2, 0, 100)!,
    resources: readResources(text("resources")),
    env,
    databaseUrl,
    databaseCaCert,
    pasetoKey,
    migration: {
      atlasImage,
      baseline,
      deadlineSeconds: int("migrationDeadlineSeconds", 300, 30, 3600)!,
      lockTimeout,
      revisionsSchema,
      preflight,
      allowDestructive,
      lockWaitTimeout,
      rollback: bool("rollbackWithoutMigrations", false),
      acceptDatabase,
    },
    existingSecret,
    exposure: readExposure(config),
    scaling: readScaling(config, int("replicas", 2, 0, 100)!),
    scheduling: readScheduling(config),
    workload: readWorkload(config),
    networkPolicy: readPolicy(config),
    promoteFrom,
  };
}

/**
 * `migrationSource`: kept as a key so that `image` gets its reason. Only `configmap` (this
 * repository's migrations/ mounted into Atlas's image) exists.
 */
function readMigrationSource(raw: string | undefined): void {
  if (raw === undefined || raw === "configmap") return;
  if (raw === "image") {
    throw new ConfigError(
      "migrationSource",
      "image is not supported: no published developers-italia-api image has a migrate subcommand (upstream registers " +
        "only token; italia/developers-italia-api#312 has not landed), and the plan, the destructive-change guard and " +
        "the baseline check describe this repository's migrations/, not an image's; use configmap, the default: " +
        "pulumi config rm migrationSource",
    );
  }
  throw new ConfigError(
    "migrationSource",
    `expected configmap (the default), got ${JSON.stringify(raw)}; remove it with: pulumi config rm migrationSource`,
  );
}

function readCaBundle(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  try {
    return parseCaBundle(raw);
  } catch (err) {
    if (err instanceof CaBundleError) throw new ConfigError("databaseCaCert", err.message);
    throw err;
  }
}

/**
 * The API container's resources: the one owner of these defaults (Pulumi.yaml declares `{}`).
 * A `resources` value replaces only the fields it sets, so `limits.memory` alone keeps the
 * requests.
 */
export const DEFAULT_RESOURCES = {
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { memory: "256Mi" },
} as const satisfies Resources;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Memory below this cannot start the API (nor, for a limit, most container runtimes). */
const MIN_MEMORY = "4Mi";

function readResources(raw: string | undefined): Resources {
  const given: Record<string, Record<string, string>> = {};
  const shape = "expected an object like {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}";
  let parsed: unknown = {};
  if (raw !== undefined) {
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ConfigError("resources", shape);
    }
  }
  if (!isObject(parsed)) throw new ConfigError("resources", `${shape}, got ${describeJson(parsed)}`);
  for (const [group, values] of Object.entries(parsed)) {
    if (group !== "requests" && group !== "limits") {
      throw new ConfigError("resources", `unknown key ${JSON.stringify(group)}: use requests and limits`);
    }
    if (!isObject(values)) {
      throw new ConfigError(
        "resources",
        `${group}: expected an object such as {cpu: 100m, memory: 128Mi}, got ${describeJson(values)}`,
      );
    }
    given[group] = {};
    for (const [name, value] of Object.entries(values)) {
      if (!["cpu", "memory", "ephemeral-storage"].includes(name) || typeof value !== "string") {
        throw new ConfigError(
          "resources",
          `${group}.${name}: expected a quantity such as 100m or 128Mi, got ${JSON.stringify(value)}`,
        );
      }
      checkQuantity(`${group}.${name}`, name, value);
      given[group][name] = value;
    }
  }
  const requests = { ...DEFAULT_RESOURCES.requests, ...given.requests };
  const limits: Record<string, string> = { ...DEFAULT_RESOURCES.limits, ...given.limits };
  for (const [name, request] of Object.entries(requests)) {
    const limit = limits[name];
    if (limit !== undefined && quantityMilli(request)! > quantityMilli(limit)!) {
      const whose = (group: "requests" | "limits") => (given[group]?.[name] === undefined ? ", the default" : "");
      throw new ConfigError(
        "resources",
        `requests.${name} (${request}${whose("requests")}) is above limits.${name} (${limit}${whose("limits")}), ` +
          `which Kubernetes refuses; raise limits.${name}: pulumi config set --path 'resources.limits.${name}' ${request}`,
      );
    }
  }
  return { requests, limits };
}

const QUANTITY_SCALE: Readonly<Record<string, bigint>> = {
  "": 1000n,
  m: 1n,
  k: 10n ** 3n * 1000n,
  M: 10n ** 6n * 1000n,
  G: 10n ** 9n * 1000n,
  T: 10n ** 12n * 1000n,
  P: 10n ** 15n * 1000n,
  E: 10n ** 18n * 1000n,
  Ki: 2n ** 10n * 1000n,
  Mi: 2n ** 20n * 1000n,
  Gi: 2n ** 30n * 1000n,
  Ti: 2n ** 40n * 1000n,
  Pi: 2n ** 50n * 1000n,
  Ei: 2n ** 60n * 1000n,
};

/**
 * A Kubernetes quantity in thousandths of its unit, exactly ("100m" is 100, "0.5" is 500,
 * "128Mi" is 134217728000); undefined when it is not a plain decimal quantity or is finer
 * than a thousandth (which Kubernetes would round up).
 */
export function quantityMilli(value: string): bigint | undefined {
  const match = /^(\d+)(?:\.(\d+))?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(value);
  if (!match) return undefined;
  const [, whole, fraction = "", suffix = ""] = match;
  const scaled = BigInt(whole + fraction) * QUANTITY_SCALE[suffix];
  const denominator = 10n ** BigInt(fraction.length);
  return scaled % denominator === 0n ? scaled / denominator : undefined;
}

/**
 * CPU in cores or millicores, whole thousandths; memory and ephemeral storage in whole
 * bytes ("1m" is a thousandth of a byte), memory at least MIN_MEMORY.
 */
function checkQuantity(field: string, name: string, value: string): void {
  const fail = (why: string) => new ConfigError("resources", `${field}: ${JSON.stringify(value)} ${why}`);
  const milli = quantityMilli(value);
  if (name === "cpu") {
    if (!/^\d+(\.\d+)?m?$/.test(value)) {
      throw fail("is not a CPU quantity: give cores (0.5, 2) or millicores (100m)");
    }
    if (milli === undefined) throw fail("is finer than Kubernetes counts CPU (1m, a thousandth of a core); e.g. 100m");
    return;
  }
  if (!/^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.test(value)) {
    throw fail("is not a quantity such as 128Mi or 1Gi");
  }
  if (value.endsWith("m")) {
    throw fail('is in thousandths of a byte ("m" is milli); write mebibytes as Mi, e.g. 128Mi');
  }
  if (milli === undefined || milli % 1000n !== 0n) {
    throw fail("is not a whole number of bytes; use a unit, e.g. 1536Ki or 2Mi");
  }
  if (name === "memory" && milli < quantityMilli(MIN_MEMORY)!) {
    throw fail(`is below ${MIN_MEMORY}, too little to start the API; e.g. 128Mi`);
  }
}

/** The full image reference the API runs: digest-pinned when a digest is configured. */
export function imageRef(image: Settings["image"]): string {
  return image.digest ? `${image.repository}@${image.digest}` : `${image.repository}:${image.tag}`;
}

/** What a JSON value is, for messages (never a secret: only non-secret keys are parsed as JSON). */
function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * PASETO_KEY as the API decodes it: Go's base64.StdEncoding (standard alphabet, padding
 * required, CR and LF skipped) must give exactly 32 bytes, else the API panics at startup.
 * Node's decoder would also take URL-safe letters, missing padding and stray characters.
 */
/** A Kubernetes label value that is not empty. */
export function isLabelValue(value: string): boolean {
  return /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(value);
}

/**
 * The app.kubernetes.io/instance label, which the Deployment's selector holds: the stack's
 * config; else what this stack recorded; else, for a stack deployed before the label was
 * recorded, the value it has had (a selector cannot change in place); else the stack's name,
 * so two stacks in one namespace never select each other's pods.
 */
export function instanceLabel(input: {
  readonly configured?: string;
  readonly recorded?: string;
  readonly deployedBefore: boolean;
  readonly stack: string;
}): string {
  const { configured, recorded, deployedBefore, stack } = input;
  const chosen = configured ?? recorded ?? (deployedBefore ? LEGACY_INSTANCE : stack);
  if (!isLabelValue(chosen)) {
    throw new ConfigError(
      "instance",
      `the stack name ${JSON.stringify(stack)} is not a label value; set one: pulumi config set instance <name>`,
    );
  }
  return chosen;
}

/** The instance label of every stack deployed before it was recorded: the component's name. */
export const LEGACY_INSTANCE = "developers-italia-api";

export function isApiPasetoKey(value: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(value.replace(/[\r\n]/g, ""));
}

/** allowDestructiveMigrations as the CLI stores it (lib/migration/guard.ts, parseAcknowledgements). */
export function readAcknowledgements(key: string, raw: string | undefined): Acknowledgement[] {
  try {
    return parseAcknowledgements(raw);
  } catch (err) {
    throw new ConfigError(key, (err as Error).message);
  }
}

/**
 * An image repository as the container runtime splits it (distribution/reference): the
 * first component is a registry host only with a dot, a port or as localhost; every
 * component lower-case. `ARIGAIO/atlas` is not Docker Hub's arigaio/atlas but a registry
 * host "ARIGAIO" no node can reach, so it is refused.
 */
const pathComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const hostLabel = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?";
const registryHost = `(?:${hostLabel}(?:\\.${hostLabel})+(?::\\d+)?|${hostLabel}:\\d+|\\[[0-9a-f:]+\\](?::\\d+)?)`;
const imageNamePattern = new RegExp(`^(?:${registryHost}/)?${pathComponent}(?:/${pathComponent})*$`);
const imageTagPattern = /^[\w][\w.-]{0,127}$/;
/** A release: x.y.z, an optional leading v, an optional suffix (1.2.3-community, v1.4.0-rc.1). */
const versionTagPattern = /^v?\d+\.\d+\.\d+(?:[-._+][0-9A-Za-z][0-9A-Za-z._-]*)?$/;
/** Words that name a moving build wherever they appear in a tag's suffix (1.2.3-latest, 1.2.3-nightly). */
export const MOVING_TAG_WORDS = [
  "latest",
  "main",
  "master",
  "trunk",
  "head",
  "edge",
  "nightly",
  "canary",
  "dev",
  "develop",
  "snapshot",
  "stable",
  "current",
  "next",
  "unstable",
  "rolling",
];

/** Whether a tag names one release: x.y.z, with no suffix word that names a moving build. */
export function isPinnedTag(tag: string): boolean {
  if (!versionTagPattern.test(tag)) return false;
  const suffix = tag.replace(/^v?\d+\.\d+\.\d+/, "");
  return !suffix
    .toLowerCase()
    .split(/[-._+]/)
    .some((word) => MOVING_TAG_WORDS.includes(word));
}

/**
 * An image that always means the same bits: a digest, or a full version tag (x.y.z). A
 * missing tag, `latest` or any other moving tag would keep the Job's content key while the
 * image changes under it.
 */
export function checkPinnedImage(key: string, ref: string): void {
  const at = ref.indexOf("@");
  const named = at < 0 ? ref : ref.slice(0, at);
  const digest = at < 0 ? undefined : ref.slice(at + 1);
  const slash = named.lastIndexOf("/");
  const colon = named.lastIndexOf(":");
  const name = colon > slash ? named.slice(0, colon) : named;
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  const example = `e.g. ${ATLAS_IMAGE} or ${ATLAS_IMAGE.split(":")[0]}@sha256:<64 hex digits>`;
  if (!imageNamePattern.test(name) || (tag !== undefined && !imageTagPattern.test(tag))) {
    throw new ConfigError(key, `${JSON.stringify(ref)} is not an image reference (${example})`);
  }
  if (digest !== undefined) {
    if (!digestPattern.test(digest)) {
      throw new ConfigError(key, `${JSON.stringify(ref)}: the digest must be sha256:<64 hex digits> (${example})`);
    }
    return;
  }
  if (tag === undefined || !isPinnedTag(tag)) {
    throw new ConfigError(
      key,
      `${JSON.stringify(ref)} ${tag === undefined ? "has no tag" : `has the moving tag ${JSON.stringify(tag)}`}: ` +
        "the migration Job is re-run only when its spec changes, so the image must not change under the same name; " +
        "pin a version tag (x.y.z, optionally with a leading v and a suffix such as -community, but no suffix naming " +
        `a moving build: ${MOVING_TAG_WORDS.slice(0, 7).join(", ")}, ...) or a digest (${example})`,
    );
  }
}
