import {
  checkDestructive,
  findDestructiveStatements,
  loadSqlParser,
  MigrationSqlError,
} from "../../lib/destructiveGuard";
import { MigrationFile } from "../../lib/migrationDir";

const migration = (text: string, version = "20260701000000"): MigrationFile => ({
  name: `${version}_change.sql`,
  version,
  description: "change",
  text,
  bytes: Buffer.from(text),
});
const kinds = (text: string) => findDestructiveStatements(migration(text)).map((d) => d.kind);

beforeAll(() => loadSqlParser());

describe("destructive-change guard (PostgreSQL's own parser)", () => {
  it.each([
    ["DROP TABLE logs;", ["DROP TABLE"]],
    ["DROP TABLE IF EXISTS a, b CASCADE;", ["DROP TABLE"]],
    ["DROP SCHEMA old CASCADE;", ["DROP SCHEMA"]],
    ["TRUNCATE events;", ["TRUNCATE"]],
    ["ALTER TABLE software DROP COLUMN vitality;", ["ALTER TABLE ... DROP COLUMN"]],
    [
      "ALTER TABLE software ALTER COLUMN vitality TYPE integer USING vitality::int;",
      ["ALTER TABLE ... ALTER COLUMN ... TYPE"],
    ],
    [
      "ALTER TABLE software DROP COLUMN a, ALTER COLUMN b TYPE text;",
      ["ALTER TABLE ... DROP COLUMN", "ALTER TABLE ... ALTER COLUMN ... TYPE"],
    ],
    ["ALTER TABLE logs RENAME TO log_entries;", ["ALTER TABLE ... RENAME TO"]],
    ["ALTER TABLE logs RENAME COLUMN message TO text;", ["ALTER TABLE ... RENAME COLUMN"]],
    ["DELETE FROM events;", ["DELETE without WHERE"]],
  ])("flags %s", (sql, expected) => {
    expect(kinds(sql)).toEqual(expected);
  });

  it.each([
    ["DELETE FROM events WHERE created_at < now() - interval '1 year';"],
    ["-- DROP TABLE logs;\nCREATE INDEX IF NOT EXISTS idx ON logs (id);"],
    ["/* DROP TABLE logs; */ SELECT 1;"],
    ["INSERT INTO logs (id, message) VALUES ('1', 'DROP TABLE logs; TRUNCATE x');"],
    ["DO $$ BEGIN RAISE NOTICE 'DROP TABLE logs'; END $$;"],
    ["CREATE FUNCTION f() RETURNS void AS $body$ TRUNCATE t; $body$ LANGUAGE sql;"],
    ["-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY idx ON logs (id);"],
    ["DROP INDEX IF EXISTS idx_old;"],
    ["ALTER TABLE software ADD COLUMN x text, ALTER COLUMN y SET DEFAULT 1;"],
    ["ALTER INDEX idx_a RENAME TO idx_b;"],
  ])("does not flag %s", (sql) => {
    expect(kinds(sql)).toEqual([]);
  });

  it("names the file, the line of the statement and the statement", () => {
    const found = findDestructiveStatements(
      migration("-- tidy up\nCREATE TABLE t (a int);\n\n/* old */\n  DROP TABLE\n    logs;\n"),
    );
    expect(found).toEqual([
      {
        file: "20260701000000_change.sql",
        version: "20260701000000",
        line: 5,
        kind: "DROP TABLE",
        statement: "DROP TABLE logs",
      },
    ]);
  });

  it("counts lines in bytes, past non-ASCII text", () => {
    const found = findDestructiveStatements(migration("INSERT INTO t VALUES ('∅ è');\nTRUNCATE t;\n"));
    expect(found.map((d) => d.line)).toEqual([2]);
  });

  it("fails on pending destructive statements, naming each and the config to acknowledge them", () => {
    expect(() => checkDestructive([migration("CREATE TABLE a (x int);\nDROP TABLE b;")], [])).toThrow(
      "pending migrations drop or rewrite data:\n  20260701000000_change.sql:2: DROP TABLE: DROP TABLE b\n" +
        "If this is intended, acknowledge the version(s) in stack config: pulumi config set --path 'allowDestructiveMigrations[0]' 20260701000000",
    );
  });

  it("lets acknowledged versions through", () => {
    expect(checkDestructive([migration("DROP TABLE b;")], ["20260701000000"])).toHaveLength(1);
  });

  it("reports SQL that PostgreSQL cannot parse, with the file and line", () => {
    expect(() => findDestructiveStatements(migration("CREATE TABLE a (x int);\nCREATE TABLE (;"))).toThrow(
      MigrationSqlError,
    );
    expect(() => findDestructiveStatements(migration("CREATE TABLE a (x int);\nCREATE TABLE (;"))).toThrow(
      /^20260701000000_change.sql:2: PostgreSQL cannot parse this migration/,
    );
  });
});
