import { type Node, plpgsqlBody, loadedParser } from "./guard";

/**
 * What one parsed statement does to the live system beyond losing data (that is
 * destructiveKinds' in guard.ts): whether it breaks the API pods still serving the old release,
 * or holds a long lock on (or rewrites) the table it works on; and which relations it works on
 * or creates, for lib/migration/risk.ts's rule that a table created in the same run is new.
 */
export type LiveRisk = "breaks-old-pods" | "long-lock";

export interface Kind {
  readonly risk: LiveRisk;
  readonly kind: string;
  readonly advice: string;
}

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
export function relationKey(rel: unknown): string | undefined {
  const r = rel as { schemaname?: string; relname?: string } | undefined;
  return r?.relname ? `${r.schemaname ?? "public"}.${r.relname}` : undefined;
}

/** The tables (and views) a statement works on, when it works on nothing else; undefined otherwise. */
export function targets(type: string, node: Node): string[] | undefined {
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
export function created(type: string, node: Node): string[] {
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
