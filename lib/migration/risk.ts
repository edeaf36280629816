import type { MigrationFile } from "./dir";
import {
  type Acknowledgement,
  acknowledgeCommands,
  destructiveKinds,
  isAcknowledged,
  MigrationSqlError,
  type Node,
  plpgsqlBody,
  loadedParser,
  reviewedStatements,
  type ReviewedStatement,
} from "./guard";
import { squawkViolations } from "./squawk";

/**
 * What a pending statement does to a live system, in three classes, each acknowledged in its
 * own stack config key. The classifier reads the statements Atlas will send
 * (reviewedStatements) with PostgreSQL's parser; squawk's verdict is added (lib/migration/squawk.ts).
 */
export type Risk = "loses-data" | "breaks-old-pods" | "long-lock";

/**
 * expand: the migration runs before the rollout, while the old release serves; contract: after
 * the new pods are rolled out and ready, when no old pod is left to break.
 */
export type Phase = "expand" | "contract";

/** A stack's acknowledgements, one list per class (MigrationSpec holds them). */
export interface Acknowledged {
  readonly allowDestructive: readonly Acknowledgement[];
  readonly allowBreaking: readonly Acknowledgement[];
  readonly allowLocking: readonly Acknowledgement[];
}

export interface RiskClass {
  /** The stack config key that acknowledges it. */
  readonly key: string;
  readonly field: keyof Acknowledged;
  /** What the statements do, after "pending migrations ...". */
  readonly words: string;
}

export const RISK_CLASSES: Readonly<Record<Risk, RiskClass>> = {
  "loses-data": {
    key: "allowDestructiveMigrations",
    field: "allowDestructive",
    words: "drop or rewrite data, or run SQL that cannot be verified",
  },
  "breaks-old-pods": {
    key: "allowBreakingMigrations",
    field: "allowBreaking",
    words: "break the API pods still serving the old release during the rollout",
  },
  "long-lock": {
    key: "allowLockingMigrations",
    field: "allowLocking",
    words:
      "hold a long exclusive lock on a table that already exists, or rewrite it: the live API's queries on it wait until the statement ends",
  },
};
export const RISKS = Object.keys(RISK_CLASSES) as Risk[];

/** squawk's rules that decide a class (each is seen to fire in test/unit/riskGuard.test.ts): its finding on a
 * statement confirms ours of that class, or is added where we found none of it. */
export const SQUAWK_RULES: Readonly<Record<string, Risk>> = {
  "require-concurrent-index-creation": "long-lock",
  "require-concurrent-reindex": "long-lock",
  "changing-column-type": "long-lock",
  "adding-field-with-default": "long-lock",
  "constraint-missing-not-valid": "long-lock",
  "adding-foreign-key-constraint": "long-lock",
  "disallowed-unique-constraint": "long-lock",
  "adding-serial-primary-key-field": "long-lock",
  "adding-not-nullable-field": "long-lock",
  // Validates every column of the domain, in every table, under their locks.
  "ban-alter-domain-with-add-constraint": "long-lock",
  "adding-required-field": "breaks-old-pods",
  "renaming-column": "breaks-old-pods",
  "renaming-table": "breaks-old-pods",
  "ban-drop-table": "loses-data",
  "ban-drop-column": "loses-data",
  "ban-drop-database": "loses-data",
  "ban-truncate-cascade": "loses-data",
};

/**
 * squawk's rules that only confirm our finding and never add one: we read the same thing with
 * PostgreSQL's own rule, proven on the server (test/integration/lockRisk.test.ts). squawk's
 * adding-field-with-default calls any function default volatile (jsonb_build_object,
 * current_setting), which PostgreSQL 11+ evaluates once, without a rewrite.
 */
export const SQUAWK_CONFIRMS_ONLY: ReadonlySet<string> = new Set(["adding-field-with-default"]);

