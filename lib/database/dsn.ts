/**
 * PostgreSQL connection strings. Both forms users write (libpq `keyword=value` and
 * `postgres://` URLs) are split into fields, checked, and re-encoded into one URL that both
 * drivers read the same way: Atlas's lib/pq and the API's pgx (both parse it with Go's
 * net/url). The result always states sslmode. Errors never quote any part of a value: they
 * name the keyword or the URL part, or the position of a pair.
 */

import { isIP } from "net";

export class DsnError extends Error {}

/** sslmode values that both lib/pq (inside Atlas) and pgx (inside the API) understand. */
export const SUPPORTED_SSLMODES = ["disable", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SUPPORTED_SSLMODES)[number];
/** PostgreSQL's port, which every driver assumes when none is given. */
export const DEFAULT_PORT = "5432";
/** lib/pq's own default, and the one that never sends a password in clear text. */
export const DEFAULT_SSLMODE = "require";

/** The fields of a connection string, decoded. Only `params` may hold other keywords. */
export interface ConnectionFields {
  /** One host: a name, an IP address, or a unix-socket directory (starts with "/"). */
  readonly host?: string;
  readonly port?: string;
  readonly dbname?: string;
  readonly user?: string;
  readonly password?: string;
  /** sslmode and every other keyword, in the order given. */
  readonly params: ReadonlyArray<readonly [string, string]>;
}

/** Keywords both drivers read as connection parameters, with the same meaning. */
const CONNECTION_KEYWORDS = new Set([
  "host",
  "port",
  "dbname",
  "user",
  "password",
  "sslmode",
  "sslrootcert",
  "connect_timeout",
  "application_name",
  "options",
]);

/**
 * Server settings both drivers pass to PostgreSQL at connect time (they send every keyword
 * they do not know as a startup parameter). Anything else belongs in `options='-c name=value'`,
 * which the server checks itself: a keyword outside these lists is far more often a typo
 * that would only fail inside the Job.
 */
export const PASSED_SERVER_SETTINGS = [
  "search_path",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "idle_session_timeout",
  "client_connection_check_interval",
  "timezone",
  "datestyle",
  "intervalstyle",
  "default_transaction_isolation",
  "default_transaction_read_only",
  "default_transaction_deferrable",
  "work_mem",
  "maintenance_work_mem",
  "temp_buffers",
  "client_min_messages",
  "jit",
  "plan_cache_mode",
] as const;
const SERVER_SETTINGS: ReadonlySet<string> = new Set(PASSED_SERVER_SETTINGS);

const SSLROOTCERT_HINT =
  "names a file on the deploy machine that no pod has: remove it and put the CA certificate (PEM text) " +
  "in the config key databaseCaCert, which is mounted into the migration Job and the API";
const CLIENT_CERT_HINT =
  "names a client-certificate file that no pod has; client certificates are not supported: use password authentication";
const ONE_HOST_HINT =
  "only matters with several hosts, which Atlas's driver (lib/pq) cannot use: it would send it to the server as a " +
  "setting and the migration Job would fail; give one host (the primary)";
/** libpq keywords that lib/pq and pgx do not read alike (one sends it to the server, or ignores it). */
const REFUSED_KEYWORDS: Readonly<Record<string, string>> = {
  sslrootcert: SSLROOTCERT_HINT,
  sslcert: CLIENT_CERT_HINT,
  sslkey: CLIENT_CERT_HINT,
  sslpassword: CLIENT_CERT_HINT,
  sslinline: CLIENT_CERT_HINT,
  target_session_attrs: ONE_HOST_HINT,
  load_balance_hosts: ONE_HOST_HINT,
  hostaddr: "is not understood by Atlas's driver (lib/pq); put the address in host",
  client_encoding: "must stay UTF8 (lib/pq refuses any other); remove it",
};
const DIFFERENT_IN_DRIVERS =
  "is a libpq keyword that Atlas's driver (lib/pq) and the API's (pgx) do not read alike " +
  "(one of them sends it to the server as a setting, and the connection fails); remove it";
