/** Reads the catalog of schema `public` into a plain, sorted object, and states the schema the
 * API expects (shared/design/app.md §1.3/§1.4) as data in the same shape, so that a test can
 * `expect(await readSchema(url)).toEqual(expectedApiSchema)`. */
import { query } from "../../testbed/pg";

export type FkAction = "NO ACTION" | "RESTRICT" | "CASCADE" | "SET NULL" | "SET DEFAULT";

export interface ColumnShape {
  /** information_schema.columns.data_type, e.g. "text", "timestamp with time zone". */
  readonly type: string;
  readonly nullable: boolean;
  readonly default: string | null;
  /** The generation expression as PostgreSQL prints it, whitespace collapsed; null if none. */
  readonly generated: string | null;
}

export interface TableShape {
  readonly primaryKey: { readonly name: string; readonly columns: readonly string[] } | null;
  readonly columns: Readonly<Record<string, ColumnShape>>;
}

export interface IndexShape {
  readonly table: string;
  readonly unique: boolean;
  /** Access method: btree, gin, ... */
  readonly method: string;
  readonly columns: readonly string[];
  /** Only for partial indexes. */
  readonly where?: string;
}

export interface ForeignKeyShape {
  readonly table: string;
  readonly columns: readonly string[];
  readonly refTable: string;
  readonly refColumns: readonly string[];
  readonly onDelete: FkAction;
  readonly onUpdate: FkAction;
}

export interface SchemaShape {
  readonly tables: Readonly<Record<string, TableShape>>;
  /** Every index that does not back a primary key, by name. */
  readonly indexes: Readonly<Record<string, IndexShape>>;
  readonly foreignKeys: Readonly<Record<string, ForeignKeyShape>>;
  /** Constraints other than PRIMARY KEY and FOREIGN KEY, as "table.name (contype)". */
  readonly otherConstraints: readonly string[];
  /** Relations that are neither tables nor indexes (views, sequences, ...), as "name (relkind)". */
  readonly otherRelations: readonly string[];
  /** Column names in ordinal order, per table: only with readSchema(url, { columnOrder: true }). */
  readonly columnOrder?: Readonly<Record<string, readonly string[]>>;
}

const FK_ACTIONS: Record<string, FkAction> = {
  a: "NO ACTION",
  r: "RESTRICT",
  c: "CASCADE",
  n: "SET NULL",
  d: "SET DEFAULT",
};

function sortedRecord<V>(entries: Iterable<[string, V]>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = v;
  return out;
}

function unquote(identifier: string): string {
  const t = identifier.trim();
  return t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t;
}

/** Splits "a, "b", lower(c)" at top-level commas. */
function splitColumns(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (const ch of list) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === "(") depth++;
    if (!quoted && ch === ")") depth--;
    if (!quoted && depth === 0 && ch === ",") {
      parts.push(unquote(current));
      current = "";
    } else {
      current += ch;
    }
  }
  if (current.trim()) parts.push(unquote(current));
  return parts;
}

const INDEXDEF = /^CREATE (UNIQUE )?INDEX (\S+) ON (\S+) USING (\w+) \((.*)\)(?: WHERE (.*))?$/;

/** Parses a pg_indexes.indexdef line. */
export function parseIndexDef(indexdef: string): IndexShape {
  const m = INDEXDEF.exec(indexdef);
  if (!m) throw new Error(`unexpected index definition: ${indexdef}`);
  const table = unquote(m[3]!.replace(/^public\./, ""));
  const shape: IndexShape = {
    table,
    unique: m[1] !== undefined,
    method: m[4]!,
    columns: splitColumns(m[5]!),
  };
  return m[6] !== undefined ? { ...shape, where: m[6] } : shape;
}

interface ColumnRow extends Record<string, unknown> {
  table_name: string;
  column_name: string;
  ordinal_position: number;
  data_type: string;
  is_nullable: string;
  column_default: string | null;
  generation_expression: string | null;
}