/** squawk's rules that decide nothing here, and why. */
export const SQUAWK_IGNORED: Readonly<Record<string, string>> = {
  "require-lock-timeout": "the migration session starts with lock_timeout (lib/migration/run.ts)",
  "require-statement-timeout": "the migration session starts with statement_timeout",
  "require-timeout-settings": "the migration session starts with both timeouts",
  "require-concurrent-index-deletion":
    "DROP INDEX holds its lock for a catalog change only, and lock_timeout bounds the wait",
  "ban-drop-not-null": "relaxes a constraint: nothing the old release does fails",
  "ban-create-domain-with-constraint": "a new domain is on no table yet",
  "require-enum-value-ordering": "style: where a new enum value sorts",
  "prefer-robust-stmts": "style: Atlas records each file's statements, a file is not re-run",
  "prefer-bigint-over-int": "style",
  "prefer-bigint-over-smallint": "style",
  "prefer-identity": "style",
  "prefer-text-field": "style",
  "prefer-timestamptz": "style",
  "ban-char-field": "style",
  "syntax-error": "squawk's own parser; PostgreSQL's parser (libpg_query) already accepted the statement",
};

/**
 * Shipped files of migrations/ the project has reviewed, per class, bound to their content as
 * a stack's entries are (an edit voids the review). Their long-lock statements are plain CREATE
 * INDEX on tables that exist only on a database baselined from the API's GORM AutoMigrate
 * (migrations/README.md: a fresh database creates those tables in the same run, where nothing
 * is flagged): the API releases' own AutoMigrate builds these indexes the same way at start-up,
 * while serving, on tables of a few thousand rows; idx_log_entity (IF NOT EXISTS) is the one
 * on a table that grows, and migrations/README.md says how to build it first, concurrently.
 */
export const PROJECT_REVIEWED: Readonly<Record<Risk, readonly Acknowledgement[]>> = {
  "loses-data": [],
  "breaks-old-pods": [],
  "long-lock": [
    { version: "20260410000000", digest: "687a500b3462e1ed" },
    { version: "20260508000000", digest: "5fc70ec863dd4efa" },
    { version: "20260525000000", digest: "ffafabcbf0350d20" },
    { version: "20260612000000", digest: "4f827648261ab5b0" },
  ],
};

/** Whether the project's own review (PROJECT_REVIEWED) covers the file for the class. */
export function isProjectReviewed(risk: Risk, file: MigrationFile): boolean {
  return isAcknowledged(file, PROJECT_REVIEWED[risk]);
}

/** Whether the phase needs an acknowledgement of the class: after the rollout no old pod is left to break. */
export function needsAcknowledgement(risk: Risk, phase: Phase): boolean {
  return !(risk === "breaks-old-pods" && phase === "contract");
}

export interface RiskFinding {
  readonly file: string;
  readonly version: string;
  /** 1-based line of the statement's first token. */
  readonly line: number;
  readonly risk: Risk;
  /** What it does, e.g. "CREATE INDEX without CONCURRENTLY". */
  readonly kind: string;
  /** The safe way, or what to do instead. */
  readonly advice: string;
  /** The statement, shortened for messages. */
  readonly statement: string;
  /** squawk's rules that flagged this statement for this class (empty: squawk did not see it). */
  readonly squawk: readonly string[];
}

interface Kind {
  readonly risk: Risk;
  readonly kind: string;
  readonly advice: string;
}

const LOSES_DATA =
  "make sure nothing needs the data any more (copy it first); a drop of what the old release reads belongs in a contract migration";
const RENAME =
  "add the new one next to the old, backfill it, switch the API to it, and drop the old one in a contract migration";
const DROP = "drop it in a contract migration, once the release that no longer uses it is rolled out";
const CONTRACT = "do it in a contract migration, once the new release is rolled out";
const CONCURRENTLY = "CREATE INDEX CONCURRENTLY, in a file of its own whose first line is `-- atlas:txmode none`";
const NOT_VALID =
  "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later migration file (in the same transaction it keeps the first lock)";
const USING_INDEX =
  "CREATE UNIQUE INDEX CONCURRENTLY (in a `-- atlas:txmode none` file), then ADD CONSTRAINT ... UNIQUE/PRIMARY KEY USING INDEX";
