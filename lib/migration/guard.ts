import type * as PgQuery from "libpg-query";
import { AtlasLexError, AtlasStatement, atlasStatements } from "./atlasStatements";
import { MigrationFile } from "./dir";
import { fileSha256 } from "./promotion";
import { txModeRefusal } from "./txmode";

/**
 * Finds statements that drop or rewrite data in exactly what Atlas sends: each file is split
 * as Atlas 1.2.3 splits it (lib/migration/atlasStatements.ts) and each piece is parsed with
 * PostgreSQL's own grammar (libpg_query, compiled from the server's parser), so comments,
 * string literals, dollar-quoted bodies and `-- atlas:` directives never fool it. A file that
 * Atlas and PostgreSQL read differently (nested block comments, E'' escapes, ...) is refused:
 * a reviewer reading it would see another program than the one the database runs.
 */

export interface DestructiveStatement {
  readonly file: string;
  readonly version: string;
  /** 1-based line of the statement's first token. */
  readonly line: number;
  /** What it does, e.g. "DROP TABLE", "ALTER TABLE ... DROP COLUMN". */
  readonly kind: string;
  /** The statement's text, trimmed and shortened for messages. */
  readonly statement: string;
}

export class MigrationSqlError extends Error {}

export type Node = Record<string, unknown>;

let loaded: Promise<void> | undefined;
let parser: typeof PgQuery | undefined;
/**
 * The parser is WebAssembly: load it once before `findDestructiveStatements`. Imported
 * here, not at the top, so a run without pending migrations never loads it.
 */
export function loadSqlParser(): Promise<void> {
  loaded ??= import("libpg-query").then(async (module) => {
    await module.loadModule();
    parser = module;
  });
  return loaded;
}

export function loadedParser(): typeof PgQuery {
  if (!parser) throw new Error("the SQL parser needs `await loadSqlParser()` first");
  return parser;
}

const droppedObjects: Record<string, string> = {
  OBJECT_TABLE: "DROP TABLE",
  OBJECT_SCHEMA: "DROP SCHEMA",
  OBJECT_MATVIEW: "DROP MATERIALIZED VIEW",
  // Dropping a type or a domain drops every column of it (with CASCADE) or fails the run.
  OBJECT_TYPE: "DROP TYPE",
  OBJECT_DOMAIN: "DROP DOMAIN",
};
const alterCommands: Record<string, string> = {
  AT_DropColumn: "ALTER TABLE ... DROP COLUMN",
  AT_AlterColumnType: "ALTER TABLE ... ALTER COLUMN ... TYPE",
};
/** Languages whose body is not in the migration: a symbol of compiled code. */
const inertLanguages = new Set(["internal", "c"]);
const CASCADE = " ... CASCADE";

/**
 * The destructive (loses-data) kinds of one parsed statement (a single ALTER TABLE can hold
 * several). A rename loses nothing: it breaks the old pods (lib/migration/risk.ts).
 * `source` is the statement's own text: DO blocks and function bodies are parsed from it.
 */
