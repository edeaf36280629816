import { DsnError, dsnToUrl } from "./dsn";

/**
 * Stack configuration, read and validated in one place. Every error names the config key
 * and says what to do; secret values are never echoed.
 */

export type MigrationSource = "configmap" | "image";
export type MigrationPreflight = "online" | "offline" | "off";

export interface Resources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

export interface Settings {
  readonly namespace: string;
  readonly createNamespace: boolean;
  readonly image: { readonly repository: string; readonly tag: string; readonly digest?: string };
  readonly replicas: number;
  readonly resources: Resources;
  /** Plain, non-secret environment of the API (ENVIRONMENT, MAX_REQUESTS, WEBHOOK_*). */
  readonly env: Readonly<Record<string, string>>;
  /** Secret: the database URL both Atlas and the API use (sslmode always explicit). */
  readonly databaseUrl: string;
  /** Secret: PASETO_KEY, when writes are enabled. */
  readonly pasetoKey?: string;
  readonly migration: {
    readonly source: MigrationSource;
    readonly atlasImage: string;
    readonly baseline?: string;
    readonly deadlineSeconds: number;
    readonly lockTimeout: string;
    readonly revisionsSchema?: string;
    readonly preflight: MigrationPreflight;
    readonly allowDestructive: readonly string[];
    /** PostgreSQL lock_timeout of the migration session ("0": no limit). */
    readonly lockWaitTimeout: string;
    /** Roll the API back without running migrations: the Job is kept as it is. */
    readonly rollback: boolean;
    /** The identity of a new database whose full run the offline plan accepts. */
    readonly acceptDatabase?: string;
  };
}

/** The Atlas release the test bed builds; the Job's image must run the same one. */
export const ATLAS_IMAGE = "arigaio/atlas:0.13.1";
export const DEFAULT_IMAGE = "ghcr.io/italia/developers-italia-api";
export const DEFAULT_TAG = "v1.4.0";

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config ${key}: ${message}`);
  }
}

/** What the reader needs from Pulumi config: plain text per key and whether it is secret. */
export interface ConfigSource {
  get(key: string): string | undefined;
  isSecret(key: string): boolean;
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const digestPattern = /^sha256:[a-f0-9]{64}$/;
const versionPattern = /^\d{14}$/;
const durationPattern = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const quantityPattern = /^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$/;

export function readSettings(config: ConfigSource): Settings {
  const text = (key: string, fallback?: string) => {
    const value = config.get(key);
    return value === undefined || value === "" ? fallback : value;
  };
  const int = (key: string, fallback: number | undefined, min: number, max: number) => {
    const raw = text(key);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
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

  const digest = text("imageDigest");
  if (digest !== undefined && !digestPattern.test(digest)) {
    throw new ConfigError("imageDigest", `expected sha256:<64 hex digits>, got ${JSON.stringify(digest)}`);
  }
  const image = { repository: text("image", DEFAULT_IMAGE)!, tag: text("imageTag", DEFAULT_TAG)!, digest };
  if (/[@:]/.test(image.repository.split("/").pop() ?? "")) {
    throw new ConfigError("image", "give the repository only; put the tag in imageTag and the digest in imageDigest");
  }

  const dsn = secret("databaseDsn", true)!;
  let databaseUrl: string;
  try {
    databaseUrl = dsnToUrl(dsn);
  } catch (err) {
    if (err instanceof DsnError) throw new ConfigError("databaseDsn", err.message);
    throw err;
  }

  const pasetoKey = secret("pasetoKey", false);
  if (pasetoKey !== undefined && Buffer.from(pasetoKey, "base64").length !== 32) {
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

  const source = oneOf<MigrationSource>("migrationSource", ["configmap", "image"], "configmap");
  if (source === "image" && digest === undefined) {
    throw new ConfigError(
      "imageDigest",
      "is required when migrationSource is image: the Job re-runs only when its spec changes, so a mutable tag " +
        `(${image.tag}) would silently skip the migrations of a new image; set imageDigest to the image's sha256 digest`,
    );
  }
  const baseline = text("migrationBaseline");
  if (baseline !== undefined && !versionPattern.test(baseline)) {
    throw new ConfigError(
      "migrationBaseline",
      `expected a 14-digit migration version (see migrations/README.md), got ${JSON.stringify(baseline)}`,
    );
  }
  const lockTimeout = text("migrationLockTimeout", "10s")!;
  if (!durationPattern.test(lockTimeout)) {
    throw new ConfigError(
      "migrationLockTimeout",
      `expected a Go duration such as 10s or 1m30s, got ${JSON.stringify(lockTimeout)}`,
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
  let allowDestructive: string[] = [];
  const rawAllow = text("allowDestructiveMigrations");
  if (rawAllow !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawAllow);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === "string" && versionPattern.test(v))) {
      throw new ConfigError(
        "allowDestructiveMigrations",
        'expected a list of 14-digit versions, e.g. ["20260101000000"]',
      );
    }
    allowDestructive = parsed as string[];
  }

  const lockWaitTimeout = text("migrationLockWaitTimeout", "5s")!;
  if (!/^(0|[1-9]\d*(ms|s|min|h))$/.test(lockWaitTimeout)) {
    throw new ConfigError(
      "migrationLockWaitTimeout",
      `expected a PostgreSQL duration such as 5s, 500ms or 1min, or 0 for no limit, got ${JSON.stringify(lockWaitTimeout)}`,
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
    createNamespace: bool("createNamespace", true),
    image,
    replicas: int("replicas", 2, 1, 100)!,
    resources: readResources(text("resources")),
    env,
    databaseUrl,
    pasetoKey,
    migration: {
      source,
      atlasImage: text("atlasImage", ATLAS_IMAGE)!,
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
  };
}

const DEFAULT_RESOURCES: Resources = { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } };

function readResources(raw: string | undefined): Resources {
  if (raw === undefined) return DEFAULT_RESOURCES;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(
      "resources",
      "expected an object like {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}",
    );
  }
  const out: Record<string, Record<string, string>> = {};
  for (const [group, values] of Object.entries(parsed as Record<string, unknown>)) {
    if (group !== "requests" && group !== "limits") {
      throw new ConfigError("resources", `unknown key ${JSON.stringify(group)}: use requests and limits`);
    }
    out[group] = {};
    for (const [name, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
      if (
        !["cpu", "memory", "ephemeral-storage"].includes(name) ||
        typeof value !== "string" ||
        !quantityPattern.test(value)
      ) {
        throw new ConfigError(
          "resources",
          `${group}.${name}: expected a quantity such as 100m or 128Mi, got ${JSON.stringify(value)}`,
        );
      }
      out[group][name] = value;
    }
  }
  return out;
}

/** The full image reference the API runs: digest-pinned when a digest is configured. */
export function imageRef(image: Settings["image"]): string {
  return image.digest ? `${image.repository}@${image.digest}` : `${image.repository}:${image.tag}`;
}
