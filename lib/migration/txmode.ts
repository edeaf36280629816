import { createHash } from "crypto";
import { atlasStatements, AtlasLexError } from "./atlasStatements";
import type { MigrationFile } from "./dir";

/**
 * Files Atlas runs outside a transaction (`-- atlas:txmode none`), read the way Atlas reads
 * them, and the rules that make them safe to fail and to retry:
 *
 * - The directive counts only in the file's header: the comment lines (`--` or `#` at the
 *   very start of a line) at the top of the file, separated from the statements by an empty
 *   line (sql/migrate LocalFile.Directive). Anywhere else Atlas ignores it and runs the file
 *   in the Job's transaction, where PostgreSQL refuses `CREATE INDEX CONCURRENTLY`. Atlas
 *   1.2.3 also takes a line of spaces or tabs as the empty line, 0.13.1 does not: a header
 *   the two read differently is refused.
 * - Atlas records a file outside a transaction statement by statement and resumes a failed
 *   one at the failed statement, keeping the total it recorded first. So such a file holds
 *   exactly one statement: a failure never leaves part of the file applied, and its fix
 *   (replace the statement) keeps the statement count Atlas recorded.
 * - A failed `CREATE INDEX CONCURRENTLY x` leaves an INVALID index x behind: `IF NOT EXISTS`
 *   would then skip the build on the retry and record the file as applied, so it is refused.
 */

export type TxMode = "file" | "none";
export type AtlasRelease = "0.13.1" | "1.2.3";
/** The releases the Job runs: the test bed's binary and the production image's. */
export const ATLAS_RELEASES: readonly AtlasRelease[] = ["0.13.1", "1.2.3"];

/** The mode the Job's `--tx-mode` gives a file without a directive (lib/migration/run.ts TX_MODE). */
const DEFAULT_MODE: TxMode = "file";

export interface TxModeReading {
  readonly mode: TxMode;
  /** 1-based line of the directive that set the mode, when one did. */
  readonly line?: number;
}

/** Go's strings.TrimSpace: Unicode white space (unicode.IsSpace), not the BOM that String.trim() also takes. */
const GO_SPACE = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const goTrimSpace = (s: string) => s.replace(new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, "g"), "");

/** sql/migrate's reDirective, per release (0.13.1 takes printable ASCII arguments, 1.2.3 any). */
const DIRECTIVE: Record<AtlasRelease, RegExp> = {
  "0.13.1": /^([ -~]*)atlas:(\w+)(?: +([ -~]*))*/,
  "1.2.3": /^([ -~]*)atlas:(\w+)(?: +([^\n]+))*/,
};

/** The header comment lines (trimmed) that `release` reads directives from; empty when it reads none. */
export function headerComments(text: string, release: AtlasRelease): string[] {
  const comments: string[] = [];
  let content = text;
  while (content.startsWith("#") || content.startsWith("--")) {
    const nl = content.indexOf("\n");
    if (nl < 0) {
      comments.push(content);
      break;
    }
    comments.push(goTrimSpace(content.slice(0, nl)));
    content = content.slice(nl + 1);
  }
  if (release === "0.13.1") return content.startsWith("\n") ? comments : [];
  return content.replace(/^[ \t]+/, "").startsWith("\n") || content === "" ? comments : [];
}

/** The values of the `txmode` directives `release` reads in the file (LocalFile.Directive), with their lines. */
export function txmodeDirectives(text: string, release: AtlasRelease): Array<{ value: string; line: number }> {
  return headerComments(text, release).flatMap((comment, i) => {
    const m = DIRECTIVE[release].exec(comment);
    return m && m[2] === "txmode" ? [{ value: m[3] ?? "", line: i + 1 }] : [];
  });
}

export class TxModeError extends Error {}

/** Go's %q of a string list, as Atlas prints the values it found. */
const goQuoteList = (values: string[]) => `[${values.map((v) => JSON.stringify(v)).join(" ")}]`;

/**
 * How Atlas runs the file: in the Job's transaction, or outside one. Throws TxModeError, naming
 * the file and line, where Atlas would stop on the directive or the two releases disagree.
 */