export function destructiveKinds(stmt: Node, source = ""): string[] {
  const [type, body] = Object.entries(stmt)[0] ?? [];
  const node = (body ?? {}) as Node;
  const cascade = node.behavior === "DROP_CASCADE";
  switch (type) {
    case "DropStmt": {
      const kind = droppedObjects[String(node.removeType)];
      if (kind) return [kind + (cascade ? CASCADE : "")];
      // Any other object dropped with CASCADE takes whatever depends on it (columns, constraints, views).
      return cascade ? [`DROP ${objectWords(node.removeType)}${CASCADE}`] : [];
    }
    case "DropdbStmt":
      return ["DROP DATABASE"];
    case "DropOwnedStmt":
      // Drops every object the role owns: tables included.
      return ["DROP OWNED" + (cascade ? CASCADE : "")];
    case "TruncateStmt":
      return ["TRUNCATE" + (cascade ? CASCADE : "")];
    case "DeleteStmt":
    case "UpdateStmt": {
      const verb = type === "DeleteStmt" ? "DELETE" : "UPDATE";
      const own = everyRow(node.whereClause)
        ? [`${verb} ${node.whereClause ? "whose WHERE does not read the row" : "without WHERE"}`]
        : [];
      return [...own, ...nestedKinds(node, source)];
    }
    case "MergeStmt": {
      const clauses = ((node.mergeWhenClauses ?? []) as Node[]).map((c) => (c.MergeWhenClause ?? {}) as Node);
      const own = clauses.some((c) => c.commandType === "CMD_DELETE") ? ["MERGE ... THEN DELETE"] : [];
      return [...own, ...nestedKinds(node, source)];
    }
    case "ExplainStmt":
      // EXPLAIN ANALYZE runs its statement; plain EXPLAIN does not.
      return explainAnalyzes(node) ? nestedKinds(node, source).map((k) => `EXPLAIN ANALYZE: ${k}`) : [];
    case "PrepareStmt":
      // Prepared to be executed: EXECUTE runs it later in the same session.
      return nestedKinds(node, source).map((k) => `PREPARE: ${k}`);
    case "AlterTableStmt": {
      const cmds = ((node.cmds ?? []) as Node[]).map((c) => (c.AlterTableCmd ?? {}) as Node);
      return cmds.flatMap((cmd) => {
        const kind = alterCommands[String(cmd.subtype)];
        const cmdCascade = cmd.behavior === "DROP_CASCADE";
        if (kind) return [kind + (cmdCascade ? CASCADE : "")];
        return cmdCascade ? [`ALTER TABLE ... ${nodeWords(String(cmd.subtype))}${CASCADE}`] : [];
      });
    }
    case "DoStmt": {
      const language = (defElemText(node.args, "language") ?? "plpgsql").toLowerCase();
      if (language !== "plpgsql") return [`DO block in ${language}: cannot be verified`];
      return plpgsqlKinds(source, "DO block");
    }
    case "CreateFunctionStmt": {
      // A body that would drop or rewrite data counts when the function is created, called
      // or not: this migration, a later one, a trigger or the API can call it.
      const what = node.is_procedure ? "procedure body" : "function body";
      const language = (defElemText(node.options, "language") ?? "sql").toLowerCase();
      if (node.sql_body !== undefined) return nestedKinds(node, source).map((k) => `${what}: ${k}`);
      if (language === "sql") return sqlBodyKinds(functionBody(node.options), what);
      if (inertLanguages.has(language)) return [];
      if (language !== "plpgsql") return [`${what} in ${language}: cannot be verified`];
      return plpgsqlKinds(source, what);
    }
    default:
      return [...(hasCascade(node) ? [`${nodeWords(String(type))}${CASCADE}`] : []), ...nestedKinds(node, source)];
  }
}

/**
 * What a PL/pgSQL body can do: dynamic SQL (EXECUTE, FOR ... IN EXECUTE, OPEN ... FOR
 * EXECUTE, RETURN QUERY EXECUTE) is text built at run time, so it cannot be verified and
 * needs an acknowledgement; its static statements count as the migration's own.
 */
function plpgsqlKinds(source: string, what: string): string[] {
  const { dynamic, staticSql, failed } = plpgsqlBody(source);
  if (failed) return [`${what} that PL/pgSQL cannot compile: cannot be verified`];
  const kinds = dynamic ? [`${what} with dynamic SQL (EXECUTE): cannot be verified`] : [];
  for (const sql of staticSql) kinds.push(...sqlBodyKinds(sql, what));
  return kinds;
}

/** The destructive kinds of SQL text that runs as part of a body, each prefixed with `what`. */
function sqlBodyKinds(sql: string | undefined, what: string): string[] {
  if (sql === undefined) return [];
  let stmts: Array<{ stmt?: Node }>;
  try {
    stmts = loadedParser().parseSync(sql).stmts ?? [];
  } catch {
    return [`${what} statement that PostgreSQL cannot parse: cannot be verified`];
  }
  return stmts.flatMap((s) => (s.stmt ? destructiveKinds(s.stmt, sql).map((k) => `${what}: ${k}`) : []));
}

/** The static statements of a PL/pgSQL DO block or function, and whether it runs dynamic SQL. */
export function plpgsqlBody(source: string): { dynamic: boolean; staticSql: string[]; failed: boolean } {
  let parsed: unknown;
  try {
    parsed = loadedParser().parsePlPgSQLSync(source);
  } catch {
    return { dynamic: false, staticSql: [], failed: true };
  }
  let dynamic = false;
  const staticSql: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    for (const [key, child] of Object.entries(value as Node)) {
      if (key === "PLpgSQL_stmt_dynexecute" || key === "PLpgSQL_stmt_dynfors" || key === "dynquery") dynamic = true;
      if (key === "PLpgSQL_stmt_execsql") {
        const query = ((child as Node).sqlstmt as { PLpgSQL_expr?: { query?: string } } | undefined)?.PLpgSQL_expr
          ?.query;
        if (query) staticSql.push(query);
      }
      walk(child);
    }
  };
  walk(parsed);
  return { dynamic, staticSql, failed: false };
}