const NEW_COLUMN =
  "add a column of the new type, backfill it in batches, switch the API to it, and drop the old one in a contract migration";
const BACKFILL = "add the column without a default (or with a constant one), backfill it in batches, then SET DEFAULT";
const MAINTENANCE = "run it outside the deploy, in a maintenance window";

const breaks = (kind: string, advice: string): Kind => ({ risk: "breaks-old-pods", kind, advice });
const locks = (kind: string, advice: string): Kind => ({ risk: "long-lock", kind, advice });

/** Objects whose rename leaves the old release's queries and logins pointing at nothing. */
const harmlessRenames = new Set(["OBJECT_INDEX", "OBJECT_TRIGGER", "OBJECT_STATISTIC_EXT", "OBJECT_EVENT_TRIGGER"]);
/** Dropped objects the API may use (we cannot know which it does: all of them). */
const usedObjects = new Set([
  "OBJECT_TABLE",
  "OBJECT_VIEW",
  "OBJECT_MATVIEW",
  "OBJECT_FOREIGN_TABLE",
  "OBJECT_SCHEMA",
  "OBJECT_TYPE",
  "OBJECT_DOMAIN",
  "OBJECT_FUNCTION",
  "OBJECT_PROCEDURE",
  "OBJECT_ROUTINE",
  "OBJECT_AGGREGATE",
  "OBJECT_SEQUENCE",
  "OBJECT_EXTENSION",
  "OBJECT_POLICY",
]);
/** Functions whose value is fixed for the statement: a default of them needs no rewrite (PostgreSQL 11+). */
const stableDefaults = new Set([
  "now",
  "transaction_timestamp",
  "statement_timestamp",
  "current_setting",
  "to_json",
  "to_jsonb",
  "jsonb_build_object",
  "json_build_object",
  "jsonb_build_array",
  "json_build_array",
]);

const words = (objectType: unknown) =>
  String(objectType)
    .replace(/^OBJECT_/, "")
    .replace(/_/g, " ")
    .replace(/^MATVIEW$/, "MATERIALIZED VIEW")
    .replace(/^TABCONSTRAINT$/, "CONSTRAINT");

/** A RangeVar as a key: unqualified names are taken to be in public (the default search_path). */
function relationKey(rel: unknown): string | undefined {
  const r = rel as { schemaname?: string; relname?: string } | undefined;
  return r?.relname ? `${r.schemaname ?? "public"}.${r.relname}` : undefined;
}

/** The tables (and views) a statement works on, when it works on nothing else; undefined otherwise. */
function targets(type: string, node: Node): string[] | undefined {
  const keys = (rels: unknown[]): string[] | undefined => {
    const list = rels.map(relationKey);
    return list.length > 0 && list.every((k) => k !== undefined) ? (list as string[]) : undefined;
  };
  switch (type) {
    case "AlterTableStmt":
    case "IndexStmt":
    case "RefreshMatViewStmt":
    case "ClusterStmt":
    case "RuleStmt":
      return keys([node.relation]);
    case "ReindexStmt":
      return node.kind === "REINDEX_OBJECT_TABLE" ? keys([node.relation]) : undefined;
    case "RenameStmt":
      return node.relation ? keys([node.relation]) : undefined;
    case "LockStmt":
      return keys(((node.relations ?? []) as Node[]).map((r) => r.RangeVar));
    case "VacuumStmt":
      return keys(((node.rels ?? []) as Node[]).map((r) => (r.VacuumRelation as Node | undefined)?.relation));
    case "GrantStmt":
      return node.targtype === "ACL_TARGET_OBJECT" && node.objtype === "OBJECT_TABLE"
        ? keys(((node.objects ?? []) as Node[]).map((o) => o.RangeVar))
        : undefined;
    case "DropStmt":
      return ["OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW"].includes(String(node.removeType))
        ? keys(((node.objects ?? []) as Node[]).map((o) => qualifiedName(o)))
        : undefined;
    default:
      return undefined;
  }
}

