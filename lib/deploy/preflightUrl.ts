import { DATABASE_CA_PATH } from "../database/tls";
import { DsnError, dsnToUrl, describeUrl } from "../database/dsn";
import { boundSchema, databaseIdentity } from "../database/state";
import type { ProblemCode } from "../migration/plan";
import { PreflightError, type ReadFrom } from "../migration/preflight";
import type { ApiSpec } from "../spec";

/**
 * With useExistingSecret the database URL lives in a Secret this program never reads, so the
 * online preflight reads the database through a URL the deploy's environment gives it: this
 * variable (a role that may only read is enough). Read by the program and `npm run plan`,
 * used only to read; never in config, state, outputs, the plan or a message.
 */
export const PREFLIGHT_URL_ENV = "MIGRATION_PREFLIGHT_DATABASE_URL";

/**
 * The URL the online preflight reads, when it is not the stack's own (databaseDsn): the
 * environment's, on the useExistingSecret path, once it is shown to name the database the
 * Job migrates (existingSecretDatabase, which readSpec requires for online there). Undefined
 * when the preflight reads nothing or reads databaseDsn's URL; the variable is ignored then.
 * The Job's key never depends on it: its identity is existingSecretDatabase's.
 */
export function preflightReadUrl(spec: ApiSpec, given: string | undefined): ReadFrom | undefined {
  const { database } = spec;
  if (database.existingSecret === undefined || spec.migration.preflight !== "online") return undefined;
  const refuse = (code: ProblemCode, message: string): never => {
    throw new PreflightError([{ code, message }]);
  };
  const address = database.address;
  // readSpec refuses online on this path without it; a hand-built spec is refused the same.
  if (address === undefined) return refuse("preflight-url-unchecked", "existingSecretDatabase is not set");
  if (given === undefined || given.trim() === "") {
    return refuse(
      "preflight-url-missing",
      `migrationPreflight online with useExistingSecret (${database.existingSecret}) reads the database through ` +
        `${PREFLIGHT_URL_ENV}, which is not set: give it a URL of ${where(address)} in the deploy's ` +
        "environment (a role that may only read is enough), e.g. " +
        `export ${PREFLIGHT_URL_ENV}="$(kubectl get secret ${database.existingSecret} -n ${spec.namespace} ` +
        `-o jsonpath='{.data.databaseDSN}' | base64 -d)"; or set migrationPreflight to offline`,
    );
  }
  let url: string;
  try {
    url = dsnToUrl(given, { sslrootcert: database.caCert === undefined ? undefined : DATABASE_CA_PATH });
  } catch (err) {
    if (!(err instanceof DsnError)) throw err;
    return refuse("preflight-url-invalid", `${PREFLIGHT_URL_ENV}: ${err.message}`);
  }
  if (databaseIdentity(url) !== databaseIdentity(address)) {
    return refuse(
      "preflight-url-other-database",
      `${PREFLIGHT_URL_ENV} names ${where(url)}, but the migration Job migrates ${where(address)} ` +
        `(existingSecretDatabase, the database the Secret ${database.existingSecret} names): give the URL of ` +
        "that database, or correct existingSecretDatabase if the Secret names another",
    );
  }
  return { url, name: PREFLIGHT_URL_ENV };
}

/**
 * The database part of the preflight's input: the Job's database (databaseDsn's URL, or
 * existingSecretDatabase's with useExistingSecret, or none), the key that names it, and what
 * the online preflight reads when that is not the Job's URL.
 */
export function preflightDatabase(spec: ApiSpec, given: string | undefined) {
  const { database } = spec;
  return {
    databaseUrl: database.url ?? database.address ?? "",
    databaseKey: database.url === undefined ? "existingSecretDatabase" : "databaseDsn",
    readFrom: preflightReadUrl(spec, given),
  };
}

/** host:port/name, with the schema when the URL binds one: what tells two databases apart. */
function where(url: string): string {
  const schema = boundSchema(url);
  return schema === undefined ? describeUrl(url) : `${describeUrl(url)} (search_path ${schema})`;
}
