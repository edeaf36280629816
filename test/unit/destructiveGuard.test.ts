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
    ["DROP TABLE IF EXISTS a, b CASCADE;", ["DROP TABLE ... CASCADE"]],
    ["DROP SCHEMA old CASCADE;", ["DROP SCHEMA ... CASCADE"]],
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
    ["UPDATE software SET active = false;", ["UPDATE without WHERE"]],
    ["WITH x AS (SELECT 1) UPDATE software SET active = false;", ["UPDATE without WHERE"]],
    ["DROP TYPE mood;", ["DROP TYPE"]],
    ["DROP DOMAIN IF EXISTS email;", ["DROP DOMAIN"]],
    ["DROP TYPE mood CASCADE;", ["DROP TYPE ... CASCADE"]],
    ["TRUNCATE publishers CASCADE;", ["TRUNCATE ... CASCADE"]],
    ["DROP INDEX idx_software_url CASCADE;", ["DROP INDEX ... CASCADE"]],
    ["DROP VIEW v CASCADE;", ["DROP VIEW ... CASCADE"]],
    ["DROP FUNCTION f() CASCADE;", ["DROP FUNCTION ... CASCADE"]],
    ["ALTER TABLE software DROP CONSTRAINT software_pkey CASCADE;", ["ALTER TABLE ... DROP CONSTRAINT ... CASCADE"]],
    ["ALTER TABLE software DROP COLUMN vitality CASCADE;", ["ALTER TABLE ... DROP COLUMN ... CASCADE"]],
    ["DROP OWNED BY app CASCADE;", ["DROP OWNED ... CASCADE"]],
    ["DO $$ BEGIN EXECUTE 'DROP TABLE logs'; END $$;", ["DO block with dynamic SQL (EXECUTE): cannot be verified"]],
    [
      "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; END $$;",
      ["DO block with dynamic SQL (EXECUTE): cannot be verified"],
    ],
    ["DO $$ BEGIN DROP TABLE logs; END $$;", ["DO block: DROP TABLE"]],
    ["DO $$ BEGIN IF true THEN UPDATE t SET a = 1; END IF; END $$;", ["DO block: UPDATE without WHERE"]],
    ["DO LANGUAGE plpython3u $$ plpy.execute('DROP TABLE logs') $$;", ["DO block in plpython3u: cannot be verified"]],
    ["DO $$ BEGIN undefined_thing := 1; END $$;", ["DO block that PL/pgSQL cannot compile: cannot be verified"]],
    [
      "CREATE FUNCTION purge(t text) RETURNS void AS $f$ BEGIN EXECUTE format('TRUNCATE %I', t); END $f$ LANGUAGE plpgsql;",
      ["function body with dynamic SQL (EXECUTE): cannot be verified"],
    ],
    [
      "CREATE OR REPLACE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DROP TABLE x'; END $$;",
      ["procedure body with dynamic SQL (EXECUTE): cannot be verified"],
    ],
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
    ["UPDATE software SET active = false WHERE id = '1';"],
    ["DROP INDEX idx RESTRICT;"],
    ["DO $$ BEGIN PERFORM 1; UPDATE t SET a = 1 WHERE b = 2; END $$;"],
    [
      "CREATE FUNCTION touch() RETURNS trigger AS $f$ BEGIN NEW.updated_at := now(); RETURN NEW; END $f$ LANGUAGE plpgsql;",
    ],
    ["CREATE FUNCTION f() RETURNS void AS $f$ BEGIN DELETE FROM t WHERE false; END $f$ LANGUAGE plpgsql;"],
    ["CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;"],
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
      "pending migrations drop or rewrite data, or run SQL that cannot be verified:\n" +
        "  20260701000000_change.sql:2: DROP TABLE: DROP TABLE b\n" +
        "If this is intended, acknowledge this version in stack config:\n" +
        "  pulumi config set --path --type string 'allowDestructiveMigrations[0]' 20260701000000",
    );
  });

  it("appends new acknowledgements after the ones already in config, as strings", () => {
    const pending = [migration("DROP TABLE b;", "20260702000000"), migration("TRUNCATE c;", "20260703000000")];
    expect(() => checkDestructive(pending, ["20260101000000"])).toThrow(
      "acknowledge these versions in stack config:\n" +
        "  pulumi config set --path --type string 'allowDestructiveMigrations[1]' 20260702000000\n" +
        "  pulumi config set --path --type string 'allowDestructiveMigrations[2]' 20260703000000",
    );
  });

  it("needs an acknowledgement for a DO block with dynamic SQL, on the block's line", () => {
    const found = findDestructiveStatements(
      migration("CREATE TABLE t (a int);\nDO $$\nBEGIN\n  EXECUTE 'DROP TABLE ' || 't';\nEND\n$$;\n"),
    );
    expect(found.map((d) => [d.line, d.kind])).toEqual([
      [2, "DO block with dynamic SQL (EXECUTE): cannot be verified"],
    ]);
    expect(() => checkDestructive([migration("DO $$ BEGIN EXECUTE 'SELECT 1'; END $$;")], [])).toThrow(
      MigrationSqlError,
    );
    expect(checkDestructive([migration("DO $$ BEGIN EXECUTE 'SELECT 1'; END $$;")], ["20260701000000"])).toHaveLength(
      1,
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