/** The catalog of schema `public` of the database at `url`. */
export async function readSchema(url: string, options: { columnOrder?: boolean } = {}): Promise<SchemaShape> {
  const columns = await query<ColumnRow>(
    url,
    `SELECT c.table_name, c.column_name, c.ordinal_position, c.data_type, c.is_nullable,
            c.column_default, c.generation_expression
       FROM information_schema.columns c
       JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
      WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
      ORDER BY c.table_name, c.ordinal_position`,
  );
  const pks = await query<{ table_name: string; conname: string; columns: string[] }>(
    url,
    `SELECT rel.relname AS table_name, con.conname,
            array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                   ORDER BY k.n)::text[] AS columns
       FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
      WHERE con.connamespace = 'public'::regnamespace AND con.contype = 'p'`,
  );
  const indexes = await query<{ indexname: string; indexdef: string }>(
    url,
    `SELECT i.indexname, i.indexdef
       FROM pg_indexes i
      WHERE i.schemaname = 'public'
        AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                         WHERE con.connamespace = 'public'::regnamespace
                           AND con.contype = 'p' AND con.conname = i.indexname)`,
  );
  const fks = await query<{
    conname: string;
    table_name: string;
    ref_table: string;
    columns: string[];
    ref_columns: string[];
    confdeltype: string;
    confupdtype: string;
  }>(
    url,
    `SELECT con.conname, rel.relname AS table_name, ref.relname AS ref_table,
            array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                   ORDER BY k.n)::text[] AS columns,
            array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                   ORDER BY k.n)::text[] AS ref_columns,
            con.confdeltype::text AS confdeltype, con.confupdtype::text AS confupdtype
       FROM pg_constraint con
       JOIN pg_class rel ON rel.oid = con.conrelid
       JOIN pg_class ref ON ref.oid = con.confrelid
      WHERE con.connamespace = 'public'::regnamespace AND con.contype = 'f'`,
  );
  // PostgreSQL 18 catalogs every NOT NULL as a constraint (contype 'n'); `nullable` of
  // each column already says the same, on every major.
  const others = await query<{ item: string }>(
    url,
    `SELECT coalesce(rel.relname, '-') || '.' || con.conname || ' (' || con.contype::text || ')' AS item
       FROM pg_constraint con LEFT JOIN pg_class rel ON rel.oid = con.conrelid
      WHERE con.connamespace = 'public'::regnamespace AND con.contype NOT IN ('p', 'f', 'n')`,
  );
  const relations = await query<{ item: string }>(
    url,
    `SELECT relname || ' (' || relkind::text || ')' AS item FROM pg_class
      WHERE relnamespace = 'public'::regnamespace AND relkind NOT IN ('r', 'i')`,
  );

  const byTable = new Map<string, ColumnRow[]>();
  for (const row of columns) {
    const list = byTable.get(row.table_name) ?? [];
    list.push(row);
    byTable.set(row.table_name, list);
  }
  const pkByTable = new Map(pks.map((p) => [p.table_name, { name: p.conname, columns: p.columns }]));

  const tables = sortedRecord<TableShape>(
    [...byTable].map(([table, rows]) => [
      table,
      {
        primaryKey: pkByTable.get(table) ?? null,
        columns: sortedRecord<ColumnShape>(
          rows.map((r) => [
            r.column_name,
            {
              type: r.data_type,
              nullable: r.is_nullable === "YES",
              default: r.column_default,
              generated: r.generation_expression ? r.generation_expression.replace(/\s+/g, " ").trim() : null,
            },
          ]),
        ),
      },
    ]),
  );

  const shape: SchemaShape = {
    tables,
    indexes: sortedRecord(indexes.map((i) => [i.indexname, parseIndexDef(i.indexdef)])),
    foreignKeys: sortedRecord(
      fks.map((f) => [
        f.conname,
        {
          table: f.table_name,
          columns: f.columns,
          refTable: f.ref_table,
          refColumns: f.ref_columns,
          onDelete: FK_ACTIONS[f.confdeltype] ?? (f.confdeltype as FkAction),
          onUpdate: FK_ACTIONS[f.confupdtype] ?? (f.confupdtype as FkAction),
        },
      ]),
    ),
    otherConstraints: others.map((o) => o.item).sort(),
    otherRelations: relations.map((r) => r.item).sort(),
  };
  if (!options.columnOrder) return shape;
  return {
    ...shape,
    columnOrder: sortedRecord([...byTable].map(([t, rows]) => [t, rows.map((r) => r.column_name)])),
  };
}

