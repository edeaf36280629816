/** Our split of migration files (lib/migration/atlasStatements.ts) against Atlas's own library, and the
 * guard's disagreement cases against the real Atlas binary and the real PostgreSQL.
 *
 * The comparison needs Go (testbed/probes/atlas-lex links ariga.io/atlas v1.2.3, the
 * production image's release, and v0.13.1, the test bed's binary). The last tests need the
 * test bed's Atlas and PostgreSQL (source scripts/env.sh). */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AtlasLexError, atlasStatements } from "../../lib/migration/atlasStatements";
import { findDestructiveStatements, loadSqlParser, MigrationSqlError } from "../../lib/migration/guard";
import { loadMigrationDir, writeSumFile } from "../../lib/migration/dir";
import { runInput, runMigrationJob } from "../support/atlasJob";
import { askProbe, buildGoProbe } from "../support/goProbe";
import { databasesDroppedAfterEach, query } from "../../testbed/pg";
import { generatedSqlFiles } from "../support/sqlFiles";

interface Split {
  name: string;
  stmts?: Array<{ pos: number; text: string }>;
  error?: string;
}

const ATLAS_1_2_3 = { module: "atlas-lex", name: "atlas-lex-1.2.3" };
const ATLAS_0_13_1 = { module: "atlas-lex", pkg: "./atlas0131", modfile: "atlas-0.13.1.mod", name: "atlas-lex-0.13.1" };

// Built before the tests' own clocks start: a cold Go build cache takes about a minute.
beforeAll(() => Promise.all([buildGoProbe(ATLAS_1_2_3), buildGoProbe(ATLAS_0_13_1)]), 600_000);

function ours(text: string): Split {
  try {
    return { name: "", stmts: atlasStatements(Buffer.from(text)).map((s) => ({ pos: s.pos, text: s.text })) };
  } catch (err) {
    if (!(err instanceof AtlasLexError)) throw err;
    return { name: "", error: err.message };
  }
}

async function atlasSplit(probe: typeof ATLAS_1_2_3 | typeof ATLAS_0_13_1, texts: readonly string[]): Promise<Split[]> {
  const answers = await askProbe<{ name: string; text: string }, Split>(
    await buildGoProbe(probe),
    texts.map((text, i) => ({ name: String(i), text })),
  );
  return answers.map((a) => ({ name: "", ...(a.error ? { error: a.error } : { stmts: a.stmts ?? [] }) }));
}

const HAND_PICKED = [
  "/* /* */ DROP TABLE software; -- */\nSELECT 1;\n",
  "SELECT E'\\'' AS a; DROP TABLE t; SELECT 'x';",
  "SELECT 'a\\'; DROP TABLE t; SELECT 1;",
  "SELECT 5 # 3;\nSELECT 2;",
  "SELECT 1 -'x;y';",
  "BEGIN TRANSACTION;\nDROP TABLE t;\nEND;\nSELECT 1;",
  "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT f();",
  "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC\n-- a comment; END;\nDELETE FROM t; end\n;",
  "SELECT $À$ ; DROP TABLE t; $À$;",
  "SELECT $é$ ; $é$; SELECT $1;",
  "SELECT 1; -- it's",
  "-- atlas:delimiter \\n\\n\nSELECT 1;\nSELECT 2\n\nSELECT 3",
  "-- atlas:delimiter //\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql//\nSELECT 2//",
  "-- atlas:delimiter   \nSELECT 1 SELECT 2",
  "-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY i ON t (a);",
  "DELIMITER //\nSELECT 1//\nDELIMITER ;\nSELECT 2;",
  "SELECT $$abc",
  "SELECT (1;2);",
  "SELECT 1);",
  "\u2003SELECT 'é';\u00a0\n\u000b",
  "CREATE TABLE t ( begin int, atomic int ); SELECT 1;",
];