function qualifiedName(list: Node): { schemaname?: string; relname?: string } | undefined {
  const names = (((list.List as Node | undefined)?.items ?? []) as Node[]).map(
    (i) => (i.String as { sval?: string } | undefined)?.sval,
  );
  if (names.length === 1) return { relname: names[0] };
  if (names.length === 2) return { schemaname: names[0], relname: names[1] };
  return undefined;
}

/**
 * What creating a relation adds to the run's new ones. `IF NOT EXISTS` creates nothing when
 * the table is there already, so it makes nothing new.
 */
function created(type: string, node: Node): string[] {
  if (node.if_not_exists === true) return [];
  switch (type) {
    case "CreateStmt":
      return [relationKey(node.relation)].filter((k): k is string => k !== undefined);
    case "CreateTableAsStmt":
      return [relationKey((node.into as Node | undefined)?.rel)].filter((k): k is string => k !== undefined);
    case "ViewStmt":
      return [relationKey(node.view)].filter((k): k is string => k !== undefined);
    default:
      return [];
  }
}

/** A default expression that needs a value per row: a call of anything but a known stable function. */
function volatileDefault(expr: unknown): boolean {
  if (Array.isArray(expr)) return expr.some(volatileDefault);
  if (typeof expr !== "object" || expr === null) return false;
  return Object.entries(expr as Node).some(([key, value]) => {
    if (key === "FuncCall") {
      const names = (((value as Node).funcname ?? []) as Node[]).map((n) => (n.String as { sval?: string })?.sval);
      if (!stableDefaults.has(String(names[names.length - 1]))) return true;
    }
    if (key === "SubLink") return true;
    return volatileDefault(value);
  });
}

function constraintsOf(column: Node): Node[] {
  return ((column.constraints ?? []) as Node[]).map((c) => (c.Constraint ?? {}) as Node);
}

/** breaks-old-pods and long-lock kinds of one ALTER TABLE command. */
function alterTableKinds(cmd: Node): Kind[] {
  const def = (cmd.def ?? {}) as Node;
  switch (cmd.subtype) {
    case "AT_DropColumn":
      return [breaks("ALTER TABLE ... DROP COLUMN", DROP)];
    case "AT_DropConstraint":
      return [breaks("ALTER TABLE ... DROP CONSTRAINT", DROP)];
    case "AT_ColumnDefault":
      return cmd.def === undefined
        ? [
            breaks(
              "ALTER COLUMN ... DROP DEFAULT",
              "drop the default in a contract migration, once the release that writes the column itself is rolled out",
            ),
          ]
        : [];
    case "AT_SetNotNull":
      return [
        breaks(
          "ALTER COLUMN ... SET NOT NULL",
          "switch the API to always write the column first; set NOT NULL in a contract migration",
        ),
        locks(
          "ALTER COLUMN ... SET NOT NULL (scans the table)",
          "ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later file, then SET NOT NULL (PostgreSQL skips the scan) and acknowledge it",
        ),
      ];
    case "AT_EnableRowSecurity":
    case "AT_ForceRowSecurity":
      return [
        breaks(
          `ALTER TABLE ... ${cmd.subtype === "AT_ForceRowSecurity" ? "FORCE" : "ENABLE"} ROW LEVEL SECURITY`,
          "create the policies the API's role needs first, and enable it in a contract migration",
        ),
      ];
    case "AT_AlterColumnType":
      return [locks("ALTER COLUMN ... TYPE (rewrites or scans the table)", NEW_COLUMN)];
    case "AT_SetTableSpace":
      return [locks("ALTER TABLE ... SET TABLESPACE", MAINTENANCE)];
    case "AT_SetLogged":
    case "AT_SetUnLogged":
      return [locks(`ALTER TABLE ... SET ${cmd.subtype === "AT_SetLogged" ? "LOGGED" : "UNLOGGED"}`, MAINTENANCE)];
    case "AT_SetAccessMethod":
      return [locks("ALTER TABLE ... SET ACCESS METHOD", MAINTENANCE)];
    case "AT_AddConstraint":
      return constraintKinds((def.Constraint ?? {}) as Node, "ADD CONSTRAINT");
    case "AT_AddColumn": {
      const column = (def.ColumnDef ?? {}) as Node;
      const constraints = constraintsOf(column);
      const type = (((column.typeName as Node | undefined)?.names ?? []) as Node[])
        .map((n) => (n.String as { sval?: string })?.sval)
        .pop();
      const kinds: Kind[] = [];
      const defaulted = constraints.find((c) => c.contype === "CONSTR_DEFAULT");
      if (defaulted && volatileDefault(defaulted.raw_expr)) {
        kinds.push(locks("ADD COLUMN with a volatile DEFAULT (rewrites the table)", BACKFILL));
      }
      if (type && /^(small|big)?serial[248]?$/.test(type)) {
        kinds.push(locks(`ADD COLUMN ${type} (rewrites the table)`, BACKFILL));
      }
      if (constraints.some((c) => c.contype === "CONSTR_IDENTITY")) {
        kinds.push(locks("ADD COLUMN ... GENERATED AS IDENTITY (rewrites the table)", BACKFILL));
      }
      if (constraints.some((c) => c.contype === "CONSTR_GENERATED")) {
        kinds.push(locks("ADD COLUMN ... GENERATED ALWAYS AS ... STORED (rewrites the table)", BACKFILL));
      }
      if (
        constraints.some((c) => c.contype === "CONSTR_NOTNULL") &&
        !defaulted &&
        !constraints.some((c) => c.contype === "CONSTR_IDENTITY")
      ) {
        kinds.push(
          breaks(
            "ADD COLUMN ... NOT NULL without DEFAULT",
            "add it nullable (or with a DEFAULT), switch the API to write it, and set NOT NULL in a contract migration",
          ),
        );
      }
      for (const c of constraints) kinds.push(...constraintKinds(c, "ADD COLUMN ..."));
      return kinds;
    }
    default:
      return [];
  }
}

