/**
 * Seeded generator of migration files where Atlas's lexer and PostgreSQL's are most likely to
 * disagree: comments that look nested, quotes and E'' strings with backslashes, dollar quotes
 * with and without tags, semicolons inside literals and parentheses, BEGIN ATOMIC and BEGIN
 * blocks, `-- atlas:` directives, Unicode white space. The same seed gives the same files.
 */

/** mulberry32: small, fast, good enough to spread cases. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPACES = [" ", " ", "\n", "\n\n", "\t", "\r\n", "\v", "\f", "\u00a0", "\u2003", ""];
const FRAGMENTS = [
  "SELECT 1",
  "SELECT 1;",
  "CREATE TABLE t (a int);",
  "DROP TABLE t;",
  "INSERT INTO t VALUES (1);",
  ";",
  ";;",
  "(",
  ")",
  "(1; 2)",
  "SELECT (1 + (2));",
  "-- a comment\n",
  "-- it's a comment; with a quote\n",
  "-- */ closes nothing\n",
  "--",
  "-",
  "/",
  "*",
  "/* one */",
  "/* /* */",
  "/* /* */ DROP TABLE t; -- */",
  "/* a /* nested */ comment */",
  "*/",
  "/* unclosed",
  "/*/",
  "'a;b'",
  "'it''s'",
  "'\\'",
  "'\\\\'",
  "E'\\''",
  "E'\\\\'",
  "e'a\\'b'",
  "E'",
  "'",
  '"quoted;ident"',
  '"',
  "`",
  "`a;b`",
  "$$",
  "$$ ; $$",
  "$$ DROP TABLE t; $$",
  "$body$ ; $$ ; $body$",
  "$body$",
  "$a$",
  "$a$ ; $a$",
  "$é$ ; $é$",
  "$À$ ; $À$",
  "$1",
  "$_x1$ x $_x1$",
  "a$$b",
  "BEGIN ATOMIC",
  "BEGIN ATOMIC SELECT 1; END;",
  "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
  "begin atomic\n  delete from t;\nend",
  "BEGIN",
  "BEGIN;",
  "BEGIN TRANSACTION;",
  "BEGIN ISOLATION LEVEL SERIALIZABLE;",
  "END;",
  "END",
  "end if;",
  "COMMIT;",
  "delimiter //\n",
  "DELIMITER ;\n",
  "//",
  "é",
  "€",
  "\u00a0",
];
const DIRECTIVES = [
  "-- atlas:delimiter //\n",
  "-- atlas:delimiter \\n\\n\n",
  "-- atlas:delimiter  \n",
  "-- atlas:delimiter\n",
  "-- atlas:txmode none\n\n",
  "-- atlas:sum ignore\n",
  "/* atlas:delimiter // */\n",
];

/** `count` files, each a soup of fragments joined by assorted white space. */
export function generatedSqlFiles(seed: number, count: number): string[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const files: string[] = [];
  for (let n = 0; n < count; n++) {
    let text = random() < 0.15 ? pick(DIRECTIVES) : "";
    const pieces = 1 + Math.floor(random() * 10);
    for (let i = 0; i < pieces; i++) text += pick(FRAGMENTS) + pick(SPACES);
    files.push(text);
  }
  return files;
}