describe("Atlas 1.2.3's split of a migration file", () => {
  it("equals ours on hand-picked files", async () => {
    expect(HAND_PICKED.map(ours)).toEqual(await atlasSplit(ATLAS_1_2_3, HAND_PICKED));
  });

  it("equals ours on 20,000 generated files (seeds 1-4)", async () => {
    const files = [1, 2, 3, 4].flatMap((seed) => generatedSqlFiles(seed, 5000));
    const atlas = await atlasSplit(ATLAS_1_2_3, files);
    const differ = files.filter((_, i) => JSON.stringify(ours(files[i])) !== JSON.stringify(atlas[i]));
    expect(differ).toEqual([]);
    // The generator reaches both outcomes and many statements.
    expect(atlas.filter((a) => a.error).length).toBeGreaterThan(2000);
    expect(atlas.flatMap((a) => a.stmts ?? []).length).toBeGreaterThan(15000);
  });

  it("differs from 0.13.1's where the test bed's Atlas splits otherwise", async () => {
    const [v123, v0131] = await Promise.all([
      atlasSplit(ATLAS_1_2_3, HAND_PICKED),
      atlasSplit(ATLAS_0_13_1, HAND_PICKED),
    ]);
    const differ = HAND_PICKED.filter((_, i) => JSON.stringify(v123[i]) !== JSON.stringify(v0131[i]));
    expect(differ).toEqual([
      // 0.13.1 reads backslash escapes in every quote, 1.2.3 in none.
      "SELECT E'\\'' AS a; DROP TABLE t; SELECT 'x';",
      "SELECT 'a\\'; DROP TABLE t; SELECT 1;",
      // 0.13.1 reads # as a comment (MySQL's), 1.2.3 not for PostgreSQL.
      "SELECT 5 # 3;\nSELECT 2;",
      // 0.13.1 consumes the character after a lone '-' or '/': here the quote.
      "SELECT 1 -'x;y';",
      // 0.13.1 has no BEGIN ... END or BEGIN ATOMIC blocks.
      "BEGIN TRANSACTION;\nDROP TABLE t;\nEND;\nSELECT 1;",
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT f();",
      "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC\n-- a comment; END;\nDELETE FROM t; end\n;",
      "SELECT 1; -- it's",
      // 0.13.1 refuses a directive whose argument is only spaces; 1.2.3 takes one space as the delimiter.
      "-- atlas:delimiter   \nSELECT 1 SELECT 2",
      "DELIMITER //\nSELECT 1//\nDELIMITER ;\nSELECT 2;",
    ]);
  });
});

describe("a file Atlas and PostgreSQL read differently", () => {
  const database = databasesDroppedAfterEach();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "atlas-statements-"));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  beforeAll(() => loadSqlParser());

  const NESTED = "/* /* */ DROP TABLE software; -- */\nSELECT 1;\n";

  it("runs the hidden DROP under the real Atlas, not under PostgreSQL, and the guard refuses it", async () => {
    const dir = path.join(root, "nested");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "20990101000000_software.sql"), "CREATE TABLE software (id int);\n");
    fs.writeFileSync(path.join(dir, "20990102000000_harmless_looking.sql"), NESTED);
    writeSumFile(dir);
    const migrations = loadMigrationDir(dir);

    const atlasDb = await database("nested_atlas");
    const run = await runMigrationJob(migrations, runInput(migrations), atlasDb.url);
    expect(run.code).toBe(0);
    const table = "SELECT to_regclass('public.software')::text AS t";
    expect(await query(atlasDb.url, table)).toEqual([{ t: null }]);

    // PostgreSQL given the whole file reads a comment and SELECT 1.
    const pgDb = await database("nested_pg");
    await query(pgDb.url, `CREATE TABLE software (id int);\n${NESTED}`);
    expect(await query(pgDb.url, table)).toEqual([{ t: "software" }]);

    expect(() => findDestructiveStatements(migrations.files[1])).toThrow(MigrationSqlError);
    expect(() => findDestructiveStatements(migrations.files[1])).toThrow(
      /^20990102000000_harmless_looking.sql:1: Atlas and PostgreSQL read this migration differently/,
    );
  });
});
