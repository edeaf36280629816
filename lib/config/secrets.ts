import { ConfigError, type ConfigSource } from "./source";
import { dnsSubdomain } from "./read";

/**
 * Secrets managed elsewhere (the chart's `useExistingSecret`): a Secret that External
 * Secrets, Vault or an operator maintains, which this program never reads.
 *
 * It must hold, under the chart's own key names:
 *   - `databaseDSN`: a postgres:// URL with an explicit sslmode (Atlas's lib/pq and the API's
 *     pgx both accept it; Atlas does not accept the key=value form);
 *   - `pasetoKey` (optional): base64 of 32 bytes; absent or empty makes the API read-only.
 * The API reads both through secretKeyRef; the migration Job reads `databaseDSN` into Atlas's
 * DATABASE_URL the same way, so the value never passes through
 * Pulumi. The preflight cannot read the database then: it plans offline (or off).
 */
export const EXISTING_SECRET_KEYS = { databaseUrl: "databaseDSN", pasetoKey: "pasetoKey" } as const;

export function readExistingSecret(config: ConfigSource): string | undefined {
  const name = config.get("useExistingSecret");
  if (name === undefined || name === "") return undefined;
  if (!dnsSubdomain.test(name)) {
    throw new ConfigError("useExistingSecret", `${JSON.stringify(name)} is not a valid Secret name`);
  }
  for (const key of ["databaseDsn", "pasetoKey"]) {
    const value = config.get(key);
    if (value !== undefined && value !== "") {
      throw new ConfigError(
        key,
        `is set while useExistingSecret names the Secret ${name}, which must hold it (key ` +
          `${key === "databaseDsn" ? EXISTING_SECRET_KEYS.databaseUrl : EXISTING_SECRET_KEYS.pasetoKey}); ` +
          `remove it with: pulumi config rm ${key}`,
      );
    }
  }
  if (config.get("migrationPreflight") === "online") {
    throw new ConfigError(
      "migrationPreflight",
      `online needs the database URL, which this program never sees with useExistingSecret (${name}); ` +
        "use offline (plan from this stack's last applied version) or off",
    );
  }
  return name;
}