export function fileTxMode(file: Pick<MigrationFile, "name" | "text">): TxModeReading {
  const [older, newer] = ATLAS_RELEASES.map((r) => txmodeDirectives(file.text, r));
  if (JSON.stringify(older) !== JSON.stringify(newer)) {
    const line = (newer[0] ?? older[0]).line;
    const commentsOnly = headerComments(file.text, "0.13.1").length === 0 && !/\n[ \t]+\n/.test(file.text);
    throw new TxModeError(
      `${file.name}:${line}: Atlas 0.13.1 (the test bed's) and 1.2.3 (the production image's) read this file's ` +
        "`atlas:txmode` directive differently: " +
        (commentsOnly
          ? "1.2.3 reads the comments of a file that holds nothing else, 0.13.1 does not; remove the directive"
          : "1.2.3 accepts a line of spaces or tabs as the empty line after the header comments, 0.13.1 only a " +
            "truly empty one; leave the line after the header comments empty"),
    );
  }
  const found = newer;
  const at = (line: number) => `${file.name}:${line}: Atlas stops on this file: `;
  if (found.length === 0) return { mode: DEFAULT_MODE };
  if (found.length > 1) {
    throw new TxModeError(
      `${at(found[1].line)}multiple txmode values found in file ${JSON.stringify(file.name)}: ` +
        `${goQuoteList(found.map((d) => d.value))}; keep one \`-- atlas:txmode none\` line`,
    );
  }
  const { value, line } = found[0];
  if (value === "none" || value === "file") return { mode: value, line };
  throw new TxModeError(
    value === "all"
      ? `${at(line)}txmode "all" is not allowed in a file directive; use \`-- atlas:txmode none\` or no directive`
      : `${at(line)}unknown txmode ${JSON.stringify(value)} found in file directive ${JSON.stringify(file.name)}; ` +
          "write `-- atlas:txmode none` (nothing after it on the line)",
  );
}

/** How the plan marks a file Atlas runs outside a transaction. */
export const OUTSIDE_TRANSACTION = "runs outside a transaction: if it fails, what it did stays applied";

/** For the plan: true when Atlas runs the file outside a transaction (false when its directive is refused). */
export function runsOutsideTransaction(file: MigrationFile): boolean {
  try {
    return fileTxMode(file).mode === "none";
  } catch (err) {
    if (err instanceof TxModeError) return false;
    throw err;
  }
}

type Node = Record<string, unknown>;

/** `CONCURRENTLY` in a REINDEX option list: bare, or with a value PostgreSQL reads as true. */
function reindexConcurrently(params: unknown): boolean {
  for (const item of (params ?? []) as Node[]) {
    const def = item.DefElem as { defname?: string; arg?: Node } | undefined;
    if (def?.defname !== "concurrently") continue;
    if (def.arg === undefined) return true;
    const sval = (def.arg.String as { sval?: string } | undefined)?.sval;
    if (sval !== undefined) return !["false", "off", "no", "0"].includes(sval.toLowerCase());
    return (def.arg.Integer as { ival?: number } | undefined)?.ival !== undefined;
  }
  return false;
}

/**
 * What PostgreSQL refuses inside a transaction block ("cannot run inside a transaction
 * block"), as the words a message names it by; undefined for anything else. REFRESH
 * MATERIALIZED VIEW CONCURRENTLY is not one: it runs in a transaction.
 */
export function outsideTransactionKind(stmt: Node): string | undefined {
  const [type, body] = Object.entries(stmt)[0] ?? [];
  const node = (body ?? {}) as Node;
  switch (type) {
    case "IndexStmt":
      return node.concurrent ? `CREATE ${node.unique ? "UNIQUE " : ""}INDEX CONCURRENTLY` : undefined;
    case "DropStmt":
      return node.concurrent ? "DROP INDEX CONCURRENTLY" : undefined;
    case "ReindexStmt": {
      if (reindexConcurrently(node.params)) return "REINDEX ... CONCURRENTLY";
      const kind = String(node.kind);
      return ["REINDEX_OBJECT_SCHEMA", "REINDEX_OBJECT_SYSTEM", "REINDEX_OBJECT_DATABASE"].includes(kind)
        ? `REINDEX ${kind.replace("REINDEX_OBJECT_", "")}`
        : undefined;
    }
    case "VacuumStmt":
      return node.is_vacuumcmd ? "VACUUM" : undefined;
    case "ClusterStmt":
      return node.relation === undefined ? "CLUSTER without a table" : undefined;
    case "AlterTableStmt": {
      const cmds = ((node.cmds ?? []) as Node[]).map((c) => (c.AlterTableCmd ?? {}) as Node);
      const detach = cmds.some(
        (c) => c.subtype === "AT_DetachPartition" && ((c.def as Node)?.PartitionCmd as Node)?.concurrent,
      );
      return detach ? "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY" : undefined;
    }
    case "CreatedbStmt":
      return "CREATE DATABASE";
    case "DropdbStmt":
      return "DROP DATABASE";
    case "CreateTableSpaceStmt":
      return "CREATE TABLESPACE";
    case "DropTableSpaceStmt":
      return "DROP TABLESPACE";
    case "AlterSystemStmt":
      return "ALTER SYSTEM";
    default:
      return undefined;
  }
}