// ---------------------------------------------------------------------------------------------
// The API's schema at v1.4.0 / main, from shared/design/app.md §1.3 and §1.4. Data only.

const TEXT = "text";
const TSTZ = "timestamp with time zone";
const BOOL = "boolean";
const JSONB = "jsonb";

/** Nullable, no default: what GORM makes of every field without tags. */
const col = (type: string): ColumnShape => ({ type, nullable: true, default: null, generated: null });
const notNull = (type: string): ColumnShape => ({ type, nullable: false, default: null, generated: null });
/** `*bool` with `default:true;not null`. */
const flagTrue: ColumnShape = { type: BOOL, nullable: false, default: "true", generated: null };
/** The text primary key (NOT NULL because it is the PK). */
const id = notNull(TEXT);
const pk = (table: string) => ({ name: `${table}_pkey`, columns: ["id"] });
const timestamps = { created_at: col(TSTZ), updated_at: col(TSTZ) };

/** logs.entity, as PostgreSQL prints the expression
 * CASE WHEN entity_id IS NULL THEN NULL ELSE ('/' || entity_type || '/' || entity_id) END. */
export const LOGS_ENTITY_EXPRESSION =
  "CASE WHEN (entity_id IS NULL) THEN NULL::text ELSE ((('/'::text || entity_type) || '/'::text) || entity_id) END";

const btree = (table: string, ...columns: string[]): IndexShape => ({ table, unique: false, method: "btree", columns });
const unique = (table: string, ...columns: string[]): IndexShape => ({ table, unique: true, method: "btree", columns });
const gin = (table: string, column: string): IndexShape => ({ table, unique: false, method: "gin", columns: [column] });

