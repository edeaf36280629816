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

const droppedObjects: Record<string, string> = {
  OBJECT_TABLE: "DROP TABLE",
  OBJECT_SCHEMA: "DROP SCHEMA",
  OBJECT_MATVIEW: "DROP MATERIALIZED VIEW",
};
const alterCommands: Record<string, string> = {
  AT_DropColumn: "ALTER TABLE ... DROP COLUMN",
  AT_AlterColumnType: "ALTER TABLE ... ALTER COLUMN ... TYPE",
};
const renames: Record<string, string> = {
  OBJECT_TABLE: "ALTER TABLE ... RENAME TO",
  OBJECT_COLUMN: "ALTER TABLE ... RENAME COLUMN",
};

/** The destructive kinds of one parsed statement (a single ALTER TABLE can hold several). */
export function destructiveKinds(stmt: Node): string[] {
  const [type, body] = Object.entries(stmt)[0] ?? [];
  const node = (body ?? {}) as Node;
  switch (type) {
    case "DropStmt": {
      const kind = droppedObjects[String(node.removeType)];
      return kind ? [kind] : [];
    }
    case "DropdbStmt":
      return ["DROP DATABASE"];
    case "TruncateStmt":
      return ["TRUNCATE"];
    case "DeleteStmt":
      return node.whereClause === undefined ? ["DELETE without WHERE"] : [];
    case "RenameStmt": {
      const kind = renames[String(node.renameType)];
      return kind ? [kind] : [];
    }
    case "AlterTableStmt": {
      const cmds = (node.cmds ?? []) as Node[];
      return cmds
        .map((c) => alterCommands[String((c.AlterTableCmd as Node | undefined)?.subtype)])
        .filter((k): k is string => k !== undefined);
    }
    default:
      return [];
  }
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
    for (const kind of destructiveKinds(s.stmt)) {
      const text = bytes.subarray(start, end).toString("utf8").replace(/\s+/g, " ").trim();
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
      `pending migrations drop or rewrite data:\n${lines.join("\n")}\n` +
        "If this is intended, acknowledge the version(s) in stack config: " +
        `pulumi config set --path 'allowDestructiveMigrations[0]' ${versions[0]}` +
        (versions.length > 1 ? ` (and ${versions.slice(1).join(", ")})` : ""),
    );
  }
  return found;
}