/** A statement as the guard has it: parsed, with its byte offset in the file. */
export interface PlacedStatement {
  readonly stmt: Node;
  readonly start: number;
}

export const TXMODE_DOCS = "docs/migrations.md, Building an index without blocking writes";

/**
 * Why Atlas and PostgreSQL would fail this file, or leave it unsafe to retry, because of how
 * it runs with respect to transactions; undefined when it is fine. `stmts` are the statements
 * Atlas sends (guard.ts atlasParsedStatements).
 */
export function txModeRefusal(file: MigrationFile, stmts: readonly PlacedStatement[]): string | undefined {
  let reading: TxModeReading;
  try {
    reading = fileTxMode(file);
  } catch (err) {
    if (err instanceof TxModeError) return err.message;
    throw err;
  }
  const where = (s: PlacedStatement) => `${file.name}:${lineAt(file.bytes, s.start)}`;
  if (reading.mode === "file") {
    for (const s of stmts) {
      const kind = outsideTransactionKind(s.stmt);
      if (kind === undefined) continue;
      return (
        `${where(s)}: ${kind} cannot run inside a transaction block, and Atlas runs this file in one (the Job's ` +
        "--tx-mode file), so PostgreSQL would refuse it at run time: make `-- atlas:txmode none` the file's first " +
        `line, followed by an empty line, and keep this statement alone in its file (${TXMODE_DOCS})` +
        (reading.line === undefined ? misplacedNote(file) : `; line ${reading.line} sets \`-- atlas:txmode file\``)
      );
    }
    return undefined;
  }
  const directive = `\`-- atlas:txmode none\`, line ${reading.line}`;
  if (stmts.length > 1) {
    return (
      `${where(stmts[1])}: this file runs outside a transaction (${directive}) and holds ${stmts.length} statements: ` +
      "Atlas records such a file statement by statement and resumes a failed one at the failed statement, so the " +
      "statements before it stay applied and a fix could not change them; keep one statement per file that runs " +
      `outside a transaction and move the others into files of their own (npm run migrations:new) (${TXMODE_DOCS})`
    );
  }
  for (const s of stmts) {
    const index = (s.stmt.IndexStmt ?? {}) as Node;
    if (index.concurrent && index.if_not_exists) {
      return (
        `${where(s)}: CREATE INDEX CONCURRENTLY IF NOT EXISTS: a failed concurrent build leaves an INVALID index of ` +
        "that name behind, so on the retry IF NOT EXISTS would skip the build and Atlas would record the file as " +
        `applied with an index PostgreSQL never uses; remove IF NOT EXISTS (${TXMODE_DOCS})`
      );
    }
  }
  return undefined;
}

/** A note on a `atlas:txmode` line that Atlas does not read where it is. */
function misplacedNote(file: MigrationFile): string {
  const lines = file.text.split("\n");
  const line = lines.findIndex((l) => /atlas:txmode/.test(l));
  if (line < 0) return "";
  return (
    `; line ${line + 1} has an atlas:txmode directive that Atlas does not read there: it reads directives only ` +
    "from the comment lines at the very top of the file, and only when an empty line follows them"
  );
}

/** The fields of an atlas_schema_revisions row a retry depends on (plan.ts Revision). */
export interface RecordedRevision {
  readonly version: string;
  readonly description: string;
  readonly applied: number;
  readonly total: number;
  readonly error?: string | null;
  /** `h1:` + base64 of the running sha256 of statements 1..i, for each applied statement i. */
  readonly partialHashes?: readonly string[] | null;
}

/** What a retry of a failed revision does, or why Atlas would refuse it. */
export type Resume =
  | { readonly ok: true; readonly note: string; readonly statement: number }
  | { readonly ok: false; readonly problem: string };

/**
 * The retry of a revision Atlas recorded as partially applied (applied < total): Atlas runs
 * the file again from statement applied+1, after checking that statements 1..applied hash as
 * they did (their running sha256, `partial_hashes`), and keeps the total it recorded first.
 * Both rules are checked here, so the plan says what will happen or why Atlas would stop.
 */