const LIBPQ_KEYWORDS = new Set([
  "passfile",
  "service",
  "servicefile",
  "gssencmode",
  "gsslib",
  "gssdelegation",
  "channel_binding",
  "require_auth",
  "krbsrvname",
  "krbspn",
  "keepalives",
  "keepalives_idle",
  "keepalives_interval",
  "keepalives_count",
  "tcp_user_timeout",
  "sslcrl",
  "sslcrldir",
  "sslcompression",
  "sslsni",
  "sslnegotiation",
  "sslcertmode",
  "requirepeer",
  "ssl_min_protocol_version",
  "ssl_max_protocol_version",
  "min_protocol_version",
  "max_protocol_version",
  "replication",
  "fallback_application_name",
  "disable_prepared_binary_result",
  "binary_parameters",
]);

const MULTI_HOST =
  "host lists several hosts, which Atlas's driver (lib/pq) cannot use (it takes the whole list as one name); " +
  "give one host (the primary)";

const keywordPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ordinal = (n: number) =>
  `${n}${n % 10 === 1 && n !== 11 ? "st" : n % 10 === 2 && n !== 12 ? "nd" : n % 10 === 3 && n !== 13 ? "rd" : "th"}`;

/** Where a pair sits, for messages that must not quote it. */
interface Located {
  readonly key: string;
  readonly value: string;
  /** e.g. "the 3rd keyword=value pair" or "the URL's query parameter 2". */
  readonly where: string;
}

/** Parses libpq's keyword=value grammar (libpq fe-connect.c conninfo_parse). */
export function parseKeywordValue(dsn: string): Array<[string, string]> {
  return parseKeywordValueLocated(dsn).map(({ key, value }) => [key, value]);
}

function parseKeywordValueLocated(dsn: string): Located[] {
  const pairs: Located[] = [];
  let i = 0;
  // libpq splits on isspace() of the C locale: ASCII white space only. A non-breaking space
  // is part of a value there (Go's keyword=value parsers would split on it).
  const isSpace = (c: string | undefined) => c !== undefined && /[ \t\n\v\f\r]/.test(c);
  // Only keywords this program knows are ever named: anything else might be part of a value.
  const after = () => {
    const last = pairs[pairs.length - 1];
    if (last === undefined) return "at the start";
    return isKnownKeyword(last.key) ? `after the value of ${last.key}` : `after the ${ordinal(pairs.length)} pair`;
  };
  while (i < dsn.length) {
    while (isSpace(dsn[i])) i++;
    if (i >= dsn.length) break;
    const where = `the ${ordinal(pairs.length + 1)} keyword=value pair (${after()})`;
    const keyStart = i;
    while (i < dsn.length && dsn[i] !== "=" && !isSpace(dsn[i])) i++;
    const key = dsn.slice(keyStart, i);
    while (isSpace(dsn[i])) i++;
    if (dsn[i] !== "=") {
      throw new DsnError(
        `${where} has no "=": pairs are separated by spaces, so quote a value that contains spaces (password='a b')`,
      );
    }
    if (!keywordPattern.test(key)) throw new DsnError(`${where} does not start with a keyword`);
    i++;
    while (isSpace(dsn[i])) i++;
    let value = "";
    if (dsn[i] === "'") {
      i++;
      for (;;) {
        if (i >= dsn.length) {
          throw new DsnError(`${where}: its quoted value is not closed; close it with '`);
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
        else if (c === "\\") {
          throw new DsnError(
            `${where} ends with a backslash that escapes nothing (libpq drops it): write \\\\ for a backslash`,
          );
        } else value += c;
      }
    }
    pairs.push({ key, value, where });
  }
  return pairs;
}

function isKnownKeyword(key: string): boolean {
  return CONNECTION_KEYWORDS.has(key) || SERVER_SETTINGS.has(key) || key in REFUSED_KEYWORDS || LIBPQ_KEYWORDS.has(key);
}

export function isUrlForm(dsn: string): boolean {
  return /^postgres(ql)?:\/\//i.test(dsn.trim());
}

/** Bytes Go's net/url accepts raw in a URL's user information (net/url validUserinfo). */
const goUserinfoChar = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]$/;

/**
 * Percent-decodes one URL part like Go's net/url: a "%" must start a two-hex-digit escape,
 * and the bytes must be UTF-8. `part` names it in errors; the text is never quoted.
 */
