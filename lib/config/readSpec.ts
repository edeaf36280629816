import type { ApiSpec } from "../spec";
import { readDatabase } from "./database";
import { readExposure } from "./exposure";
import { readImage } from "./image";
import { readMigration } from "./migration";
import { readPolicy } from "./policy";
import { dnsLabel, flag, isLabelValue, oneOf, text, wholeNumber } from "./read";
import { readResources } from "./resources";
import { readScaling } from "./scaling";
import { readScheduling } from "./scheduling";
import { ConfigError, type ConfigSource } from "./source";
import { readWorkload } from "./workload";

/**
 * A stack's configuration, read and checked in one place into the spec the program deploys.
 * Every default lives here or in the reader it calls (Pulumi.yaml repeats them for
 * `pulumi config`, and a unit test keeps the two equal). Every error names the config key and
 * says what to do; secret values are never echoed.
 */
export function readSpec(config: ConfigSource): ApiSpec {
  const namespace = text(config, "namespace") ?? "developers-italia";
  if (!dnsLabel.test(namespace)) {
    throw new ConfigError("namespace", `${JSON.stringify(namespace)} is not a valid namespace name (a DNS label)`);
  }
  const instance = text(config, "instance");
  if (instance !== undefined && !isLabelValue(instance)) {
    throw new ConfigError(
      "instance",
      `${JSON.stringify(instance)} is not a label value (1-63 letters, digits, "-", "_" or ".", starting and ending ` +
        "with a letter or digit)",
    );
  }
  const image = readImage(config);
  const { database, pasetoKey } = readDatabase(config);
  const env = readEnv(config);
  const migration = readMigration(config);
  const promoteFrom = text(config, "promoteFrom");
  if (promoteFrom !== undefined && !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/.test(promoteFrom)) {
    throw new ConfigError(
      "promoteFrom",
      `expected a stack name such as staging (or <organization>/<project>/<stack>), got ${JSON.stringify(promoteFrom)}`,
    );
  }
  return {
    namespace,
    instance,
    createNamespace: flag(config, "createNamespace") ?? true,
    image,
    resources: readResources(text(config, "resources")),
    env,
    database,
    pasetoKey,
    migration,
    exposure: readExposure(config),
    scaling: readScaling(config, wholeNumber(config, "replicas", 0, 100) ?? 2),
    // Kubernetes' own default for progressDeadlineSeconds, and the provider's 10 min await.
    rollout: { timeoutSeconds: wholeNumber(config, "rolloutTimeoutSeconds", 5, 21_600) ?? 600 },
    scheduling: readScheduling(config),
    workload: readWorkload(config),
    networkPolicy: readPolicy(config),
    promoteFrom,
  };
}

/**
 * The API's plain environment, every variable written: the API's own defaults
 * (internal/common/env.go at v1.4.0), so the Deployment shows what runs.
 */
function readEnv(config: ConfigSource): Record<string, string> {
  const env: Record<string, string> = {
    ENVIRONMENT: oneOf(config, "environment", ["production", "development", "test"], "production"),
  };
  const numbers: Array<[string, string, number, number]> = [
    ["maxRequests", "MAX_REQUESTS", 1_000_000, 0],
    ["webhookDebounceMs", "WEBHOOK_DEBOUNCE_MS", 3_600_000, 1000],
    ["webhookDebounceMaxMs", "WEBHOOK_DEBOUNCE_MAX_MS", 86_400_000, 10_000],
  ];
  for (const [key, name, max, fallback] of numbers) env[name] = String(wholeNumber(config, key, 0, max) ?? fallback);
  return env;
}