/** long-lock kinds of a constraint added to an existing table. */
function constraintKinds(c: Node, where: string): Kind[] {
  switch (c.contype) {
    case "CONSTR_CHECK":
      return c.skip_validation ? [] : [locks(`${where} CHECK without NOT VALID (scans the table)`, NOT_VALID)];
    case "CONSTR_FOREIGN":
      return c.skip_validation ? [] : [locks(`${where} FOREIGN KEY without NOT VALID (scans the table)`, NOT_VALID)];
    case "CONSTR_UNIQUE":
    case "CONSTR_PRIMARY": {
      const what = c.contype === "CONSTR_UNIQUE" ? "UNIQUE" : "PRIMARY KEY";
      return c.indexname ? [] : [locks(`${where} ${what} without USING INDEX (builds an index)`, USING_INDEX)];
    }
    case "CONSTR_EXCLUSION":
      return [locks(`${where} EXCLUDE (builds an index)`, MAINTENANCE)];
    default:
      return [];
  }
}

const option = (list: unknown, name: string) =>
  ((list ?? []) as Node[]).some((o) => (o.DefElem as { defname?: string } | undefined)?.defname === name);

/** breaks-old-pods and long-lock kinds of one statement (loses-data is destructiveKinds'). */
export function liveKinds(stmt: Node, source = ""): Kind[] {
  const [type, body] = Object.entries(stmt)[0] ?? [];
  const node = (body ?? {}) as Node;
  const cascade = node.behavior === "DROP_CASCADE";
  switch (type) {
    case "RenameStmt":
      return harmlessRenames.has(String(node.renameType)) ? [] : [breaks(`RENAME ${words(node.renameType)}`, RENAME)];
    case "AlterEnumStmt":
      return node.oldVal !== undefined ? [breaks("ALTER TYPE ... RENAME VALUE", RENAME)] : [];
    case "AlterObjectSchemaStmt":
      return [breaks(`ALTER ${words(node.objectType)} ... SET SCHEMA`, RENAME)];
    case "DropStmt":
      return usedObjects.has(String(node.removeType)) || cascade
        ? [breaks(`DROP ${words(node.removeType)}${cascade ? " ... CASCADE" : ""}`, DROP)]
        : [];
    case "DropOwnedStmt":
      return [breaks("DROP OWNED", DROP)];
    case "DropdbStmt":
      return [breaks("DROP DATABASE", DROP)];
    case "AlterTableStmt":
      return ((node.cmds ?? []) as Node[]).flatMap((c) => alterTableKinds((c.AlterTableCmd ?? {}) as Node));
    case "RuleStmt": {
      const swallows =
        node.instead === true &&
        ["CMD_INSERT", "CMD_UPDATE", "CMD_DELETE"].includes(String(node.event)) &&
        ((node.actions ?? []) as unknown[]).length === 0;
      return swallows ? [breaks(`CREATE RULE ... ON ${String(node.event).slice(4)} DO INSTEAD NOTHING`, CONTRACT)] : [];
    }
    case "GrantStmt":
      return node.is_grant
        ? []
        : [breaks("REVOKE", "revoke in a contract migration, once no release needs the privilege")];
    case "IndexStmt":
      return node.concurrent ? [] : [locks("CREATE INDEX without CONCURRENTLY (blocks writes)", CONCURRENTLY)];
    case "ReindexStmt":
      return option(node.params, "concurrently")
        ? []
        : [locks("REINDEX without CONCURRENTLY", "REINDEX ... CONCURRENTLY, in a `-- atlas:txmode none` file")];
    case "RefreshMatViewStmt":
      return node.concurrent
        ? []
        : [
            locks(
              "REFRESH MATERIALIZED VIEW without CONCURRENTLY",
              "REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view)",
            ),
          ];
    case "LockStmt":
      // SHARE (5) and stronger block writes; the default is ACCESS EXCLUSIVE (8).
      return Number(node.mode) >= 5
        ? [locks("LOCK TABLE", "remove it: each statement takes the lock it needs, and lock_timeout bounds the wait")]
        : [];
    case "ClusterStmt":
      return [locks("CLUSTER (rewrites the table)", MAINTENANCE)];
    case "VacuumStmt":
      return option(node.options, "full") ? [locks("VACUUM FULL (rewrites the table)", MAINTENANCE)] : [];
    case "AlterTableMoveAllStmt":
      return [locks("ALTER TABLE ALL IN TABLESPACE ... SET TABLESPACE", MAINTENANCE)];
    case "DoStmt":
      // A PL/pgSQL block runs now: its static statements count as the migration's own.
      return plpgsqlBody(source).staticSql.flatMap((sql) => {
        try {
          return (loadedParser().parseSync(sql).stmts ?? []).flatMap((s) =>
            s.stmt ? liveKinds(s.stmt as Node, sql).map((k) => ({ ...k, kind: `DO block: ${k.kind}` })) : [],
          );
        } catch {
          return [];
        }
      });
    default:
      return [];
  }
}