function percentDecode(text: string, part: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "%") {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new DsnError(
          `the URL's ${part} has a "%" that is not followed by two hex digits: write a literal % as %25`,
        );
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, "utf8"));
    }
  }
  const buffer = Buffer.from(bytes);
  const decoded = buffer.toString("utf8");
  if (!Buffer.from(decoded, "utf8").equals(buffer)) {
    throw new DsnError(`the URL's ${part} is not UTF-8 once percent-decoded`);
  }
  return decoded;
}

/**
 * Splits a postgres:// URL into located pairs, refusing what Go's net/url (lib/pq, pgx)
 * would reject or read differently from libpq: fragments, bad escapes, raw characters that
 * must be escaped, an ambiguous "@", and "+" or ";" in the query.
 */
function parseUrlLocated(url: string): Located[] {
  const rest = url.replace(/^postgres(ql)?:\/\//i, "");
  if (/[\x00-\x1f\x7f]/.test(url)) {
    throw new DsnError("the URL contains a control character (a line break or a tab): percent-encode it");
  }
  const queryAt = rest.search(/[?]/);
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const query = queryAt < 0 ? undefined : rest.slice(queryAt + 1);
  const slash = beforeQuery.indexOf("/");
  const authority = slash < 0 ? beforeQuery : beforeQuery.slice(0, slash);
  const path = slash < 0 ? undefined : beforeQuery.slice(slash + 1);
  const pairs: Located[] = [];

  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    if (userinfo.includes("@")) {
      throw new DsnError(
        'the URL\'s user or password contains a raw "@" (libpq and Go split it differently): write it as %40',
      );
    }
    const colon = userinfo.indexOf(":");
    const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    const password = colon < 0 ? undefined : userinfo.slice(colon + 1);
    for (const [part, text] of [
      ["user", user],
      ["password", password],
    ] as const) {
      if (text === undefined) continue;
      if ([...text].some((c) => !goUserinfoChar.test(c))) {
        throw new DsnError(
          `the URL's ${part} contains a character that must be percent-encoded (such as a space, "#", "/", "?", ` +
            `"%", or a non-ASCII letter): encode it, or use the keyword=value form with a quoted value`,
        );
      }
      pairs.push({ key: part, value: percentDecode(text, part), where: `the URL's ${part}` });
    }
  }
  const hostport = at >= 0 ? authority.slice(at + 1) : authority;
  if (hostport.includes("#") || (path ?? "").includes("#") || (query ?? "").includes("#")) {
    throw new DsnError(
      'the URL contains a "#", which starts a fragment that the drivers drop; ' +
        "a # inside the password or another value must be written %23",
    );
  }
  if (hostport !== "") {
    let host = hostport;
    let port: string | undefined;
    const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(hostport);
    if (bracket) {
      host = bracket[1];
      port = bracket[2];
    } else if (hostport.startsWith("[")) {
      throw new DsnError("the URL's host has an unclosed [ (an IPv6 address is written [::1])");
    } else {
      const colon = hostport.lastIndexOf(":");
      if (colon >= 0) {
        host = hostport.slice(0, colon);
        port = hostport.slice(colon + 1);
      }
    }
    if (host.includes(",") || (port ?? "").includes(",")) throw new DsnError(MULTI_HOST);
    if (!bracket && host.includes(":")) {
      throw new DsnError('the URL\'s host has a ":" in it: write an IPv6 address in brackets ([::1])');
    }
    if (host !== "") pairs.push({ key: "host", value: percentDecode(host, "host"), where: "the URL's host" });
    if (port !== undefined) {
      if (!/^\d*$/.test(port)) {
        throw new DsnError(
          "the URL's port is not a number; if the password contains /, ?, # or @, percent-encode them (%2F, %3F, %23, %40)",
        );
      }
      if (port !== "") pairs.push({ key: "port", value: port, where: "the URL's port" });
    }
  }
  if (path !== undefined && path !== "") {
    pairs.push({ key: "dbname", value: percentDecode(path, "database name"), where: "the URL's database name" });
  }
  if (query !== undefined && query !== "") {
    query.split("&").forEach((param, index) => {
      const where = `the URL's query parameter ${index + 1}`;
      if (param.includes(";")) {
        throw new DsnError(`${where} contains a raw ";", which Go's URL parser refuses: write it as %3B`);
      }
      if (param.includes("+")) {
        throw new DsnError(
          `${where} contains a raw "+", which Go reads as a space and libpq as a plus: write %2B for a plus, %20 for a space`,
        );
      }
      const eq = param.indexOf("=");
      if (eq < 0) throw new DsnError(`${where} has no "=": write name=value`);
      const key = percentDecode(param.slice(0, eq), `query parameter ${index + 1}'s name`);
      if (!keywordPattern.test(key)) throw new DsnError(`${where} does not have a keyword as its name`);
      const part = isKnownKeyword(key) ? `${key} parameter` : `query parameter ${index + 1}`;
      pairs.push({ key, value: percentDecode(param.slice(eq + 1), part), where });
    });
  }
  return pairs;
}

