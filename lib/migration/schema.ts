import type { MigrationFile } from "./dir";
import { atlasParsedStatements } from "./guard";

/**
 * The names a schema is made of: its tables with their columns, and the indexes that do not
 * back a constraint. What a baseline is checked by: a database GORM built for a release has
 * the tables, columns and indexes the migrations up to that release's version build, whatever
 * the column order or the types' spelling.
 */
export interface SchemaNames {
  readonly tables: Readonly<Record<string, readonly string[]>>;
  readonly indexes: readonly string[];
}

/** What the migrations build, and what later files create `IF NOT EXISTS` (so may exist already). */
export interface FoldedSchema extends SchemaNames {
  /** "index x", "table t", "column t.c" that a file creates only if it does not exist. */
  readonly mayExist: readonly string[];
}

/** A statement whose effect on the schema's names the fold does not model. */
export class SchemaFoldError extends Error {}

type Node = Record<string, unknown>;
const kind = (node: Node) => Object.keys(node)[0];
const body = (node: Node) => Object.values(node)[0] as Record<string, unknown>;

/** ALTER TABLE subcommands that leave the names of tables, columns and indexes as they are. */
const NAME_NEUTRAL_ALTERS = new Set([
  "AT_AddConstraint",
  "AT_DropConstraint",
  "AT_ValidateConstraint",
  "AT_AlterColumnType",
  "AT_ColumnDefault",
  "AT_SetNotNull",
  "AT_DropNotNull",
  "AT_SetStatistics",
  "AT_SetStorage",
  "AT_EnableRowSecurity",
  "AT_DisableRowSecurity",
  "AT_ChangeOwner",
]);
/** Statements that create, rename or drop no table, column or index. */
const NAME_NEUTRAL = new Set([
  "CommentStmt",
  "GrantStmt",
  "GrantRoleStmt",
  "VariableSetStmt",
  "InsertStmt",
  "UpdateStmt",
  "DeleteStmt",
  "SelectStmt",
  "CreateFunctionStmt",
  "CreateTrigStmt",
  "CreateSeqStmt",
  "AlterSeqStmt",
  "ViewStmt",
  "CreateEnumStmt",
  "AlterEnumStmt",
  "CreateDomainStmt",
  "DefineStmt",
  "CreatePolicyStmt",
  "RuleStmt",
  "TruncateStmt",
  "LockStmt",
]);

/**
 * The names `files` build, in order, from the statements Atlas sends (each parsed by
 * PostgreSQL's parser). Throws SchemaFoldError for a statement it does not model. Needs
 * `await loadSqlParser()` first.
 */
