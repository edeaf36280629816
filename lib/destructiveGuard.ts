import type * as PgQuery from "libpg-query";
import { MigrationFile } from "./migrationDir";

/**
 * Finds statements that drop or rewrite data, with PostgreSQL's own grammar (libpg_query,
 * compiled from the server's parser), so comments, string literals, dollar-quoted bodies
 * and `-- atlas:` directives never fool it.
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

type Node = Record<string, unknown>;

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

function loadedParser(): typeof PgQuery {
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
const renames: Record<string, string> = {
  OBJECT_TABLE: "ALTER TABLE ... RENAME TO",
  OBJECT_COLUMN: "ALTER TABLE ... RENAME COLUMN",
};
/** Languages whose function bodies run nothing when the function is created. */
const inertLanguages = new Set(["sql", "internal", "c"]);
const CASCADE = " ... CASCADE";

/**
 * The destructive kinds of one parsed statement (a single ALTER TABLE can hold several).
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
    case "TruncateStmt":
      return ["TRUNCATE" + (cascade ? CASCADE : "")];
    case "DeleteStmt":
      return node.whereClause === undefined ? ["DELETE without WHERE"] : [];
    case "UpdateStmt":
      return node.whereClause === undefined ? ["UPDATE without WHERE"] : [];
    case "RenameStmt": {
      const kind = renames[String(node.renameType)];
      return kind ? [kind] : [];
    }
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
      return plpgsqlKinds(source, "DO block", true);
    }
    case "CreateFunctionStmt": {
      const what = node.is_procedure ? "procedure body" : "function body";
      const language = (defElemText(node.options, "language") ?? "sql").toLowerCase();
      if (inertLanguages.has(language)) return [];
      if (language !== "plpgsql") return [`${what} in ${language}: cannot be verified`];
      // A function's static statements run only when it is called; its dynamic SQL cannot be read at all.
      return plpgsqlKinds(source, what, false);
    }
    default:
      return hasCascade(node) ? [`${nodeWords(String(type))}${CASCADE}`] : [];
  }
}

/**
 * What a PL/pgSQL body can do: dynamic SQL (EXECUTE, FOR ... IN EXECUTE, OPEN ... FOR
 * EXECUTE, RETURN QUERY EXECUTE) is text built at run time, so it cannot be verified and
 * needs an acknowledgement; with `runsNow` (a DO block) its static statements count as the
 * migration's own.
 */
function plpgsqlKinds(source: string, what: string, runsNow: boolean): string[] {
  let parsed: unknown;
  try {
    parsed = loadedParser().parsePlPgSQLSync(source);
  } catch {
    return [`${what} that PL/pgSQL cannot compile: cannot be verified`];
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
  const kinds = dynamic ? [`${what} with dynamic SQL (EXECUTE): cannot be verified`] : [];
  if (runsNow) {
    for (const sql of staticSql) {
      let stmts: Array<{ stmt?: Node }> = [];
      try {
        stmts = loadedParser().parseSync(sql).stmts ?? [];
      } catch {
        kinds.push(`${what} statement that PostgreSQL cannot parse: cannot be verified`);
      }
      for (const s of stmts) if (s.stmt) kinds.push(...destructiveKinds(s.stmt, sql).map((k) => `${what}: ${k}`));
    }
  }
  return kinds;
}

function defElemText(list: unknown, name: string): string | undefined {
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

/** Requires `await loadSqlParser()` first. */
export function findDestructiveStatements(file: MigrationFile): DestructiveStatement[] {
  if (!parser) throw new Error("findDestructiveStatements needs `await loadSqlParser()` first");
  let stmts: Array<{ stmt?: Node; stmt_location?: number; stmt_len?: number }>;
  try {
    stmts = parser.parseSync(file.text).stmts ?? [];
  } catch (err) {
    const cursor = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition;
    const line = cursor !== undefined ? lineAt(file.bytes, cursor) : undefined;
    throw new MigrationSqlError(
      `${file.name}${line ? `:${line}` : ""}: PostgreSQL cannot parse this migration: ${(err as Error).message}`,
    );
  }
  const bytes = file.bytes;
  const found: DestructiveStatement[] = [];
  for (const s of stmts) {
    if (!s.stmt) continue;
    const start = skipTrivia(bytes, s.stmt_location ?? 0);
    const end = s.stmt_len ? (s.stmt_location ?? 0) + s.stmt_len : bytes.length;
    const source = bytes.subarray(start, end).toString("utf8");
    for (const kind of destructiveKinds(s.stmt, source)) {
      const text = source.replace(/\s+/g, " ").trim();
      found.push({
        file: file.name,
        version: file.version,
        line: lineAt(bytes, start),
        kind,
        statement: text.length > 120 ? `${text.slice(0, 117)}...` : text,
      });
    }
  }
  return found;
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

/** Fails with every unacknowledged destructive statement in the files about to run. */
export function checkDestructive(
  pending: readonly MigrationFile[],
  acknowledged: readonly string[],
): DestructiveStatement[] {
  const found = pending.flatMap(findDestructiveStatements);
  const refused = found.filter((d) => !acknowledged.includes(d.version));
  if (refused.length > 0) {
    const lines = refused.map((d) => `  ${d.file}:${d.line}: ${d.kind}: ${d.statement}`);
    const versions = [...new Set(refused.map((d) => d.version))];
    throw new MigrationSqlError(
      `pending migrations drop or rewrite data, or run SQL that cannot be verified:\n${lines.join("\n")}\n` +
        `If this is intended, acknowledge ${versions.length > 1 ? "these versions" : "this version"} in stack config:\n` +
        acknowledgeCommands(versions, acknowledged.length)
          .map((c) => `  ${c}`)
          .join("\n"),
    );
  }
  return found;
}

/**
 * The commands that append versions to allowDestructiveMigrations, after the `existing`
 * entries. `--type string`: with `--path`, the CLI stores a bare number as a YAML number,
 * which the key's declared type (a list of strings) refuses.
 */
export function acknowledgeCommands(versions: readonly string[], existing: number): string[] {
  return versions.map(
    (v, i) => `pulumi config set --path --type string 'allowDestructiveMigrations[${existing + i}]' ${v}`,
  );
}