/**
 * The kinds of the statements nested in a statement's tree (data-modifying CTEs, the query of
 * PREPARE or EXPLAIN, BEGIN ATOMIC bodies, rule actions), not the statement's own.
 */
function nestedKinds(node: Node, source: string): string[] {
  const kinds: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    for (const [key, child] of Object.entries(value as Node)) {
      if (/^[A-Z]\w*Stmt$/.test(key) && typeof child === "object" && child !== null) {
        kinds.push(...destructiveKinds({ [key]: child }, source));
      } else {
        walk(child);
      }
    }
  };
  walk(node);
  return kinds;
}

/**
 * A WHERE that keeps every row or none: missing, or an expression that reads no column and no
 * subquery (`WHERE true`, `WHERE 1 = 1`, `WHERE random() < 2`). A literal `false` keeps none.
 */
function everyRow(where: unknown): boolean {
  if (where === undefined) return true;
  const constant = (where as Node).A_Const as { boolval?: { boolval?: boolean } } | undefined;
  if (constant?.boolval !== undefined && constant.boolval.boolval !== true) return false;
  const readsRow = (value: unknown): boolean => {
    if (Array.isArray(value)) return value.some(readsRow);
    if (typeof value !== "object" || value === null) return false;
    return Object.entries(value as Node).some(
      ([k, v]) => k === "ColumnRef" || k === "SubLink" || k === "ParamRef" || readsRow(v),
    );
  };
  return !readsRow(where);
}

function explainAnalyzes(node: Node): boolean {
  for (const item of (node.options ?? []) as Node[]) {
    const def = item.DefElem as { defname?: string; arg?: { String?: { sval?: string } } } | undefined;
    if (def?.defname !== "analyze") continue;
    const value = def.arg?.String?.sval?.toLowerCase();
    return value === undefined || !["false", "off", "0", "no"].includes(value);
  }
  return false;
}

/** The text of `AS '...'` (an SQL function's body). */
function functionBody(options: unknown): string | undefined {
  for (const item of (options ?? []) as Node[]) {
    const def = item.DefElem as { defname?: string; arg?: { List?: { items?: Node[] } } } | undefined;
    if (def?.defname === "as") {
      return (def.arg?.List?.items?.[0]?.String as { sval?: string } | undefined)?.sval;
    }
  }
  return undefined;
}

export function defElemText(list: unknown, name: string): string | undefined {
  for (const item of (list ?? []) as Node[]) {
    const def = item.DefElem as { defname?: string; arg?: { String?: { sval?: string } } } | undefined;
    if (def?.defname === name) return def.arg?.String?.sval;
  }
  return undefined;
}

function objectWords(removeType: unknown): string {
  return String(removeType)
    .replace(/^OBJECT_/, "")
    .replace(/_/g, " ");
}

/** "AT_DropConstraint" and "DropOwnedStmt" as SQL words: "DROP CONSTRAINT", "DROP OWNED". */
function nodeWords(name: string): string {
  return name
    .replace(/^AT_/, "")
    .replace(/Stmt$/, "")
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toUpperCase();
}

function hasCascade(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasCascade);
  if (typeof value !== "object" || value === null) return false;
  return Object.entries(value as Node).some(([k, v]) => (k === "behavior" && v === "DROP_CASCADE") || hasCascade(v));
}

/**
 * The settings the migration's session starts with (lib/migration/run.ts,
 * migrationSessionParameters) so a migration cannot queue the live API behind a lock, outlive
 * the Job or keep running once its pod is gone. A migration that changes them switches those
 * protections off for the rest of its run, so it is refused, acknowledged or not.
 */
export const SESSION_PROTECTIONS = ["lock_timeout", "statement_timeout", "client_connection_check_interval"];

