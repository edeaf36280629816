import { type ConnectionFields, DsnError, dsnToUrl, formatUrl, isUrlForm, parseDsn, urlParam } from "../database/dsn";
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
 * DATABASE_URL the same way, so the value never passes through Pulumi. The online preflight
 * then reads the database through a URL the deploy's environment gives it
 * (lib/deploy/preflightUrl.ts), checked against `existingSecretDatabase`.
 */
export function readDatabase(config: ConfigSource): { database: DatabaseSpec; pasetoKey?: string } {
  const existingSecret = readExistingSecret(config);
  const caCert = readCaBundle(text(config, "databaseCaCert"));
  if (existingSecret !== undefined) {
    return { database: { existingSecret, address: readExistingSecretDatabase(config, existingSecret), caCert } };
  }
  if (text(config, "existingSecretDatabase") !== undefined) {
    throw new ConfigError(
      "existingSecretDatabase",
      "is set without useExistingSecret: databaseDsn names the database then; remove it with: pulumi config rm existingSecretDatabase",
    );
  }

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
  if (config.get("migrationPreflight") === "online" && text(config, "existingSecretDatabase") === undefined) {
    throw new ConfigError(
      "migrationPreflight",
      `online with useExistingSecret (${name}) needs existingSecretDatabase, the database that Secret's URL ` +
        "names (no credentials), so the preflight can check that the URL it is given reads that database: " +
        "pulumi config set --plaintext existingSecretDatabase postgres://<host>:<port>/<database>; or use offline " +
        "(plan from this stack's last applied version) or off",
    );
  }
  return name;
}

/**
 * existingSecretDatabase: which database the Secret's URL names, as a postgres:// URL without
 * credentials (host, port, database, and search_path when the URL binds one). Kept in the
 * canonical form the identity is computed from.
 */
function readExistingSecretDatabase(config: ConfigSource, secret: string): string | undefined {
  const raw = text(config, "existingSecretDatabase");
  if (raw === undefined) return undefined;
  const refuse = (why: string): never => {
    throw new ConfigError(
      "existingSecretDatabase",
      `${why}; give the database the Secret ${secret} names, without credentials: ` +
        "pulumi config set --plaintext existingSecretDatabase postgres://<host>:<port>/<database>",
    );
  };
  if (!isUrlForm(raw.trim())) refuse("is not a postgres:// URL");
  let fields: ConnectionFields;
  try {
    fields = parseDsn(raw);
  } catch (err) {
    if (err instanceof DsnError) return refuse(err.message);
    throw err;
  }
  if (fields.user !== undefined || fields.password !== undefined)
    refuse("holds a user or a password, which it must not");
  if (!fields.dbname) refuse("names no database");
  const other = fields.params.filter(([k]) => k !== "search_path" && k !== "sslmode");
  if (other.length > 0)
    refuse(`has ${other.map(([k]) => k).join(", ")}: only host, port, database and search_path name it`);
  return formatUrl({ ...fields, params: fields.params.filter(([k]) => k === "search_path") });
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
