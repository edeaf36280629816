import { DsnError, dsnToUrl, urlParam } from "../database/dsn";
import { CaBundleError, DATABASE_CA_PATH, parseCaBundle } from "../database/tls";
import { EXISTING_SECRET_KEYS, type DatabaseSpec } from "../spec";
import { dnsSubdomain, secretText, text } from "./read";
import { ConfigError, type ConfigSource } from "./source";

/**
 * Where the database URL and PASETO_KEY come from: this stack's secret config
 * (`databaseDsn`, `pasetoKey`), or a Secret managed elsewhere (`useExistingSecret`, the
 * chart's): a Secret that External Secrets, Vault or an operator maintains, which this
 * program never reads. It must hold, under the chart's own key names:
 *   - `databaseDSN`: a postgres:// URL with an explicit sslmode (Atlas's lib/pq and the API's
 *     pgx both accept it; Atlas does not accept the key=value form);
 *   - `pasetoKey` (optional): base64 of 32 bytes; absent or empty makes the API read-only.
 * The API reads both through secretKeyRef; the migration Job reads `databaseDSN` into Atlas's
 * DATABASE_URL the same way, so the value never passes through Pulumi. The preflight cannot
 * read the database then: it plans offline (or off).
 */
export function readDatabase(config: ConfigSource): { database: DatabaseSpec; pasetoKey?: string } {
  const existingSecret = readExistingSecret(config);
  const caCert = readCaBundle(text(config, "databaseCaCert"));
  if (existingSecret !== undefined) return { database: { existingSecret, caCert } };

  const dsn = secretText(config, "databaseDsn", true)!;
  let url: string;
  try {
    url = dsnToUrl(dsn, { sslrootcert: caCert === undefined ? undefined : DATABASE_CA_PATH });
  } catch (err) {
    if (err instanceof DsnError) throw new ConfigError("databaseDsn", err.message);
    throw err;
  }
  if (caCert !== undefined && urlParam(url, "sslmode") === "disable") {
    throw new ConfigError(
      "databaseCaCert",
      "is set but databaseDsn has sslmode=disable, so it would never be used: " +
        "set sslmode=verify-full in databaseDsn (or verify-ca), or remove databaseCaCert",
    );
  }
  const pasetoKey = secretText(config, "pasetoKey", false);
  if (pasetoKey !== undefined && !isApiPasetoKey(pasetoKey)) {
    throw new ConfigError(
      "pasetoKey",
      "must be the standard base64 of exactly 32 bytes (the API panics at startup otherwise); make one with: openssl rand -base64 32",
    );
  }
  return { database: { url, caCert }, pasetoKey };
}

function readExistingSecret(config: ConfigSource): string | undefined {
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
 * PASETO_KEY as the API decodes it: Go's base64.StdEncoding (standard alphabet, padding
 * required, CR and LF skipped) must give exactly 32 bytes, else the API panics at startup.
 * Node's decoder would also take URL-safe letters, missing padding and stray characters.
 */
export function isApiPasetoKey(value: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(value.replace(/[\r\n]/g, ""));
}