function sslmodeChecked(mode: string | undefined): SslMode {
  if (mode === undefined || mode === "") return DEFAULT_SSLMODE;
  if (!(SUPPORTED_SSLMODES as readonly string[]).includes(mode)) {
    const named = mode === "prefer" || mode === "allow" ? `sslmode=${mode} is` : "this sslmode is";
    throw new DsnError(
      `${named} not supported by Atlas's PostgreSQL driver (lib/pq); use one of ${SUPPORTED_SSLMODES.join(", ")}`,
    );
  }
  return mode as SslMode;
}

const hostLabelPattern = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** A host name (RFC 1123 labels), an IPv4 or IPv6 address, or a unix-socket directory. */
function isValidHost(host: string): boolean {
  if (host.startsWith("/")) return true;
  if (host.includes(":")) return isIP(host) === 6;
  // All digits and dots is an IPv4 address or nothing (999.999.999.999 is no host name).
  if (/^[\d.]+$/.test(host)) return isIP(host) === 4;
  return host.length <= 253 && host.split(".").every((label) => hostLabelPattern.test(label));
}

const DBNAME_AT =
  'dbname contains "@": in a URL, a password with a raw "/" ends the host there and the rest becomes the database ' +
  "name; percent-encode / in the password as %2F (a database name with @ in it is not supported)";
const DBNAME_SLASH =
  "dbname starts with \"/\", which the drivers read differently (Atlas's lib/pq keeps it, the API's pgx drops it): " +
  "remove the extra slash";

/** Checks the keywords and values both forms share, and gathers them into fields. */
function fieldsOf(pairs: readonly Located[], own = false): ConnectionFields {
  const seen = new Set<string>();
  const fields: { -readonly [K in keyof ConnectionFields]: ConnectionFields[K] } = { params: [] };
  const params: Array<[string, string]> = [];
  for (const { key, value, where } of pairs) {
    if (!isKnownKeyword(key)) {
      const lower = key.toLowerCase();
      const hint = isKnownKeyword(lower)
        ? `keywords are lower case (did you mean ${lower}?)`
        : "it is neither a connection keyword nor a server setting this program passes on; " +
          "give other server settings as options='-c name=value'";
      throw new DsnError(`${where} has an unknown keyword: ${hint}`);
    }
    if (key in REFUSED_KEYWORDS && !(own && key === "sslrootcert"))
      throw new DsnError(`${key} ${REFUSED_KEYWORDS[key]}`);
    if (LIBPQ_KEYWORDS.has(key)) throw new DsnError(`${key} ${DIFFERENT_IN_DRIVERS}`);
    if (seen.has(key)) throw new DsnError(`${key} is given twice: keep one`);
    seen.add(key);
    if (value.includes("\0")) throw new DsnError(`${key} contains a NUL character, which PostgreSQL cannot take`);
    switch (key) {
      case "host":
        if (value.includes(",")) throw new DsnError(MULTI_HOST);
        if (value !== "" && !isValidHost(value)) {
          throw new DsnError("host is not a host name, an IP address or a unix-socket directory");
        }
        if (value !== "") fields.host = value;
        break;
      case "port":
        if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
          throw new DsnError("port is not a TCP port number (1 to 65535)");
        }
        fields.port = value;
        break;
      case "dbname":
        if (value.includes("@")) throw new DsnError(DBNAME_AT);
        if (value.startsWith("/")) throw new DsnError(DBNAME_SLASH);
        fields.dbname = value;
        break;
      case "user":
        // Both drivers would log in as the operating system's user of the pod instead.
        if (value === "") throw new DsnError("user is empty: name the database role to log in as");
        fields.user = value;
        break;
      case "password":
        fields.password = value;
        break;
      case "sslmode":
        params.push([key, sslmodeChecked(value)]);
        break;
      case "connect_timeout":
        if (!/^\d{1,6}$/.test(value)) throw new DsnError("connect_timeout is not a whole number of seconds");
        params.push([key, value]);
        break;
      default:
        params.push([key, value]);
    }
  }
  if (!seen.has("sslmode")) params.push(["sslmode", DEFAULT_SSLMODE]);
  fields.params = params;
  return fields;
}