export function foldSchema(files: readonly MigrationFile[], later: readonly MigrationFile[] = []): FoldedSchema {
  const tables = new Map<string, Set<string>>();
  const indexes = new Map<string, string>();
  const apply = (file: MigrationFile) => {
    for (const { stmt } of atlasParsedStatements(file)) {
      const k = kind(stmt);
      const s = body(stmt);
      const unsupported = (what: string) =>
        new SchemaFoldError(`${file.name}: ${what} (${k}) is not something the baseline check can follow`);
      if (k === "CreateStmt") {
        const name = relname(s.relation);
        if (s.inhRelations || s.partspec || s.partbound || s.ofTypename) throw unsupported(`CREATE TABLE ${name}`);
        const columns = new Set<string>();
        for (const element of (s.tableElts ?? []) as Node[]) {
          if (kind(element) === "ColumnDef") columns.add(body(element).colname as string);
          else if (kind(element) === "TableLikeClause") throw unsupported(`CREATE TABLE ${name} (LIKE ...)`);
        }
        if (!tables.has(name) || !s.if_not_exists) tables.set(name, columns);
      } else if (k === "IndexStmt") {
        const name = s.idxname as string | undefined;
        if (!name) throw unsupported("CREATE INDEX without a name");
        indexes.set(name, relname(s.relation));
      } else if (k === "AlterTableStmt") {
        const table = relname(s.relation);
        if (s.objtype !== "OBJECT_TABLE") {
          if (s.objtype === "OBJECT_INDEX") continue; // ALTER INDEX ... SET: no name changes
          throw unsupported(`ALTER ${String(s.objtype)} ${table}`);
        }
        for (const cmd of (s.cmds ?? []) as Node[]) {
          const c = body(cmd);
          const subtype = c.subtype as string;
          if (subtype === "AT_AddColumn") {
            const column = (body(c.def as Node).colname ?? "") as string;
            tables.get(table)?.add(column);
          } else if (subtype === "AT_DropColumn") {
            tables.get(table)?.delete(c.name as string);
          } else if (!NAME_NEUTRAL_ALTERS.has(subtype)) {
            throw unsupported(`ALTER TABLE ${table} ${subtype}`);
          }
        }
      } else if (k === "RenameStmt") {
        const to = s.newname as string;
        if (s.renameType === "OBJECT_TABLE") {
          const from = relname(s.relation);
          tables.set(to, tables.get(from) ?? new Set());
          tables.delete(from);
          for (const [index, table] of indexes) if (table === from) indexes.set(index, to);
        } else if (s.renameType === "OBJECT_COLUMN") {
          const columns = tables.get(relname(s.relation));
          if (columns?.delete(s.subname as string)) columns.add(to);
        } else if (s.renameType === "OBJECT_INDEX") {
          const from = relname(s.relation);
          const table = indexes.get(from);
          if (table !== undefined) indexes.set(to, table);
          indexes.delete(from);
        } else {
          throw unsupported(`ALTER ... RENAME (${String(s.renameType)})`);
        }
      } else if (k === "DropStmt") {
        const names = ((s.objects ?? []) as Node[]).map(dropName);
        if (s.removeType === "OBJECT_TABLE") {
          for (const name of names) {
            tables.delete(name);
            for (const [index, table] of indexes) if (table === name) indexes.delete(index);
          }
        } else if (s.removeType === "OBJECT_INDEX") {
          for (const name of names) indexes.delete(name);
        } else if (
          !["OBJECT_VIEW", "OBJECT_SEQUENCE", "OBJECT_FUNCTION", "OBJECT_TYPE"].includes(s.removeType as string)
        ) {
          throw unsupported(`DROP ${String(s.removeType)}`);
        }
      } else if (!NAME_NEUTRAL.has(k)) {
        throw unsupported("a statement");
      }
    }
  };
  for (const file of files) apply(file);
  return {
    tables: Object.fromEntries(
      [...tables].map(([t, cols]) => [t, [...cols].sort()]).sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
    indexes: [...indexes.keys()].sort(),
    mayExist: later.flatMap(createdIfNotExists).sort(),
  };
}

/** What a file creates only when it does not exist yet: it may exist before the file runs. */
function createdIfNotExists(file: MigrationFile): string[] {
  return atlasParsedStatements(file).flatMap(({ stmt }) => {
    const s = body(stmt);
    switch (kind(stmt)) {
      case "CreateStmt":
        return s.if_not_exists ? [`table ${relname(s.relation)}`] : [];
      case "IndexStmt":
        return s.if_not_exists && s.idxname ? [`index ${String(s.idxname)}`] : [];
      case "AlterTableStmt":
        return ((s.cmds ?? []) as Node[])
          .map(body)
          .filter((c) => c.subtype === "AT_AddColumn" && c.missing_ok)
          .map((c) => `column ${relname(s.relation)}.${String(body(c.def as Node).colname)}`);
      default:
        return [];
    }
  });
}

function relname(relation: unknown): string {
  return (relation as { relname: string }).relname;
}

/** The last name of a DROP's object: `a.b` is [String a, String b]. */
function dropName(object: Node): string {
  const items = (body(object).items ?? []) as Node[];
  const last = items[items.length - 1];
  return (last ? (body(last).sval as string) : "") ?? "";
}

/**
 * What the live schema has that the migrations do not build ("extra") and what it lacks
 * ("missing"), as "table t", "column t.c" and "index i"; an extra that a later file creates
 * `IF NOT EXISTS` is allowed. Columns of a missing or extra table are not listed again.
 */
export function schemaDifference(expected: FoldedSchema, live: SchemaNames): { missing: string[]; extra: string[] } {
  const names = (s: SchemaNames) => {
    const out = new Set<string>();
    for (const [table, columns] of Object.entries(s.tables)) {
      out.add(`table ${table}`);
      for (const c of columns) out.add(`column ${table}.${c}`);
    }
    for (const i of s.indexes) out.add(`index ${i}`);
    return out;
  };
  const want = names(expected);
  const have = names(live);
  const allowed = new Set(expected.mayExist);
  const outside = (set: Set<string>, other: Set<string>) =>
    [...set].filter((n) => {
      if (other.has(n)) return false;
      const column = /^column ([^.]+)\./.exec(n);
      return !(column && !other.has(`table ${column[1]}`));
    });
  return {
    missing: outside(want, have),
    extra: outside(have, want).filter((n) => !allowed.has(n)),
  };
}
