import * as net from "net";
import { z } from "zod";
import { ConfigError, type ConfigSource } from "./source";

/** A plain value; unset and empty are the same (Pulumi.yaml declares "" for an unset key). */
export function text(config: ConfigSource, key: string): string | undefined {
  const value = config.get(key);
  return value === undefined || value === "" ? undefined : value;
}

/** A whole number from min to max in decimal digits (Number() would also take "0x10", "1e1", " 5 "). */
export function wholeNumber(config: ConfigSource, key: string, min: number, max: number): number | undefined {
  const raw = text(config, key);
  if (raw === undefined) return undefined;
  const value = /^(0|[1-9]\d*)$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function flag(config: ConfigSource, key: string): boolean | undefined {
  const raw = text(config, key);
  if (raw === undefined) return undefined;
  if (raw !== "true" && raw !== "false")
    throw new ConfigError(key, `expected true or false, got ${JSON.stringify(raw)}`);
  return raw === "true";
}

export function oneOf<T extends string>(config: ConfigSource, key: string, allowed: readonly T[], fallback: T): T {
  const raw = (text(config, key) ?? fallback) as T;
  if (!allowed.includes(raw)) {
    throw new ConfigError(key, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** A value that must be stored encrypted; its text never appears in a message. */
export function secretText(config: ConfigSource, key: string, required: boolean): string | undefined {
  const raw = text(config, key);
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
}

/**
 * Reads one structured config key (an object or list set with `pulumi config set --path`)
 * through a zod schema, and turns zod's issues into our `config <key>: <path>: ...` errors.
 * These keys are never secret, but the message still quotes only the offending field.
 */
export function readKey<S extends z.ZodType>(config: ConfigSource, key: string, schema: S): z.output<S> {
  const raw = config.get(key);
  let value: unknown = undefined;
  if (raw !== undefined && raw !== "") {
    try {
      value = JSON.parse(raw);
    } catch {
      // A plain string (e.g. `pulumi config set priorityClassName high`) is a string value.
      value = raw;
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(key, describeIssue(result.error.issues[0], key));
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue, key: string): string {
  // Pulumi's --path syntax: list indexes in brackets (ingress.hosts[0].host).
  const pulumiPath = issue.path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : `${acc}.${String(p)}`),
    key,
  );
  const where = issue.path.length > 0 ? `${pulumiPath.slice(key.length).replace(/^\./, "")}: ` : "";
  return `${where}${issue.message} (set it with: pulumi config set --path '${pulumiPath}' <value>)`;
}

/** Kubernetes label/annotation keys: an optional DNS prefix and a name of 63 characters. */
const qualifiedName = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
export const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Kubernetes object name (DNS-1123 subdomain): labels joined by single dots, 253 characters in all. */
export const dnsSubdomain = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * A host name as an Ingress rule takes it and DNS resolves it (RFC 1123): lower-case labels
 * of 1 to 63 characters, no leading or trailing "-", joined by single dots, 253 characters in
 * all, optionally after a leading "*." wildcard; not an IP address.
 */
export function isHostName(host: string): boolean {
  const name = host.startsWith("*.") ? host.slice(2) : host;
  return host.length <= 253 && name.split(".").every((l) => dnsLabel.test(l)) && net.isIP(name) === 0;
}

/**
 * A CIDR the API server takes: an IPv4 address (four decimal octets up to 255, no leading
 * zeros) with a prefix of 0-32, or an IPv6 address (no zone) with a prefix of 0-128.
 */
export function isCidr(value: string): boolean {
  const parts = value.split("/");
  if (parts.length !== 2 || !/^(0|[1-9]\d{0,2})$/.test(parts[1])) return false;
  const [address, prefix] = [parts[0], Number(parts[1])];
  if (net.isIPv4(address)) return prefix <= 32;
  return net.isIPv6(address) && !address.includes("%") && prefix <= 128;
}

export const annotations = z
  .record(z.string().regex(qualifiedName, "is not a valid annotation key"), z.string())
  .default({});
export const labels = z
  .record(
    z.string().regex(qualifiedName, "is not a valid label key"),
    z.string().regex(labelValue, "is not a valid label value (63 characters: letters, digits, -, _, .)"),
  )
  .default({});
export const resourceName = z.string().regex(dnsSubdomain, "is not a valid Kubernetes object name");
export const port = z.number().int().min(1).max(65535);
/** A free-form Kubernetes object (affinity, a volume source): checked by the API server's dry run in preview. */
export const kubeObject = z.record(z.string(), z.unknown());

/** The longest Go time.Duration (int64 nanoseconds, about 292 years): longer ones fail to parse. */
export const GO_MAX_DURATION_NS = 2n ** 63n - 1n;
/** PostgreSQL's limit for lock_timeout and statement_timeout (an int of milliseconds). */
export const POSTGRES_MAX_TIMEOUT_MS = 2_147_483_647n;

const GO_UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/**
 * A Go duration ("1m30s", "1.5h") in nanoseconds, exactly (fractions truncated at the
 * nanosecond, as time.ParseDuration does); undefined when it is not one.
 */
export function goDurationNs(text: string): bigint | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0n;
  for (const [, whole, fraction = "", unit] of text.matchAll(/(\d+)(?:\.(\d+))?(ns|us|µs|ms|s|m|h)/g)) {
    const ns = GO_UNIT_NS[unit];
    total += BigInt(whole) * ns + (BigInt(fraction || "0") * ns) / 10n ** BigInt(fraction.length);
  }
  return total;
}

/** A PostgreSQL duration as this program writes them ("0", "500ms", "5s", "1min", "2h") in milliseconds. */
export function postgresDurationMs(text: string): bigint | undefined {
  const match = /^(?:0|([1-9]\d*)(ms|s|min|h))$/.exec(text);
  if (!match) return undefined;
  if (match[1] === undefined) return 0n;
  return BigInt(match[1]) * { ms: 1n, s: 1_000n, min: 60_000n, h: 3_600_000n }[match[2] as "ms" | "s" | "min" | "h"];
}

const PROMETHEUS_UNIT_MS = {
  y: 31_536_000_000n,
  w: 604_800_000n,
  d: 86_400_000n,
  h: 3_600_000n,
  m: 60_000n,
  s: 1_000n,
  ms: 1n,
};

/**
 * A Prometheus duration (model.ParseDuration, the ServiceMonitor CRD's pattern): "0", or
 * units y, w, d, h, m, s, ms each at most once and in that order ("1m30s"), in
 * milliseconds; undefined when it is not one.
 */
export function prometheusDurationMs(text: string): bigint | undefined {
  const match = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(text);
  if (text === "0") return 0n;
  if (!match || text === "") return undefined;
  const units = Object.values(PROMETHEUS_UNIT_MS);
  return match.slice(1).reduce((sum, n, i) => sum + (n === undefined ? 0n : BigInt(n) * units[i]), 0n);
}

/** A Kubernetes label value that is not empty. */
export function isLabelValue(value: string): boolean {
  return /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(value);
}