/** The fields of either form of connection string, checked; errors never quote a value. */
export function parseDsn(dsn: string): ConnectionFields {
  const trimmed = dsn.trim();
  if (trimmed === "") throw new DsnError("the connection string is empty");
  return fieldsOf(isUrlForm(trimmed) ? parseUrlLocated(trimmed) : parseKeywordValueLocated(trimmed));
}

const enc = encodeURIComponent;

/**
 * The one URL builder: what the migration Job and the API receive. Every part is
 * percent-encoded (Go's net/url reads it back exactly); a unix-socket host, or a password
 * without a user, goes in the query as libpq's URL form expects.
 */
export function formatUrl(fields: ConnectionFields): string {
  const { host, port, user, password, dbname } = fields;
  const query: Array<readonly [string, string]> = [];
  let authority = "";
  if (host !== undefined && host.startsWith("/")) {
    query.push(["host", host]);
    if (port !== undefined) query.push(["port", port]);
  } else if (host !== undefined) {
    // lib/pq cannot split "[::1]" without a port ("missing port in address"): give the default.
    if (host.includes(":")) authority = `[${host}]:${port ?? DEFAULT_PORT}`;
    else authority = enc(host) + (port !== undefined ? `:${port}` : "");
  } else if (port !== undefined) {
    query.push(["port", port]);
  }
  const userinfo = user !== undefined ? `${enc(user)}${password !== undefined ? `:${enc(password)}` : ""}@` : "";
  if (user === undefined && password !== undefined) query.push(["password", password]);
  query.push(...fields.params);
  const path = dbname !== undefined ? `/${enc(dbname)}` : "/";
  // "/" stays raw in values (RFC 3986 allows it in a query; Go reads it as is): a path such as
  // sslrootcert's stays a path, which the test bed's executor rewrites like a kubelet mount.
  const search = query.map(([k, v]) => `${enc(k)}=${enc(v).replace(/%2F/g, "/")}`).join("&");
  return `postgres://${userinfo}${authority}${path}?${search}`;
}

export interface UrlOptions {
  /** sslrootcert for the pods: the path where the CA bundle is mounted. @default none */
  readonly sslrootcert?: string;
}

/**
 * A `postgres://` URL equivalent to the DSN, in the form formatUrl writes; `sslrootcert`
 * is set when the pods get a CA bundle.
 */
export function dsnToUrl(dsn: string, options: UrlOptions = {}): string {
  return formatUrl(withParams(parseDsn(dsn), options.sslrootcert ? [["sslrootcert", options.sslrootcert]] : []));
}

/** The fields with parameters added or replaced (in place, keeping the order). */
export function withParams(
  fields: ConnectionFields,
  extra: ReadonlyArray<readonly [string, string]>,
): ConnectionFields {
  const params = fields.params.filter(([k]) => !extra.some(([e]) => e === k));
  return { ...fields, params: [...params, ...extra] };
}

/**
 * The fields of a URL this program wrote (formatUrl): like parseDsn, but it may carry the
 * sslrootcert that points at the mounted CA bundle.
 */
export function parseOwnUrl(url: string): ConnectionFields {
  return fieldsOf(parseUrlLocated(url.trim()), true);
}

/** A URL parameter (e.g. sslmode), from a URL formatUrl wrote. */
export function urlParam(url: string, key: string): string | undefined {
  return parseOwnUrl(url).params.find(([k]) => k === key)?.[1];
}

/** Host, port and database of a URL, for messages: never the user or the password. */
export function describeUrl(url: string): string {
  try {
    const fields = parseOwnUrl(url);
    const host = fields.host ?? "localhost";
    const port = fields.port ?? "5432";
    return `${host}:${port}/${fields.dbname ?? "(default database)"}`;
  } catch {
    return "(unparseable URL)";
  }
}
