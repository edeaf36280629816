import { loadSqlParser } from "../../lib/migration/guard";
import { baselineMismatch } from "../../lib/migration/preflight";
import { foldSchema, SchemaFoldError } from "../../lib/migration/schema";
import { migrationFile } from "../support/migrationFiles";

/** The baseline check's fold of the files (its agreement with PostgreSQL: test/integration/schema.test.ts). */

beforeAll(() => loadSqlParser());

const v1 = migrationFile(
  "20250101000000",
  'CREATE TABLE "a" (id text PRIMARY KEY, b text UNIQUE);\nCREATE INDEX "a_b" ON "a" (b);\n',
);
const v2 = migrationFile(
  "20250201000000",
  "ALTER TABLE a RENAME COLUMN b TO c;\nALTER INDEX a_b RENAME TO a_c;\nALTER TABLE a ADD COLUMN d jsonb, ALTER COLUMN c SET NOT NULL;\n",
);
const v3 = migrationFile("20250301000000", "CREATE INDEX IF NOT EXISTS a_d ON a (d);\nDROP TABLE IF EXISTS gone;\n");

test("follows renames, added columns and constraint changes; a later IF NOT EXISTS may exist already", () => {
  expect(foldSchema([v1, v2], [v3])).toEqual({
    tables: { a: ["c", "d", "id"] },
    indexes: ["a_c"],
    mayExist: ["index a_d"],
  });
});

test("names what is missing and extra, and the version the database is at", () => {
  const atV1 = { tables: { a: ["id", "b"] }, indexes: ["a_b"] };
  expect(baselineMismatch([v1, v2, v3], v1.version, atV1)).toBeUndefined();
  expect(baselineMismatch([v1, v2, v3], v2.version, atV1)?.message).toBe(
    "migrationBaseline 20250201000000 does not match the database: it lacks column a.c, column a.d, index a_c; " +
      "it has column a.b, index a_b, which no file up to it creates. A baseline records the files up to it as " +
      "applied without running them, so the schema would stay like this and every later plan would say nothing is " +
      "pending. The database has the schema of 20250101000000: pulumi config set migrationBaseline 20250101000000",
  );
});

test("a statement it cannot follow makes the baseline uncheckable, and says so", () => {
  const like = migrationFile("20250101000000", "CREATE TABLE t (LIKE u);\n");
  expect(() => foldSchema([like])).toThrow(SchemaFoldError);
  expect(baselineMismatch([like], like.version, { tables: {}, indexes: [] })?.message).toContain(
    "migrationBaseline 20250101000000 cannot be checked against the database's schema: 20250101000000_m.sql: " +
      "CREATE TABLE t (LIKE ...) (CreateStmt) is not something the baseline check can follow",
  );
});
