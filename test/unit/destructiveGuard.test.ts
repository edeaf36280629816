import {
  type Acknowledgement,
  acknowledgementOf,
  parseAcknowledgements,
  findDestructiveStatements,
  loadSqlParser,
  MigrationSqlError,
  SESSION_PROTECTIONS,
} from "../../lib/migration/guard";
import { MigrationFile } from "../../lib/migration/dir";
import { checkRisks } from "../../lib/migration/risk";
import { migrationSessionParameters, MigrationRunInput } from "../../lib/migration/run";

const migration = (text: string, version = "20260701000000"): MigrationFile => ({
  name: `${version}_change.sql`,
  version,
  description: "change",
  text,
  bytes: Buffer.from(text),
});
/** The entry the guard prints for the file, read back by the config's own reader. */
const ack = (file: MigrationFile) => parseAcknowledgements(acknowledgementOf(file))[0];
/**
 * The guard of the loses-data class alone: in the contract phase breaks-old-pods needs no
 * acknowledgement, and these files hold nothing long-lock. Returns the loses-data findings.
 */
const checkDestructive = (pending: MigrationFile[], acknowledged: Acknowledgement[]) =>
  checkRisks(pending, { allowDestructive: acknowledged, allowBreaking: [], allowLocking: [] }, "contract").filter(
    (f) => f.risk === "loses-data",
  );