/**
 * Every finding of every class in the files one phase runs, in order. A table created earlier
 * in these files (this run) is new: no rows, no traffic, no old pod using it, so statements
 * on it alone are neither long-lock nor breaks-old-pods. Requires `await loadSqlParser()` first.
 */
export function findRisks(pending: readonly MigrationFile[]): RiskFinding[] {
  const fresh = new Set<string>();
  return pending.flatMap((file) => {
    const statements = reviewedStatements(file);
    const squawked = squawkViolations(statements);
    return statements.flatMap((s, index) =>
      fileFindings(
        file,
        s,
        squawked.filter((v) => v.statement === index).map((v) => v.rule),
        fresh,
      ),
    );
  });
}

function fileFindings(file: MigrationFile, s: ReviewedStatement, rules: string[], fresh: Set<string>): RiskFinding[] {
  const [type, body] = Object.entries(s.stmt)[0] ?? [];
  const node = (body ?? {}) as Node;
  const onNew = targets(type, node)?.every((t) => fresh.has(t)) ?? false;
  const kinds: Kind[] = [
    ...destructiveKinds(s.stmt, s.source).map((kind) => ({ risk: "loses-data" as const, kind, advice: LOSES_DATA })),
    ...(onNew ? [] : liveKinds(s.stmt, s.source)),
  ];
  for (const key of created(type, node)) fresh.add(key);
  if (type === "RenameStmt" && onNew && node.renameType === "OBJECT_TABLE") {
    fresh.add(`${(node.relation as { schemaname?: string }).schemaname ?? "public"}.${String(node.newname)}`);
  }
  const own = new Map<Risk, string[]>();
  for (const rule of rules) {
    const risk = SQUAWK_RULES[rule];
    if (risk && !(onNew && risk !== "loses-data")) own.set(risk, [...(own.get(risk) ?? []), rule]);
  }
  const findings: RiskFinding[] = kinds.map((k) => ({
    file: file.name,
    version: file.version,
    line: s.line,
    risk: k.risk,
    kind: k.kind,
    advice: k.advice,
    statement: s.statement,
    squawk: own.get(k.risk) ?? [],
  }));
  // What squawk sees and our classifier does not: its own finding.
  for (const [risk, rulesOfRisk] of own) {
    const found = rulesOfRisk.filter((rule) => !SQUAWK_CONFIRMS_ONLY.has(rule));
    if (found.length === 0 || kinds.some((k) => k.risk === risk)) continue;
    findings.push({
      file: file.name,
      version: file.version,
      line: s.line,
      risk,
      kind: `squawk ${found.join(", ")}`,
      advice: `squawk's advice: ${found.map((rule) => `https://squawkhq.com/docs/${rule}`).join(", ")}`,
      statement: s.statement,
      squawk: found,
    });
  }
  return findings;
}

