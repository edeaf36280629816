/**
 * PostgreSQL connection strings: the libpq keyword=value form (what DATABASE_DSN usually
 * holds) turned into the URL form Atlas needs, losing nothing. Unlike the upstream
 * DSNToURL, every keyword survives as a query parameter, quoted values with escapes parse,
 * unix-socket and IPv6 hosts work, and the result always states sslmode so the migration
 * Job (Atlas, lib/pq) and the API (pgx) connect the same way. Errors never echo a value.
 */

export class DsnError extends Error {}

/** sslmode values that both lib/pq (inside Atlas) and pgx (inside the API) understand. */
export const SUPPORTED_SSLMODES = ["disable", "require", "verify-ca", "verify-full"] as const;
/** lib/pq's own default, and the one that never sends a password in clear text. */
export const DEFAULT_SSLMODE = "require";

const keywordPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses libpq's keyword=value grammar (libpq fe-connect.c conninfo_parse). */
export function parseKeywordValue(dsn: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);
  while (i < dsn.length) {
    while (isSpace(dsn[i])) i++;
    if (i >= dsn.length) break;
    const keyStart = i;
    while (i < dsn.length && dsn[i] !== "=" && !isSpace(dsn[i])) i++;
    const key = dsn.slice(keyStart, i);
    while (isSpace(dsn[i])) i++;
    if (dsn[i] !== "=") {
      throw new DsnError(`missing "=" after ${JSON.stringify(key)} (keyword=value pairs are separated by spaces)`);
    }
    if (!keywordPattern.test(key)) {
      throw new DsnError(`${JSON.stringify(key)} is not a connection keyword`);
    }
    i++;
    while (isSpace(dsn[i])) i++;
    let value = "";
    if (dsn[i] === "'") {
      i++;
      for (;;) {
        if (i >= dsn.length) {
          throw new DsnError(`unterminated quoted value for ${JSON.stringify(key)}: close it with '`);
        }
        const c = dsn[i++];
        if (c === "\\" && i < dsn.length) value += dsn[i++];
        else if (c === "'") break;
        else value += c;
      }
    } else {
      while (i < dsn.length && !isSpace(dsn[i])) {
        const c = dsn[i++];
        if (c === "\\" && i < dsn.length) value += dsn[i++];
        else value += c;
      }
    }
    pairs.push([key, value]);
  }
  return pairs;
}

export function isUrlForm(dsn: string): boolean {
  return /^postgres(ql)?:\/\//i.test(dsn.trim());
}

function sslmodeChecked(mode: string | null | undefined): string {
  if (mode === null || mode === undefined || mode === "") return DEFAULT_SSLMODE;
  if (!(SUPPORTED_SSLMODES as readonly string[]).includes(mode)) {
    throw new DsnError(
      `sslmode=${mode} is not supported by Atlas's PostgreSQL driver (lib/pq); ` +
        `use one of ${SUPPORTED_SSLMODES.join(", ")}`,
    );
  }
  return mode;
}

const enc = encodeURIComponent;

function hostPart(host: string, port: string | undefined): string {
  const h = host.includes(":") ? `[${host}]` : enc(host);
  return port ? `${h}:${port}` : h;
}

/**
 * A `postgres://` URL equivalent to the DSN. URLs pass through unchanged except that a
 * missing sslmode is made explicit.
 */
export function dsnToUrl(dsn: string): string {
  const trimmed = dsn.trim();
  if (trimmed === "") throw new DsnError("the connection string is empty");
  if (isUrlForm(trimmed)) return urlWithSslmode(trimmed);

  const params = new Map<string, string>();
  for (const [key, value] of parseKeywordValue(trimmed)) params.set(key, value);
  const take = (key: string) => {
    const value = params.get(key);
    params.delete(key);
    return value;
  };
  const user = take("user");
  const password = take("password");
  const dbname = take("dbname");
  const hosts = (take("host") ?? "").split(",").filter((h) => h !== "");
  const ports = (take("port") ?? "").split(",").filter((p) => p !== "");
  for (const p of ports) {
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) throw new DsnError(`port ${JSON.stringify(p)} is not a TCP port`);
  }
  if (ports.length > 1 && ports.length !== hosts.length) {
    throw new DsnError(`${hosts.length} hosts but ${ports.length} ports: give one port, or one per host`);
  }
  const query: Array<[string, string]> = [];
  let authority = "";
  // Unix sockets are directories: they go in the query, as libpq's URL form expects.
  if (hosts.some((h) => h.startsWith("/") || h.startsWith("@"))) {
    query.push(["host", hosts.join(",")]);
    if (ports.length > 0) query.push(["port", ports.join(",")]);
  } else {
    authority = hosts.map((h, i) => hostPart(h, ports.length > 1 ? ports[i] : ports[0])).join(",");
    if (hosts.length === 0 && ports.length > 0) query.push(["port", ports[0]]);
  }
  const userinfo = user !== undefined ? `${enc(user)}${password !== undefined ? `:${enc(password)}` : ""}@` : "";
  if (user === undefined && password !== undefined) query.push(["password", password]);
  params.set("sslmode", sslmodeChecked(params.get("sslmode")));
  for (const entry of params) query.push(entry);
  const path = dbname !== undefined ? `/${enc(dbname)}` : "/";
  const search = query.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
  return `postgres://${userinfo}${authority}${path}?${search}`;
}

function urlWithSslmode(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DsnError("the postgres:// URL does not parse (check the percent-encoding of the password)");
  }
  const mode = parsed.searchParams.get("sslmode");
  sslmodeChecked(mode);
  if (mode) return url;
  return `${url}${parsed.search ? "&" : url.includes("?") ? "" : "?"}sslmode=${DEFAULT_SSLMODE}`;
}

/** Host, port and database of a URL, for messages: never the user or the password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname || parsed.searchParams.get("host") || "localhost";
    const port = parsed.port || parsed.searchParams.get("port") || "5432";
    const db = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default database)";
    return `${host}:${port}/${db}`;
  } catch {
    return "(unparseable URL)";
  }
}
