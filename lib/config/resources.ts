import { ConfigError } from "./source";
import type { Resources } from "../spec";

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

export function readResources(raw: string | undefined): Resources {
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

/** What a JSON value is, for messages (never a secret: only non-secret keys are parsed as JSON). */
function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `${typeof value} ${JSON.stringify(value)}`;
}