/** How a statement changes a session protection, if it does: "SET lock_timeout", "RESET ALL", ... */
function sessionChanges(stmt: Node, source: string): string[] {
  const changes: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    for (const [key, child] of Object.entries(value as Node)) {
      // Defaults of other sessions (roles, databases, the server), not this one.
      if (key === "AlterRoleSetStmt" || key === "AlterDatabaseSetStmt" || key === "AlterSystemStmt") continue;
      const node = (child ?? {}) as Node;
      if (key === "VariableSetStmt") {
        const name = String(node.name ?? "").toLowerCase();
        const verb = node.kind === "VAR_RESET" ? "RESET" : "SET";
        if (node.kind === "VAR_RESET_ALL") changes.push("RESET ALL");
        else if (SESSION_PROTECTIONS.includes(name)) changes.push(`${verb} ${name}`);
      } else if (key === "DiscardStmt" && node.target === "DISCARD_ALL") {
        changes.push("DISCARD ALL");
      }
      walk(child);
    }
  };
  walk(stmt);
  // set_config can hide in any expression, a function body or a DO block: read the text.
  const calls = source.match(/\bset_config\s*\(/gi)?.length ?? 0;
  const named = [...source.matchAll(/\bset_config\s*\(\s*'([^']*)'/gi)].map((m) => m[1].toLowerCase());
  const touched = named.filter((n) => SESSION_PROTECTIONS.includes(n));
  if (touched.length > 0) changes.push(...touched.map((n) => `set_config('${n}', ...)`));
  else if (calls > named.length) changes.push("set_config with a setting name that cannot be read");
  // Bodies that run now or later: static SET/RESET in PL/pgSQL and SQL function bodies.
  const [type, body] = Object.entries(stmt)[0] ?? [];
  const node = (body ?? {}) as Node;
  if (type === "DoStmt" || (type === "CreateFunctionStmt" && defElemText(node.options, "language") === "plpgsql")) {
    for (const sql of plpgsqlBody(source).staticSql) changes.push(...sqlTextChanges(sql));
  } else if (type === "CreateFunctionStmt") {
    changes.push(...sqlTextChanges(functionBody(node.options)));
  }
  return [...new Set(changes)];
}

function sqlTextChanges(sql: string | undefined): string[] {
  if (sql === undefined) return [];
  try {
    return (loadedParser().parseSync(sql).stmts ?? []).flatMap((s) => (s.stmt ? sessionChanges(s.stmt, sql) : []));
  } catch {
    return [];
  }
}

interface ParsedStatement {
  readonly stmt: Node;
  /** Byte offsets in the file. */
  readonly start: number;
  readonly end: number;
}

type RawStmts = Array<{ stmt?: Node; stmt_location?: number; stmt_len?: number }>;

/** Parses `text`; byte offsets are shifted by `base` (where `text` starts in the file). */
function parseStatements(text: string, base: number): ParsedStatement[] {
  const bytes = Buffer.from(text);
  const stmts = (loadedParser().parseSync(text).stmts ?? []) as RawStmts;
  return stmts
    .filter((s) => s.stmt)
    .map((s) => {
      const location = s.stmt_location ?? 0;
      return {
        stmt: s.stmt!,
        start: base + skipTrivia(bytes, location),
        end: base + (s.stmt_len ? location + s.stmt_len : bytes.length),
      };
    });
}

/** A statement's tree without positions, to compare two readings of the same statement. */
function shape(stmt: Node): string {
  return JSON.stringify(stmt, (key, value: unknown) => (key === "location" ? undefined : value));
}

const AGREE_HINT =
  "the guard reviews the statements Atlas sends, so it refuses a file that Atlas and PostgreSQL read differently; " +
  "rewrite it so both agree: no nested block comments, no backslash escapes in E'' strings, $$ or ASCII " +
  "$tag$ dollar quotes, no BEGIN ... END; outside a function body, one statement per piece under " +
  "`-- atlas:delimiter`, and a line break after a comment on the last line";

/**
 * The statements Atlas will send for `file`, parsed, after checking that they are the
 * statements PostgreSQL reads in the file. Throws MigrationSqlError naming the file and line.
 */
export function atlasParsedStatements(file: MigrationFile): ParsedStatement[] {
  if (!parser) throw new Error("atlasParsedStatements needs `await loadSqlParser()` first");
  const bytes = file.bytes;
  const at = (offset: number | undefined) => (offset !== undefined ? `:${lineAt(bytes, offset)}` : "");
  let whole: ParsedStatement[];
  try {
    whole = parseStatements(file.text, 0);
  } catch (err) {
    const cursor = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition;
    throw new MigrationSqlError(
      `${file.name}${at(cursor)}: PostgreSQL cannot parse this migration: ${(err as Error).message}`,
    );
  }
  let pieces: AtlasStatement[];
  try {
    pieces = atlasStatements(bytes);
  } catch (err) {
    if (!(err instanceof AtlasLexError)) throw err;
    throw new MigrationSqlError(
      `${file.name}${at(err.offset)}: Atlas and PostgreSQL read this migration differently: PostgreSQL parses it, ` +
        `but Atlas cannot split it into statements (${err.message}), so \`atlas migrate apply\` would fail on it; ${AGREE_HINT}`,
    );
  }
  const sent: ParsedStatement[] = [];
  for (const piece of pieces) {
    const where = `${file.name}:${lineAt(bytes, piece.offset)}`;
    let stmts: ParsedStatement[];
    try {
      stmts = parseStatements(piece.text, piece.offset);
    } catch (err) {
      throw new MigrationSqlError(
        `${where}: Atlas and PostgreSQL read this migration differently: Atlas sends ${excerpt(piece.text)} ` +
          `as one statement, which PostgreSQL cannot parse (${(err as Error).message}); ${AGREE_HINT}`,
      );
    }
    if (stmts.length > 1) {
      throw new MigrationSqlError(
        `${where}: Atlas and PostgreSQL read this migration differently: Atlas sends lines ` +
          `${lineAt(bytes, piece.offset)}-${lineAt(bytes, piece.end)} as one statement, in which PostgreSQL reads ` +
          `${stmts.length} statements; ${AGREE_HINT}`,
      );
    }
    sent.push(...stmts);
  }
  for (let i = 0; i < Math.max(sent.length, whole.length); i++) {
    if (sent[i] && whole[i] && shape(sent[i].stmt) === shape(whole[i].stmt)) continue;
    const place = sent[i] ?? whole[i];
    const atlasReads = sent[i] ? excerpt(bytes.subarray(sent[i].start, sent[i].end).toString("utf8")) : "nothing more";
    const pgReads = whole[i] ? excerpt(bytes.subarray(whole[i].start, whole[i].end).toString("utf8")) : "nothing more";
    throw new MigrationSqlError(
      `${file.name}:${lineAt(bytes, place.start)}: Atlas and PostgreSQL read this migration differently: ` +
        `statement ${i + 1} is ${atlasReads} as Atlas sends it, but ${pgReads} as PostgreSQL reads the file; ${AGREE_HINT}`,
    );
  }
  return sent;
}

function excerpt(sql: string): string {
  const text = sql.replace(/\s+/g, " ").trim();
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/** A statement as Atlas sends it, parsed, with where it is in its file. */
export interface ReviewedStatement {
  readonly stmt: Node;
  /** The statement's own text (DO blocks and function bodies are parsed from it). */
  readonly source: string;
  /** 1-based line of the statement's first token. */
  readonly line: number;
  /** The text, whitespace collapsed and shortened for messages. */
  readonly statement: string;
}

/**
 * The statements Atlas will send for `file` (atlasParsedStatements), each checked not to
 * switch off a session protection. Requires `await loadSqlParser()` first.
 */
export function reviewedStatements(file: MigrationFile): ReviewedStatement[] {
  const bytes = file.bytes;
  const statements = atlasParsedStatements(file);
  const refusal = txModeRefusal(file, statements);
  if (refusal) throw new MigrationSqlError(refusal);
  return statements.map((s) => {
    const source = bytes.subarray(s.start, s.end).toString("utf8");
    const text = source.replace(/\s+/g, " ").trim();
    const line = lineAt(bytes, s.start);
    const changes = sessionChanges(s.stmt, source);
    if (changes.length > 0) {
      throw new MigrationSqlError(
        `${file.name}:${line}: ${changes.join(", ")} changes a setting the migration session starts with ` +
          `(${SESSION_PROTECTIONS.join(", ")}: they keep a migration from queueing the live API behind its locks, ` +
          "from outliving the Job and from running on once its pod is gone), so it would switch that protection off " +
          "for the rest of the run; remove it, and tune migrationLockWaitTimeout or migrationDeadlineSeconds in " +
          "stack config instead",
      );
    }
    return { stmt: s.stmt, source, line, statement: text.length > 120 ? `${text.slice(0, 117)}...` : text };
  });
}

/** Requires `await loadSqlParser()` first. */
export function findDestructiveStatements(file: MigrationFile): DestructiveStatement[] {
  return reviewedStatements(file).flatMap((s) =>
    destructiveKinds(s.stmt, s.source).map((kind) => ({
      file: file.name,
      version: file.version,
      line: s.line,
      kind,
      statement: s.statement,
    })),
  );
}

/** libpg_query locations are byte offsets; lines count from 1. */
function lineAt(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** A statement's location may include the whitespace and comments before it. */
function skipTrivia(bytes: Buffer, offset: number): number {
  let i = offset;
  for (;;) {
    while (i < bytes.length && /\s/.test(String.fromCharCode(bytes[i]))) i++;
    if (bytes[i] === 0x2d && bytes[i + 1] === 0x2d) {
      while (i < bytes.length && bytes[i] !== 0x0a) i++;
    } else if (bytes[i] === 0x2f && bytes[i + 1] === 0x2a) {
      const close = bytes.indexOf("*/", i + 2);
      i = close < 0 ? bytes.length : close + 2;
    } else {
      return i;
    }
  }
}

/**
 * An entry of an acknowledgement key (allowDestructiveMigrations, ...): a version and the start of its file's sha256, so
 * an acknowledgement covers the content that was reviewed and an edit needs a new one.
 */
export interface Acknowledgement {
  readonly version: string;
  /** Lower-case hex, at least ACK_DIGEST_MIN digits; the commands print ACK_DIGEST_LENGTH. */
  readonly digest: string;
}
export const ACK_DIGEST_LENGTH = 16;
export const ACK_DIGEST_MIN = 12;
export const ACKNOWLEDGEMENT_PATTERN = new RegExp(`^(\\d{14}):([0-9a-f]{${ACK_DIGEST_MIN},64})$`);

/**
 * An acknowledgement key (allowDestructiveMigrations and the others of lib/migration/risk.ts): entries `<version>:<sha256 of the file, 12-64 hex digits>`, as a
 * list (JSON) or as a plain value separated by commas or spaces. A bare version is refused:
 * it would keep covering the file after an edit.
 */
export function parseAcknowledgements(raw: string | undefined): Acknowledgement[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = raw.trim().split(/[\s,]+/);
  }
  // `--path` without `--type string` stores a bare number as a YAML number.
  const entries = (Array.isArray(parsed) ? parsed : [parsed]).map((v) => (typeof v === "number" ? String(v) : v));
  return entries.map((entry, index) => {
    const match = typeof entry === "string" ? ACKNOWLEDGEMENT_PATTERN.exec(entry) : null;
    if (match) return { version: match[1], digest: match[2] };
    const bare = typeof entry === "string" && /^\d{14}$/.test(entry);
    throw new Error(
      (bare
        ? `entry ${index} names version ${entry} without its file's content: an acknowledgement is <version>:<sha256>, ` +
          "so that an edit after the review needs a new one"
        : `entry ${index} is not <version>:<sha256 of the file, at least ${ACK_DIGEST_MIN} hex digits>`) +
        "; `npm run migrations:guard -- --all` and the preview print the exact command for each file",
    );
  });
}

/** The entry that acknowledges this file as it is now: `<version>:<sha256, 16 hex digits>`. */
export function acknowledgementOf(file: MigrationFile): string {
  return `${file.version}:${fileSha256(file).slice(0, ACK_DIGEST_LENGTH)}`;
}

export function isAcknowledged(file: MigrationFile, acknowledged: readonly Acknowledgement[]): boolean {
  const digest = fileSha256(file);
  return acknowledged.some((a) => a.version === file.version && digest.startsWith(a.digest));
}

/**
 * The commands that acknowledge these files as they are now in `key` (allowDestructiveMigrations,
 * allowBreakingMigrations, allowLockingMigrations): an entry of the same version
 * (for older content) is replaced in place, others are appended after the existing entries.
 * `--type string`: with `--path`, the CLI would store a bare number as a YAML number.
 */
export function acknowledgeCommands(
  key: string,
  files: readonly MigrationFile[],
  acknowledged: readonly Acknowledgement[],
): string[] {
  let next = acknowledged.length;
  return files.map((f) => {
    const stale = acknowledged.findIndex((a) => a.version === f.version);
    const index = stale >= 0 ? stale : next++;
    return `pulumi config set --path --type string '${key}[${index}]' ${acknowledgementOf(f)}`;
  });
}