export function resumeOf(file: MigrationFile, revision: RecordedRevision): Resume {
  const failed =
    `migration ${revision.version} (${revision.description}) failed in an earlier run after ` +
    `${revision.applied} of ${revision.total} statement(s)` +
    (revision.error ? `: ${revision.error}` : "");
  let stmts: ReturnType<typeof atlasStatements>;
  try {
    stmts = atlasStatements(file.bytes);
  } catch (err) {
    if (!(err instanceof AtlasLexError)) throw err;
    return { ok: false, problem: `${failed}; Atlas cannot split ${file.name} into statements now (${err.message})` };
  }
  const hashes = (revision.partialHashes ?? []).map((h) => h.replace(/^h1:/, ""));
  const running = createHash("sha256");
  for (let i = 0; i < revision.applied; i++) {
    if (i < stmts.length) running.update(stmts[i].text);
    if (i >= stmts.length || running.copy().digest("base64") !== hashes[i]) {
      return {
        ok: false,
        problem:
          `${failed}; statement ${i + 1} of ${file.name} changed since Atlas applied it, so Atlas would stop with ` +
          `"history changed": restore statements 1-${revision.applied} as they were applied and change only what follows`,
      };
    }
  }
  if (stmts.length !== revision.total) {
    return {
      ok: false,
      problem:
        `${failed}; ${file.name} now holds ${stmts.length} statement(s), but Atlas keeps the total it recorded ` +
        `(${revision.total}), so it would treat the file as partially applied on every later run: keep ` +
        `${revision.total} statement(s), e.g. replace a failed CREATE INDEX CONCURRENTLY x by ` +
        `DROP INDEX CONCURRENTLY IF EXISTS x and build the index in a new file (${TXMODE_DOCS})`,
    };
  }
  const next = stmts[revision.applied];
  const outside = runsOutsideTransaction(file);
  const text = next.text.replace(/\s+/g, " ");
  return {
    ok: true,
    statement: revision.applied + 1,
    note:
      `retry: ${failed}. ` +
      (outside ? "It runs outside a transaction, so what it applied stays applied; " : "") +
      `Atlas resumes it at statement ${revision.applied + 1} (line ${lineAt(file.bytes, next.offset)}): ` +
      (text.length > 100 ? `${text.slice(0, 97)}...` : text),
  };
}

/** An index in the database that PostgreSQL does not use: left by a failed concurrent build. */
export interface InvalidIndex {
  readonly schema: string;
  readonly name: string;
}

/**
 * Pending `CREATE INDEX CONCURRENTLY x` builds where the database has an INVALID index x (a
 * failed build's leftover) that no earlier pending statement drops: the build would fail with
 * `relation "x" already exists` on every retry. `files` in the order Atlas runs them;
 * `schema` is where an unqualified name lives (the URL's search_path, else public).
 */
export function leftoverIndexRefusals(
  files: ReadonlyArray<{ readonly file: MigrationFile; readonly stmts: readonly PlacedStatement[] }>,
  invalid: readonly InvalidIndex[],
  schema: string,
): string[] {
  const left = new Set(invalid.map((i) => `${i.schema}.${i.name}`));
  const refusals: string[] = [];
  for (const { file, stmts } of files) {
    for (const s of stmts) {
      const drop = (s.stmt.DropStmt ?? {}) as Node;
      if (drop.removeType === "OBJECT_INDEX") {
        for (const item of (drop.objects ?? []) as Node[]) {
          const names = (((item.List as Node)?.items ?? []) as Node[]).map((n) => (n.String as Node)?.sval as string);
          left.delete(names.length > 1 ? names.join(".") : `${schema}.${names[0]}`);
        }
      }
      const index = (s.stmt.IndexStmt ?? {}) as Node;
      if (!index.concurrent || typeof index.idxname !== "string") continue;
      const home = ((index.relation as Node | undefined)?.schemaname as string | undefined) ?? schema;
      if (!left.has(`${home}.${index.idxname}`)) continue;
      const name = JSON.stringify(index.idxname);
      refusals.push(
        `${file.name}:${lineAt(file.bytes, s.start)}: the database has an INVALID index ${name} in schema ${home} ` +
          `(left by a failed concurrent build), so this build would fail with: relation ${name} already exists. ` +
          "Fix the cause of the failure; then, if this is the file that failed, replace its statement by " +
          `DROP INDEX CONCURRENTLY IF EXISTS ${index.idxname}; and build the index in a new file after it, otherwise ` +
          "put that DROP in a new file before it (npm run migrations:new, then npm run migrations:hash). Atlas resumes " +
          `a failed file at its statement, so the next run drops the leftover, then builds the index (${TXMODE_DOCS})`,
      );
    }
  }
  return refusals;
}

function lineAt(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
  return line;
}