export const expectedApiSchema: SchemaShape = {
  tables: {
    catalog_sources: {
      primaryKey: pk("catalog_sources"),
      columns: { id, driver: col(TEXT), url: notNull(TEXT), args: col(TEXT), catalog_id: notNull(TEXT), ...timestamps },
    },
    catalogs: {
      primaryKey: pk("catalogs"),
      columns: {
        id,
        name: notNull(TEXT),
        alternative_id: col(TEXT),
        active: flagTrue,
        publishers_namespace: col(TEXT),
        scopes: col(TEXT),
        analysis: col(JSONB),
        ...timestamps,
      },
    },
    events: {
      primaryKey: pk("events"),
      columns: {
        id,
        type: col(TEXT),
        entity_type: col(TEXT),
        entity_id: col(TEXT),
        ...timestamps,
        deleted_at: col(TSTZ),
      },
    },
    logs: {
      primaryKey: pk("logs"),
      columns: {
        id,
        message: notNull(TEXT),
        ...timestamps,
        deleted_at: col(TSTZ),
        entity_id: col(TEXT),
        entity_type: col(TEXT),
        entity: { type: TEXT, nullable: true, default: null, generated: LOGS_ENTITY_EXPRESSION },
      },
    },
    publishers: {
      primaryKey: pk("publishers"),
      columns: {
        id,
        catalog_id: col(TEXT),
        email: col(TEXT),
        description: notNull(TEXT),
        active: flagTrue,
        alternative_id: col(TEXT),
        ...timestamps,
      },
    },
    publishers_code_hosting: {
      primaryKey: pk("publishers_code_hosting"),
      columns: { id, url: notNull(TEXT), group: flagTrue, publisher_id: col(TEXT), ...timestamps },
    },
    software: {
      primaryKey: pk("software"),
      columns: {
        id,
        catalog_id: col(TEXT),
        software_url_id: notNull(TEXT),
        publiccode_yml: col(TEXT),
        active: flagTrue,
        vitality: col(TEXT),
        analysis: col(JSONB),
        ...timestamps,
      },
    },
    software_urls: {
      primaryKey: pk("software_urls"),
      columns: { id, url: col(TEXT), software_id: notNull(TEXT), ...timestamps },
    },
    webhooks: {
      primaryKey: pk("webhooks"),
      columns: { id, url: col(TEXT), secret: col(TEXT), ...timestamps, entity_id: col(TEXT), entity_type: col(TEXT) },
    },
  },
  indexes: {
    idx_catalog_sources_catalog_id: btree("catalog_sources", "catalog_id"),
    idx_catalog_sources_created_at: btree("catalog_sources", "created_at"),
    idx_catalog_sources_driver: btree("catalog_sources", "driver"),
    idx_catalogs_alternative_id: unique("catalogs", "alternative_id"),
    idx_catalogs_analysis_gin: gin("catalogs", "analysis"),
    idx_catalogs_created_at: btree("catalogs", "created_at"),
    idx_events_deleted_at: btree("events", "deleted_at"),
    idx_log_entity: btree("logs", "entity_id", "entity_type"),
    idx_logs_created_at: btree("logs", "created_at"),
    idx_logs_deleted_at: btree("logs", "deleted_at"),
    idx_publishers_alternative_id: unique("publishers", "alternative_id"),
    idx_publishers_catalog_id: btree("publishers", "catalog_id"),
    idx_publishers_code_hosting_created_at: btree("publishers_code_hosting", "created_at"),
    idx_publishers_code_hosting_publisher_id: btree("publishers_code_hosting", "publisher_id"),
    idx_publishers_code_hosting_url: unique("publishers_code_hosting", "url"),
    idx_publishers_created_at: btree("publishers", "created_at"),
    idx_publishers_description: unique("publishers", "description"),
    idx_software_analysis_gin: gin("software", "analysis"),
    idx_software_catalog_id: btree("software", "catalog_id"),
    idx_software_created_at: btree("software", "created_at"),
    idx_software_software_url_id: unique("software", "software_url_id"),
    idx_software_urls_created_at: btree("software_urls", "created_at"),
    idx_software_urls_software_id: btree("software_urls", "software_id"),
    idx_software_urls_url: unique("software_urls", "url"),
    idx_webhook_url: unique("webhooks", "url", "entity_id", "entity_type"),
    idx_webhooks_created_at: btree("webhooks", "created_at"),
  },
  foreignKeys: {
    fk_catalogs_sources: {
      table: "catalog_sources",
      columns: ["catalog_id"],
      refTable: "catalogs",
      refColumns: ["id"],
      onDelete: "CASCADE",
      onUpdate: "CASCADE",
    },
    fk_publishers_code_hosting: {
      table: "publishers_code_hosting",
      columns: ["publisher_id"],
      refTable: "publishers",
      refColumns: ["id"],
      onDelete: "CASCADE",
      onUpdate: "CASCADE",
    },
    fk_software_aliases: {
      table: "software_urls",
      columns: ["software_id"],
      refTable: "software",
      refColumns: ["id"],
      onDelete: "NO ACTION",
      onUpdate: "NO ACTION",
    },
    fk_software_url: {
      table: "software_urls",
      columns: ["software_id"],
      refTable: "software",
      refColumns: ["id"],
      onDelete: "NO ACTION",
      onUpdate: "NO ACTION",
    },
  },
  otherConstraints: [],
  otherRelations: [],
};