/**
 * Whether the finding is refused: its class needs an acknowledgement in this phase, and
 * neither the stack's key nor the project's review covers the file.
 */
export function isRefused(
  finding: RiskFinding,
  file: MigrationFile,
  acknowledged: Acknowledged,
  phase: Phase,
): boolean {
  return (
    needsAcknowledgement(finding.risk, phase) &&
    !isAcknowledged(file, acknowledged[RISK_CLASSES[finding.risk].field]) &&
    !isProjectReviewed(finding.risk, file)
  );
}

/**
 * Fails with every finding this phase does not accept, one section per class with its own
 * key and commands; returns every finding otherwise.
 */
export function checkRisks(pending: readonly MigrationFile[], acknowledged: Acknowledged, phase: Phase): RiskFinding[] {
  const found = findRisks(pending);
  refuseRisks(found, pending, acknowledged, phase);
  return found;
}

/** checkRisks on findings already made (the plan's), so the files are not classified twice. */
export function refuseRisks(
  found: readonly RiskFinding[],
  pending: readonly MigrationFile[],
  acknowledged: Acknowledged,
  phase: Phase,
): void {
  const byName = new Map(pending.map((f) => [f.name, f]));
  const sections: string[] = [];
  for (const risk of RISKS) {
    const { key, field, words } = RISK_CLASSES[risk];
    const refused = found.filter((d) => d.risk === risk && isRefused(d, byName.get(d.file)!, acknowledged, phase));
    if (refused.length === 0) continue;
    const list = acknowledged[field];
    const files = [...new Set(refused.map((d) => d.file))].map((name) => byName.get(name)!);
    const edited = files.filter((f) => list.some((a) => a.version === f.version));
    sections.push(
      `pending migrations ${words} (${phase} phase):\n` +
        refused.map((d) => `  ${d.file}:${d.line}: ${d.kind}: ${d.statement}\n    instead: ${d.advice}`).join("\n") +
        "\n" +
        (edited.length > 0
          ? `${edited.map((f) => f.name).join(", ")} changed since ${edited.length > 1 ? "they were" : "it was"} ` +
            `acknowledged in ${key} (an acknowledgement names the file's content): review the change, then replace the entry.\n`
          : "") +
        `If this is intended, acknowledge ${files.length > 1 ? "these files" : "this file"} as ${files.length > 1 ? "they are" : "it is"} now in stack config:\n` +
        acknowledgeCommands(key, files, list)
          .map((c) => `  ${c}`)
          .join("\n"),
    );
  }
  if (sections.length > 0) throw new MigrationSqlError(sections.join("\n\n"));
}
