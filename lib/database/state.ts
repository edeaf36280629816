import { createHash } from "crypto";
import type { Client, ClientConfig } from "pg";
import { DEFAULT_PORT, describeUrl, parseOwnUrl, SslMode, urlParam } from "./dsn";
import { pgTlsOptions } from "./tls";
import { DatabaseState, Revision } from "../migration/plan";
import type { SchemaNames } from "../migration/schema";

/** Atlas's revisions table name, and its schema when the URL is not bound to one schema. */
export const REVISIONS_TABLE = "atlas_schema_revisions";
export const DEFAULT_REVISIONS_SCHEMA = "atlas_schema_revisions";

export interface ReadOptions {
  /** `--revisions-schema`, when the deploy sets one. */
  readonly revisionsSchema?: string;
  /** Give up connecting after this long. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** The CA bundle (PEM) the pods get as sslrootcert (databaseCaCert). @default none */
  readonly ca?: string;
  /** Where the URL came from, for the message when it cannot connect. @default "databaseDsn" */
  readonly urlName?: string;
}

export class DatabaseUnreachableError extends Error {}

/** The schema a URL binds Atlas to (`search_path`), or undefined for the whole database. */
export function boundSchema(url: string): string | undefined {
  try {
    return parseOwnUrl(url).params.find(([k]) => k === "search_path")?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Which database a URL is about, without its credentials: a digest of host, port, database
 * name and search_path (the schema Atlas is bound to). A password rotation keeps it; a
 * restored backup on another host, another database or another schema changes it. Without
 * a database name the server uses the user's name, so the user stands in for it then.
 */
export function databaseIdentity(url: string): string {
  // useExistingSecret: the URL is in a Secret this program never reads, so no identity.
  if (url === "") return "";
  // Our own parser, not Node's URL: its TypeError would carry the whole URL, password included.
  const fields = parseOwnUrl(url);
  const param = (key: string) => fields.params.find(([k]) => k === key)?.[1];
  const host = hostForIdentity(fields.host ?? "localhost");
  const port = fields.port ?? DEFAULT_PORT;
  const dbname = fields.dbname || fields.user || "";
  const schema = param("search_path") ?? "";
  const h = createHash("sha256");
  for (const part of ["database-identity-v1", host, port, dbname, schema]) h.update(part).update("\0");
  return h.digest("hex").slice(0, 16);
}

/** The host as the identity has always spelled it: lower case, an IPv6 address in brackets. */
function hostForIdentity(host: string): string {
  return (host.includes(":") && !host.startsWith("/") ? `[${host}]` : host).toLowerCase();
}

/**
 * A digest of the whole URL (credentials included) that tells a credential or option change
 * from no change. It is only ever stored as a Pulumi secret.
 */
export function databaseUrlDigest(url: string): string {
  if (url === "") return "";
  return createHash("sha256").update("database-url-v1\0").update(url).digest("hex");
}

/**
 * Reads what Atlas would read before `migrate apply`: the revisions and whether the
 * database is clean. Read-only: one read-only transaction with a short statement timeout,
 * so it can never write a revision (unlike `atlas migrate apply --dry-run`).
 */
export async function readDatabaseState(url: string, options: ReadOptions = {}): Promise<DatabaseState> {
  const schema = boundSchema(url);
  const revisionsSchema = options.revisionsSchema ?? schema ?? DEFAULT_REVISIONS_SCHEMA;
  // Imported here: only the online preflight and migrations:status talk to a database.
  const pg = await import("pg");
  const client = new pg.Client(pgConnectionConfig(url, options));
  try {
    await client.connect();
  } catch (err) {
    const tls = `sslmode=${urlParam(url, "sslmode")}${options.ca ? ", CA bundle from databaseCaCert" : ""}`;
    throw new DatabaseUnreachableError(
      `cannot connect to the database at ${describeUrl(url)} (${tls}): ${reason(err)}; ` +
        `check ${options.urlName ?? "databaseDsn"}, or set migrationPreflight to offline when the database is only ` +
        "reachable from the cluster",
    );
  }
  try {
    await client.query("BEGIN TRANSACTION READ ONLY");
    await client.query("SET LOCAL statement_timeout = '10s'");
    const revisions = await readRevisions(client, revisionsSchema);
    const notCleanReason = await notCleanReasonOf(client, schema, revisionsSchema);
    const names = await schemaNamesOf(client, schema ?? "public", revisionsSchema);
    const invalid = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT x.indisvalid ORDER BY 1, 2`,
    );
    await client.query("ROLLBACK");
    return { revisions, notCleanReason, schema: names, invalidIndexes: invalid.rows };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * node-postgres's settings for the URL Atlas and the API get, field by field: never its
 * connectionString, whose sslmode aliases differ from lib/pq's and which reads sslrootcert
 * as a path on this machine (the pods' mount path). TLS follows lib/pq (see databaseTls.ts).
 */
export function pgConnectionConfig(url: string, options: ReadOptions = {}): ClientConfig {
  const fields = parseOwnUrl(url);
  const param = (key: string) => fields.params.find(([k]) => k === key)?.[1];
  if (param("sslrootcert") !== undefined && options.ca === undefined) {
    throw new Error("the database URL names a CA bundle (sslrootcert) but the preflight was not given it");
  }
  const sslmode = param("sslmode") as SslMode;
  return {
    host: fields.host,
    port: fields.port === undefined ? undefined : Number(fields.port),
    database: fields.dbname,
    user: fields.user,
    password: fields.password,
    ssl: pgTlsOptions({ sslmode, host: fields.host, ca: options.ca }),
    options: param("options"),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    application_name: "developers-italia-deploy-preflight",
  };
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.message || e.code || String(err);
}

async function readRevisions(client: Client, schema: string): Promise<Revision[]> {
  const table = `${quoteIdent(schema)}.${quoteIdent(REVISIONS_TABLE)}`;
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass($1) AS t", [table]);
  if (!exists.rows[0].t) return [];
  const rows = await client.query<{
    version: string;
    description: string;
    type: number;
    applied: number;
    total: number;
    error: string | null;
    error_stmt: string | null;
    partial_hashes: string[] | null;
  }>(
    `SELECT version, description, type, applied, total, error, error_stmt, partial_hashes FROM ${table} ORDER BY version`,
  );
  return rows.rows.map((r) => ({
    version: r.version,
    description: r.description,
    type: Number(r.type),
    applied: Number(r.applied),
    total: Number(r.total),
    error: r.error,
    errorStmt: r.error_stmt,
    partialHashes: r.partial_hashes,
  }));
}

/**
 * The tables (with their columns) and the indexes that back no constraint of `schema`, but
 * Atlas's own revisions table: what a baseline is checked against (lib/migration/schema.ts).
 */
async function schemaNamesOf(client: Client, schema: string, revisionsSchema: string): Promise<SchemaNames> {
  const columns = await client.query<{ table: string; column: string }>(
    `SELECT c.relname AS table, a.attname AS column
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT (n.nspname = $2 AND c.relname = $3)
      ORDER BY 1, 2`,
    [schema, revisionsSchema, REVISIONS_TABLE],
  );
  const indexes = await client.query<{ name: string }>(
    `SELECT i.relname AS name
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND NOT (n.nspname = $2 AND t.relname = $3)
        AND NOT EXISTS (
          SELECT 1 FROM pg_constraint k
           WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x'))
      ORDER BY 1`,
    [schema, revisionsSchema, REVISIONS_TABLE],
  );
  const tables: Record<string, string[]> = {};
  for (const { table, column } of columns.rows) (tables[table] ??= []).push(column);
  return { tables, indexes: indexes.rows.map((r) => r.name) };
}

/** Atlas 0.13's postgres Driver.CheckClean, as SQL. */
async function notCleanReasonOf(
  client: Client,
  schema: string | undefined,
  revisionsSchema: string,
): Promise<string | undefined> {
  const tables = await client.query<{ schema: string; tables: string[] }>(
    `SELECT n.nspname AS schema,
            coalesce(array_agg(c.relname::text ORDER BY c.relname) FILTER (WHERE c.oid IS NOT NULL), '{}'::text[]) AS tables
       FROM pg_namespace n
       LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      WHERE n.nspname NOT IN ('information_schema', 'pg_catalog', 'pg_toast')
        AND n.nspname NOT LIKE 'pg\\_%temp\\_%'
        AND ($1::text IS NULL OR n.nspname = $1)
      GROUP BY n.nspname ORDER BY n.nspname`,
    [schema ?? null],
  );
  for (const { schema: name, tables: list } of tables.rows) {
    if (schema !== undefined) {
      const own = list.filter((t) => !(name === revisionsSchema && t === REVISIONS_TABLE));
      if (own.length > 0) return `found table "${own[0]}" in schema "${name}"`;
      continue;
    }
    if (list.length === 0 && name === "public") continue;
    if (list.length === 0 || name !== revisionsSchema) return `found schema "${name}"`;
    if (list.length > 1) return `found ${list.length} tables in schema "${name}"`;
    if (list[0] !== REVISIONS_TABLE) return `found table "${list[0]}" in schema "${name}"`;
  }
  return undefined;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
