import { AtlasLexError, atlasStatements } from "../../lib/migration/atlasStatements";

const texts = (sql: string) => atlasStatements(Buffer.from(sql)).map((s) => s.text);

// Expected values are Atlas 1.2.3's own (testbed/probes/atlas-lex); the generated comparison
// is test/integration/atlasStatements.test.ts.
describe("the statements Atlas 1.2.3 sends for a PostgreSQL migration", () => {
  it.each([
    [
      "block comments do not nest",
      "/* /* */ DROP TABLE software; -- */\nSELECT 1;\n",
      ["DROP TABLE software;", "SELECT 1;"],
    ],
    ["leading comments are not sent", "-- note\n/* x */ SELECT 1;", ["SELECT 1;"]],
    ["comments inside a statement are", "SELECT /* ; */ 1 -- ;\n;", ["SELECT /* ; */ 1 -- ;\n;"]],
    ["a semicolon in quotes", "SELECT 'a;b', \"c;d\";", ["SELECT 'a;b', \"c;d\";"]],
    ["no backslash escapes in plain strings", "SELECT 'a\\'; DROP TABLE t;", ["SELECT 'a\\';", "DROP TABLE t;"]],
    ["dollar quotes with a tag", "SELECT $f$ ; $$ ; $f$; SELECT 2;", ["SELECT $f$ ; $$ ; $f$;", "SELECT 2;"]],
    [
      "a non-ASCII tag Atlas does not know",
      "SELECT $À$ ; DROP TABLE t; $À$;",
      ["SELECT $À$ ;", "DROP TABLE t;", "$À$;"],
    ],
    ["a tag Atlas knows", "SELECT $é$ ; $é$;", ["SELECT $é$ ; $é$;"]],
    ["an unclosed dollar quote runs to the end", "SELECT $$abc; SELECT 1;", ["SELECT $$abc; SELECT 1;"]],
    ["semicolons inside parentheses", "SELECT (1;2);", ["SELECT (1;2);"]],
    [
      "BEGIN ATOMIC bodies",
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT f();",
      ["CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;", "SELECT f();"],
    ],
    [
      "BEGIN ... END; blocks",
      "BEGIN TRANSACTION;\nDROP TABLE t;\nEND;\nSELECT 1;",
      ["BEGIN TRANSACTION;\nDROP TABLE t;\nEND;", "SELECT 1;"],
    ],
    ["BEGIN; alone is a statement", "BEGIN;\nSELECT 1;\nCOMMIT;", ["BEGIN;", "SELECT 1;", "COMMIT;"]],
    [
      "the delimiter directive",
      "-- atlas:delimiter \\n\\n\nSELECT 1;\nSELECT 2\n\nSELECT 3",
      ["SELECT 1;\nSELECT 2", "SELECT 3"],
    ],
    [
      "a directive later in the file is a comment",
      "SELECT 1;\n-- atlas:delimiter x\nSELECT 2x",
      ["SELECT 1;", "SELECT 2x"],
    ],
    ["a last-line comment without a line break is text", "SELECT 1; -- a; b", ["SELECT 1;", "-- a;", "b"]],
    ["Unicode white space is trimmed", "\u2003SELECT 1;\u00a0\n", ["SELECT 1;"]],
  ])("%s", (_, sql, expected) => {
    expect(texts(sql)).toEqual(expected);
  });

  it("reports byte offsets in the file and Atlas's own positions", () => {
    const stmts = atlasStatements(Buffer.from("-- atlas:delimiter //\nSELECT 'è'//\n  SELECT 2//"));
    expect(stmts.map((s) => [s.offset, s.pos, s.text])).toEqual([
      [22, 0, "SELECT 'è'"],
      [38, 16, "SELECT 2"],
    ]);
  });

  it.each([
    [
      "E'' strings have no escapes either",
      "SELECT E'\\'' AS a; DROP TABLE t; SELECT 'x';",
      "1:43: unclosed quote '\\''",
    ],
    ["a quote in a last-line comment", "SELECT 1; -- it's", "1:16: unclosed quote '\\''"],
    ["an unbalanced parenthesis", "SELECT 1;\nSELECT (1;", "2:8: unclosed '('"],
    ["a closing parenthesis", "SELECT 1);", "1:9: unexpected ')'"],
    ["an empty delimiter", "-- atlas:delimiter\nSELECT 1", "empty delimiter"],
    ["a directive alone", "-- atlas:delimiter //", '1:0: no input found after delimiter "//"'],
  ])("fails as Atlas does: %s", (_, sql, message) => {
    expect(() => atlasStatements(Buffer.from(sql))).toThrow(AtlasLexError);
    expect(() => atlasStatements(Buffer.from(sql))).toThrow(message);
  });
});