const INSTEAD =
  "    instead: make sure nothing needs the data any more (copy it first); a drop of what the old release reads belongs in a contract migration\n";
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
    // Issue 25: data loss that passed the guard.
    ["DROP OWNED BY app;", ["DROP OWNED"]],
    ["WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d;", ["DELETE without WHERE"]],
    ["EXPLAIN ANALYZE DELETE FROM t;", ["EXPLAIN ANALYZE: DELETE without WHERE"]],
    ["EXPLAIN (ANALYZE true) UPDATE t SET a = 1;", ["EXPLAIN ANALYZE: UPDATE without WHERE"]],
    ["PREPARE d AS DELETE FROM t; EXECUTE d;", ["PREPARE: DELETE without WHERE"]],
    ["MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE;", ["MERGE ... THEN DELETE"]],
    ["DELETE FROM t WHERE true;", ["DELETE whose WHERE does not read the row"]],
    ["DELETE FROM t WHERE 1 = 1;", ["DELETE whose WHERE does not read the row"]],
    ["UPDATE t SET a = 1 WHERE random() < 2;", ["UPDATE whose WHERE does not read the row"]],
    [
      "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DELETE FROM t $$; SELECT f();",
      ["function body: DELETE without WHERE"],
    ],
    ["CREATE FUNCTION f() RETURNS void AS $body$ TRUNCATE t; $body$ LANGUAGE sql;", ["function body: TRUNCATE"]],
    [
      "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE t; END $$; SELECT f();",
      ["function body: DROP TABLE"],
    ],
    [
      "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END;",
      ["function body: DELETE without WHERE"],
    ],
    ["CREATE PROCEDURE p() LANGUAGE sql AS $$ TRUNCATE t $$; CALL p();", ["procedure body: TRUNCATE"]],
    [
      "CREATE FUNCTION wipe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM audit; RETURN NEW; END $$;",
      ["function body: DELETE without WHERE"],
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
    ["-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY idx ON logs (id);"],
    ["DROP INDEX IF EXISTS idx_old;"],
    ["ALTER TABLE software ADD COLUMN x text, ALTER COLUMN y SET DEFAULT 1;"],
    ["ALTER INDEX idx_a RENAME TO idx_b;"],
    // A rename loses nothing: it breaks the old pods (test/unit/riskGuard.test.ts).
    ["ALTER TABLE logs RENAME TO log_entries;"],
    ["ALTER TABLE logs RENAME COLUMN message TO text;"],
    ["UPDATE software SET active = false WHERE id = '1';"],
    ["DROP INDEX idx RESTRICT;"],
    ["DO $$ BEGIN PERFORM 1; UPDATE t SET a = 1 WHERE b = 2; END $$;"],
    [
      "CREATE FUNCTION touch() RETURNS trigger AS $f$ BEGIN NEW.updated_at := now(); RETURN NEW; END $f$ LANGUAGE plpgsql;",
    ],
    ["CREATE FUNCTION f() RETURNS void AS $f$ BEGIN DELETE FROM t WHERE false; END $f$ LANGUAGE plpgsql;"],
    ["CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;"],
    ["EXPLAIN DELETE FROM t;"],
    ["DELETE FROM t WHERE false;"],
    ["WITH d AS (DELETE FROM t WHERE id = 1 RETURNING 1) SELECT count(*) FROM d;"],
    ["MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a;"],
    ["SET search_path = public; SELECT set_config('search_path', 'public', false);"],
    ["ALTER ROLE app SET statement_timeout = 0;"],
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
    const file = migration("CREATE TABLE a (x int);\nDROP TABLE b;");
    expect(() => checkDestructive([file], [])).toThrow(
      "pending migrations drop or rewrite data, or run SQL that cannot be verified (contract phase):\n" +
        "  20260701000000_change.sql:2: DROP TABLE: DROP TABLE b\n" +
        INSTEAD +
        "If this is intended, acknowledge this file as it is now in stack config:\n" +
        `  pulumi config set --path --type string 'allowDestructiveMigrations[0]' ${acknowledgementOf(file)}`,
    );
    expect(acknowledgementOf(file)).toMatch(/^20260701000000:[0-9a-f]{16}$/);
  });

  it("appends new acknowledgements after the ones already in config, as strings", () => {
    const pending = [migration("DROP TABLE b;", "20260702000000"), migration("TRUNCATE c;", "20260703000000")];
    expect(() => checkDestructive(pending, [{ version: "20260101000000", digest: "0123456789ab" }])).toThrow(
      "acknowledge these files as they are now in stack config:\n" +
        `  pulumi config set --path --type string 'allowDestructiveMigrations[1]' ${acknowledgementOf(pending[0])}\n` +
        `  pulumi config set --path --type string 'allowDestructiveMigrations[2]' ${acknowledgementOf(pending[1])}`,
    );
  });

  it("binds an acknowledgement to the file's content: an edit after the review needs a new one, in place", () => {
    const reviewed = migration("DROP TABLE b;");
    const { version, digest } = ack(reviewed);
    expect(checkDestructive([reviewed], [{ version, digest }])).toHaveLength(1);
    expect(checkDestructive([reviewed], [{ version, digest: digest.slice(0, 12) }])).toHaveLength(1);
    const edited = migration("DROP TABLE b;\nDROP TABLE c;");
    const other = { version: "20260101000000", digest: "0123456789ab" };
    expect(() => checkDestructive([edited], [other, { version, digest }])).toThrow(
      "20260701000000_change.sql changed since it was acknowledged in allowDestructiveMigrations (an acknowledgement names the file's content): " +
        "review the change, then replace the entry.\n" +
        "If this is intended, acknowledge this file as it is now in stack config:\n" +
        `  pulumi config set --path --type string 'allowDestructiveMigrations[1]' ${acknowledgementOf(edited)}`,
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
    const dynamic = migration("DO $$ BEGIN EXECUTE 'SELECT 1'; END $$;");
    expect(checkDestructive([dynamic], [ack(dynamic)])).toHaveLength(1);
  });

  it("lets acknowledged versions through", () => {
    expect(checkDestructive([migration("DROP TABLE b;")], [ack(migration("DROP TABLE b;"))])).toHaveLength(1);
  });

  it("reports SQL that PostgreSQL cannot parse, with the file and line", () => {
    expect(() => findDestructiveStatements(migration("CREATE TABLE a (x int);\nCREATE TABLE (;"))).toThrow(
      MigrationSqlError,
    );
    expect(() => findDestructiveStatements(migration("CREATE TABLE a (x int);\nCREATE TABLE (;"))).toThrow(
      /^20260701000000_change.sql:2: PostgreSQL cannot parse this migration/,
    );
  });

  it.each([
    ["SET lock_timeout = 0;", "SET lock_timeout"],
    ["SET LOCAL statement_timeout TO 0;", "SET statement_timeout"],
    ["RESET lock_timeout;", "RESET lock_timeout"],
    ["RESET ALL;", "RESET ALL"],
    ["SELECT set_config('lock_timeout', '0', false);", "set_config('lock_timeout', ...)"],
    ["SELECT set_config(name, '0', false) FROM settings;", "set_config with a setting name that cannot be read"],
    ["DO $$ BEGIN SET statement_timeout = 0; END $$;", "SET statement_timeout"],
    ["DO $$ BEGIN PERFORM set_config('statement_timeout', '0', true); END $$;", "set_config('statement_timeout', ...)"],
    ["CREATE FUNCTION f() RETURNS void LANGUAGE sql SET lock_timeout = 0 AS $$ SELECT 1 $$;", "SET lock_timeout"],
  ])("refuses %s: it switches off the session's protections", (sql, change) => {
    const run = () => findDestructiveStatements(migration(`CREATE TABLE a (x int);\n${sql}`));
    expect(run).toThrow(MigrationSqlError);
    expect(run).toThrow(
      `20260701000000_change.sql:2: ${change} changes a setting the migration session starts with ` +
        "(lock_timeout, statement_timeout, client_connection_check_interval",
    );
    expect(run).toThrow("remove it, and tune migrationLockWaitTimeout or migrationDeadlineSeconds in stack config");
  });

  it("protects exactly the settings the migration session starts with", () => {
    const names = migrationSessionParameters({} as MigrationRunInput).map(([name]) => name);
    expect([...SESSION_PROTECTIONS].sort()).toEqual(names.sort());
  });

  it.each([
    [
      "a nested block comment hiding a DROP",
      "CREATE TABLE a (x int);\n/* /* */ DROP TABLE software; -- */\nSELECT 1;\n",
      2,
    ],
    ["an E'' string with an escaped quote", "SELECT 1;\n\nSELECT E'\\'';\n", 3],
    ["a dollar-quote tag Atlas does not know", "SELECT $À$ ; DROP TABLE t; $À$;", 1],
    ["a BEGIN ... END; block", "SELECT 1;\nBEGIN TRANSACTION;\nDROP TABLE t;\nEND;\n", 2],
    ["a comment on the last line without a line break", "SELECT 1;\n-- done; really", 2],
  ])("refuses a file Atlas and PostgreSQL read differently: %s", (_, sql, line) => {
    const run = () => findDestructiveStatements(migration(sql));
    expect(run).toThrow(MigrationSqlError);
    expect(run).toThrow(new RegExp(`^20260701000000_change.sql:${line}: Atlas`));
    expect(run).toThrow("rewrite it so both agree");
  });

  it("reviews the statement after a comment that looks like an opening block comment", () => {
    const found = findDestructiveStatements(migration("-- /* not a block comment\nDROP TABLE software;\n"));
    expect(found.map((d) => [d.line, d.kind])).toEqual([[2, "DROP TABLE"]]);
  });
});
