import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { acknowledgementOf, loadSqlParser, MigrationSqlError, parseAcknowledgements } from "../../lib/migration/guard";
import type { MigrationFile } from "../../lib/migration/dir";
import { migrationFile } from "../support/migrationFiles";
import {
  type Acknowledged,
  checkRisks,
  findRisks,
  PROJECT_REVIEWED,
  RISK_CLASSES,
  type RiskFinding,
  SQUAWK_IGNORED,
  SQUAWK_RULES,
} from "../../lib/migration/risk";
import { squawkBinary, squawkViolations } from "../../lib/migration/squawk";
import { loadMigrationDir } from "../../lib/migration/dir";
import { reviewedStatements } from "../../lib/migration/guard";

const migration = (text: string, version = "20260701000000"): MigrationFile => migrationFile(version, text, "change");
const NONE: Acknowledged = { allowDestructive: [], allowBreaking: [], allowLocking: [] };
const ack = (file: MigrationFile) => parseAcknowledgements(acknowledgementOf(file));
/** A finding as one line: the class, the kind, and squawk's verdict on the statement. */
const verdict = (f: RiskFinding) => `${f.risk}: ${f.kind} [squawk: ${f.squawk.join(", ") || "none"}]`;
/**
 * A case's file as a user would write it: a statement PostgreSQL refuses in a transaction block
 * (VACUUM, DROP DATABASE, ... CONCURRENTLY) alone, in a file Atlas runs outside one.
 */
const NOT_IN_TRANSACTION =
  /^(VACUUM|DROP DATABASE|CREATE (UNIQUE )?INDEX CONCURRENTLY|REINDEX (TABLE |INDEX )?CONCURRENTLY)/;
const caseFile = (sql: string) => (NOT_IN_TRANSACTION.test(sql) ? `-- atlas:txmode none\n\n${sql}` : sql);
const verdicts = (...files: string[]) =>
  findRisks(files.map((text, i) => migration(caseFile(text), `2026070100000${i}`))).map(verdict);

beforeAll(() => loadSqlParser());

/**
 * Every case of the three classes on a table that already exists (t, u, v: never created in
 * the file), with squawk's verdict next to ours: a squawk upgrade that changes a rule changes
 * this table.
 */
const CASES: Array<[string, string[]]> = [
  // long-lock
  [
    "CREATE INDEX i ON t (a);",
    ["long-lock: CREATE INDEX without CONCURRENTLY (blocks writes) [squawk: require-concurrent-index-creation]"],
  ],
  [
    "ALTER TABLE t ALTER COLUMN a TYPE bigint;",
    [
      "loses-data: ALTER TABLE ... ALTER COLUMN ... TYPE [squawk: none]",
      "long-lock: ALTER COLUMN ... TYPE (rewrites or scans the table) [squawk: changing-column-type]",
    ],
  ],
  [
    "ALTER TABLE t ADD COLUMN b uuid DEFAULT gen_random_uuid();",
    ["long-lock: ADD COLUMN with a volatile DEFAULT (rewrites the table) [squawk: adding-field-with-default]"],
  ],
  ["ALTER TABLE t ADD COLUMN d serial;", ["long-lock: ADD COLUMN serial (rewrites the table) [squawk: none]"]],
  [
    "ALTER TABLE t ADD COLUMN e bigint GENERATED ALWAYS AS IDENTITY;",
    ["long-lock: ADD COLUMN ... GENERATED AS IDENTITY (rewrites the table) [squawk: adding-field-with-default]"],
  ],
  [
    "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);",
    ["long-lock: ADD CONSTRAINT CHECK without NOT VALID (scans the table) [squawk: constraint-missing-not-valid]"],
  ],
  [
    "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id);",
    [
      "long-lock: ADD CONSTRAINT FOREIGN KEY without NOT VALID (scans the table) " +
        "[squawk: constraint-missing-not-valid, adding-foreign-key-constraint]",
    ],
  ],
  [
    "ALTER TABLE t ADD CONSTRAINT k UNIQUE (a);",
    [
      "long-lock: ADD CONSTRAINT UNIQUE without USING INDEX (builds an index) " +
        "[squawk: constraint-missing-not-valid, disallowed-unique-constraint]",
    ],
  ],
  [
    "ALTER TABLE t ADD CONSTRAINT p PRIMARY KEY (a);",
    [
      "long-lock: ADD CONSTRAINT PRIMARY KEY without USING INDEX (builds an index) " +
        "[squawk: constraint-missing-not-valid, adding-serial-primary-key-field]",
    ],
  ],
  [
    "ALTER TABLE t ADD COLUMN r text REFERENCES u (id);",
    [
      "long-lock: ADD COLUMN ... FOREIGN KEY without NOT VALID (scans the table) [squawk: adding-foreign-key-constraint]",
    ],
  ],
  ["REFRESH MATERIALIZED VIEW v;", ["long-lock: REFRESH MATERIALIZED VIEW without CONCURRENTLY [squawk: none]"]],
  ["LOCK TABLE t;", ["long-lock: LOCK TABLE [squawk: none]"]],
  ["LOCK TABLE t IN SHARE MODE;", ["long-lock: LOCK TABLE [squawk: none]"]],
  ["CLUSTER t USING i;", ["long-lock: CLUSTER (rewrites the table) [squawk: none]"]],
  ["-- atlas:txmode none\n\nVACUUM FULL t;", ["long-lock: VACUUM FULL (rewrites the table) [squawk: none]"]],
  ["ALTER TABLE t SET TABLESPACE archive;", ["long-lock: ALTER TABLE ... SET TABLESPACE [squawk: none]"]],
  ["ALTER TABLE t SET LOGGED;", ["long-lock: ALTER TABLE ... SET LOGGED [squawk: none]"]],
  ["ALTER TABLE t SET UNLOGGED;", ["long-lock: ALTER TABLE ... SET UNLOGGED [squawk: none]"]],
  ["REINDEX TABLE t;", ["long-lock: REINDEX without CONCURRENTLY [squawk: require-concurrent-reindex]"]],
  // squawk alone sees it: its finding is added.
  [
    "ALTER DOMAIN positive ADD CONSTRAINT p CHECK (VALUE > 0);",
    ["long-lock: squawk ban-alter-domain-with-add-constraint [squawk: ban-alter-domain-with-add-constraint]"],
  ],
  [
    "DO $$ BEGIN CREATE INDEX i ON t (a); END $$;",
    ["long-lock: DO block: CREATE INDEX without CONCURRENTLY (blocks writes) [squawk: none]"],
  ],
  // breaks-old-pods (and long-lock where it also scans)
  [
    "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
    [
      "breaks-old-pods: ALTER COLUMN ... SET NOT NULL [squawk: none]",
      "long-lock: ALTER COLUMN ... SET NOT NULL (scans the table) [squawk: adding-not-nullable-field]",
    ],
  ],
  [
    "ALTER TABLE t ADD COLUMN g text NOT NULL;",
    ["breaks-old-pods: ADD COLUMN ... NOT NULL without DEFAULT [squawk: adding-required-field]"],
  ],
  ["ALTER TABLE t RENAME COLUMN a TO b;", ["breaks-old-pods: RENAME COLUMN [squawk: renaming-column]"]],
  ["ALTER TABLE t RENAME TO t2;", ["breaks-old-pods: RENAME TABLE [squawk: renaming-table]"]],
  ["ALTER SCHEMA s RENAME TO s2;", ["breaks-old-pods: RENAME SCHEMA [squawk: none]"]],
  ["ALTER TYPE mood RENAME TO feeling;", ["breaks-old-pods: RENAME TYPE [squawk: none]"]],
  ["ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';", ["breaks-old-pods: ALTER TYPE ... RENAME VALUE [squawk: none]"]],
  ["ALTER TABLE t SET SCHEMA archive;", ["breaks-old-pods: ALTER TABLE ... SET SCHEMA [squawk: none]"]],
  ["ALTER TABLE t ALTER COLUMN a DROP DEFAULT;", ["breaks-old-pods: ALTER COLUMN ... DROP DEFAULT [squawk: none]"]],
  ["DROP VIEW v;", ["breaks-old-pods: DROP VIEW [squawk: none]"]],
  ["DROP FUNCTION f();", ["breaks-old-pods: DROP FUNCTION [squawk: none]"]],
  ["DROP SEQUENCE s;", ["breaks-old-pods: DROP SEQUENCE [squawk: none]"]],
  ["ALTER TABLE t DROP CONSTRAINT c;", ["breaks-old-pods: ALTER TABLE ... DROP CONSTRAINT [squawk: none]"]],
  ["DROP TABLE t;", ["loses-data: DROP TABLE [squawk: ban-drop-table]", "breaks-old-pods: DROP TABLE [squawk: none]"]],
  [
    "ALTER TABLE t DROP COLUMN a;",
    [
      "loses-data: ALTER TABLE ... DROP COLUMN [squawk: ban-drop-column]",
      "breaks-old-pods: ALTER TABLE ... DROP COLUMN [squawk: none]",
    ],
  ],
  [
    "ALTER TABLE t ENABLE ROW LEVEL SECURITY;",
    ["breaks-old-pods: ALTER TABLE ... ENABLE ROW LEVEL SECURITY [squawk: none]"],
  ],
  [
    "CREATE RULE r AS ON DELETE TO t DO INSTEAD NOTHING;",
    ["breaks-old-pods: CREATE RULE ... ON DELETE DO INSTEAD NOTHING [squawk: none]"],
  ],
  ["REVOKE INSERT ON t FROM app;", ["breaks-old-pods: REVOKE [squawk: none]"]],
  // loses-data only
  ["TRUNCATE t;", ["loses-data: TRUNCATE [squawk: none]"]],
  ["DELETE FROM t;", ["loses-data: DELETE without WHERE [squawk: none]"]],
  ["TRUNCATE t CASCADE;", ["loses-data: TRUNCATE ... CASCADE [squawk: ban-truncate-cascade]"]],
  [
    "DROP DATABASE old;",
    ["loses-data: DROP DATABASE [squawk: ban-drop-database]", "breaks-old-pods: DROP DATABASE [squawk: none]"],
  ],
];

describe("risk classes of statements on a table that already exists", () => {
  it.each(CASES)("%s", (sql, expected) => {
    expect(verdicts(sql)).toEqual(expected);
  });

  it.each([
    ["CREATE INDEX CONCURRENTLY i ON t (a);"],
    ["ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now();"],
    ["ALTER TABLE t ADD COLUMN c text DEFAULT 'x';"],
    // squawk calls these defaults volatile; PostgreSQL evaluates them once (lockRisk.test.ts).
    ["ALTER TABLE t ADD COLUMN c jsonb DEFAULT jsonb_build_object('a', 1);"],
    ["ALTER TABLE t ADD COLUMN c text DEFAULT current_setting('application_name');"],
    ["ALTER TABLE t ADD COLUMN c text;"],
    ["ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;"],
    ["ALTER TABLE t VALIDATE CONSTRAINT c;"],
    ["ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID;"],
    ["ALTER TABLE t ADD CONSTRAINT k UNIQUE USING INDEX i;"],
    ["ALTER TABLE t ADD CONSTRAINT p PRIMARY KEY USING INDEX i;"],
    ["REFRESH MATERIALIZED VIEW CONCURRENTLY v;"],
    ["REINDEX TABLE CONCURRENTLY t;"],
    ["LOCK TABLE t IN ACCESS SHARE MODE;"],
    ["VACUUM t;"],
    ["ALTER INDEX i RENAME TO j;"],
    ["ALTER TABLE t ALTER COLUMN a SET DEFAULT 1;"],
    ["DROP INDEX i;"],
    ["GRANT SELECT ON t TO app;"],
    ["CREATE RULE r AS ON INSERT TO t DO ALSO NOTIFY t;"],
    ["ALTER TABLE t ALTER COLUMN a DROP NOT NULL;"],
  ])("the safe form %s is none of them", (sql) => {
    expect(verdicts(sql)).toEqual([]);
  });
});

describe("a table created earlier in the same run is new", () => {
  it("statements on it are neither long-lock nor breaks-old-pods, though squawk flags the index", () => {
    const file =
      "CREATE TABLE t (a int, b int);\nCREATE INDEX i ON t (a);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;\n";
    expect(verdicts(file)).toEqual([]);
    const statements = reviewedStatements(migration(file));
    expect(squawkViolations(statements).map((v) => [v.statement, v.rule])).toContainEqual([
      1,
      "require-concurrent-index-creation",
    ]);
  });

  it("across the run's files, schema-qualified or not; losing its data still counts", () => {
    expect(
      verdicts(
        "CREATE TABLE public.t (a int);\n",
        "CREATE INDEX i ON t (a);\nALTER TABLE public.t RENAME TO t2;\n",
        "CREATE INDEX j ON t2 (a);\nDROP TABLE t2;\n",
      ),
    ).toEqual(["loses-data: DROP TABLE [squawk: ban-drop-table]"]);
    expect(
      verdicts(
        "CREATE TABLE app.t (a int);\nCREATE INDEX i ON app.t (a);\nCREATE MATERIALIZED VIEW m AS SELECT 1 AS x;\nREFRESH MATERIALIZED VIEW m;\n",
      ),
    ).toEqual([]);
  });

  it("a table of the same name in another schema is not new", () => {
    expect(verdicts("CREATE TABLE app.t (a int);\nCREATE INDEX i ON t (a);\n")).toEqual([
      "long-lock: CREATE INDEX without CONCURRENTLY (blocks writes) [squawk: require-concurrent-index-creation]",
    ]);
  });

  it("CREATE TABLE IF NOT EXISTS makes nothing new: the table may be there, with its rows", () => {
    expect(verdicts("CREATE TABLE IF NOT EXISTS logs (id text);\nCREATE INDEX i ON logs (id);\n")).toEqual([
      "long-lock: CREATE INDEX without CONCURRENTLY (blocks writes) [squawk: require-concurrent-index-creation]",
    ]);
  });

  it("a table created after the statement is not new for it", () => {
    expect(verdicts("CREATE INDEX i ON t (a);\n", "CREATE TABLE IF NOT EXISTS t (a int);\n")).toHaveLength(1);
  });
});

describe("squawk sees exactly the statements Atlas sends", () => {
  it("maps its findings to the statement and line in the file, several statements to a line", () => {
    const found = findRisks([
      migration(
        "-- indexes\n\nSELECT 1; CREATE INDEX i ON t (a);\n/* a\ncomment */\nALTER TABLE t\n  ADD COLUMN b uuid DEFAULT gen_random_uuid();\n",
      ),
    ]);
    expect(found.map((f) => [f.line, f.squawk])).toEqual([
      [3, ["require-concurrent-index-creation"]],
      [6, ["adding-field-with-default"]],
    ]);
  });

  it("a comment between statements cannot silence it: comments are not Atlas's statements", () => {
    const found = findRisks([
      migration("-- squawk-ignore require-concurrent-index-creation\nCREATE INDEX i ON t (a);\n"),
    ]);
    expect(found.map((f) => f.squawk)).toEqual([["require-concurrent-index-creation"]]);
  });

  it("reads no .squawk.toml from the working directory or its parents", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "squawk-config-"));
    fs.writeFileSync(path.join(dir, ".squawk.toml"), 'excluded_rules = ["require-concurrent-index-creation"]\n');
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      expect(findRisks([migration("CREATE INDEX i ON t (a);\n")]).map((f) => f.squawk)).toEqual([
        ["require-concurrent-index-creation"],
      ]);
    } finally {
      process.chdir(cwd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the binary of the one platform package installed, and names what is missing elsewhere", () => {
    expect(fs.statSync(squawkBinary("linux", "x64")).mode & 0o111).not.toBe(0);
    expect(() => squawkBinary("darwin", "arm64")).toThrow(
      "squawk, which the guard runs on every pending migration, is not installed for darwin-arm64 (no @squawk-cli/darwin-arm64)",
    );
  });

  it("every rule squawk reports on the cases is mapped or ignored with a reason, and every mapped rule fires", () => {
    // Each case in its own file, as verdicts() writes it; squawk sees the statements of all of them.
    const statements = CASES.flatMap(([sql]) => reviewedStatements(migration(caseFile(sql))));
    const rules = new Set(squawkViolations(statements).map((v) => v.rule));
    const unknown = [...rules].filter((r) => !(r in SQUAWK_RULES) && !(r in SQUAWK_IGNORED));
    expect(unknown).toEqual([]);
    expect(Object.keys(SQUAWK_RULES).filter((r) => !rules.has(r))).toEqual([]);
  });
});

describe("acknowledgements, one key per class, and phases", () => {
  const file = migration("ALTER TABLE t RENAME COLUMN a TO b;\nCREATE INDEX i ON t (b);\nDROP TABLE old;\n");

  it("expand: each class is refused under its own key, naming file:line, the class, what to do and the command", () => {
    const run = () => checkRisks([file], NONE, "expand");
    expect(run).toThrow(MigrationSqlError);
    const [entry] = [acknowledgementOf(file)];
    expect(run).toThrow(
      "pending migrations drop or rewrite data, or run SQL that cannot be verified (expand phase):\n" +
        "  20260701000000_change.sql:3: DROP TABLE: DROP TABLE old\n" +
        "    instead: make sure nothing needs the data any more (copy it first); a drop of what the old release reads belongs in a contract migration\n" +
        "If this is intended, acknowledge this file as it is now in stack config:\n" +
        `  pulumi config set --path --type string 'allowDestructiveMigrations[0]' ${entry}\n\n` +
        "pending migrations break the API pods still serving the old release during the rollout (expand phase):\n" +
        "  20260701000000_change.sql:1: RENAME COLUMN: ALTER TABLE t RENAME COLUMN a TO b\n" +
        "    instead: add the new one next to the old, backfill it, switch the API to it, and drop the old one in a contract migration\n" +
        "  20260701000000_change.sql:3: DROP TABLE: DROP TABLE old\n" +
        "    instead: drop it in a contract migration, once the release that no longer uses it is rolled out\n" +
        "If this is intended, acknowledge this file as it is now in stack config:\n" +
        `  pulumi config set --path --type string 'allowBreakingMigrations[0]' ${entry}\n\n` +
        "pending migrations hold a long exclusive lock on a table that already exists, or rewrite it: the live API's queries on it wait until the statement ends (expand phase):\n" +
        "  20260701000000_change.sql:2: CREATE INDEX without CONCURRENTLY (blocks writes): CREATE INDEX i ON t (b)\n" +
        "    instead: CREATE INDEX CONCURRENTLY, in a file of its own whose first line is `-- atlas:txmode none`\n" +
        "If this is intended, acknowledge this file as it is now in stack config:\n" +
        `  pulumi config set --path --type string 'allowLockingMigrations[0]' ${entry}`,
    );
  });

  it("an acknowledgement covers its own class only", () => {
    expect(() =>
      checkRisks([file], { ...NONE, allowDestructive: ack(file), allowLocking: ack(file) }, "expand"),
    ).toThrow(/^pending migrations break the API pods[^]*allowBreakingMigrations\[0\]/);
    expect(() =>
      checkRisks([file], { ...NONE, allowDestructive: ack(file), allowBreaking: ack(file) }, "expand"),
    ).toThrow(/^pending migrations hold a long exclusive lock[^]*allowLockingMigrations\[0\]/);
    const all = { allowDestructive: ack(file), allowBreaking: ack(file), allowLocking: ack(file) };
    expect(checkRisks([file], all, "expand").map((f) => f.risk)).toEqual([
      "breaks-old-pods",
      "long-lock",
      "loses-data",
      "breaks-old-pods",
    ]);
  });

  it("contract: breaks-old-pods needs no acknowledgement; loses-data and long-lock still do", () => {
    const rename = migration("ALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t ALTER COLUMN b DROP DEFAULT;\n");
    expect(checkRisks([rename], NONE, "contract").map((f) => f.risk)).toEqual(["breaks-old-pods", "breaks-old-pods"]);
    expect(() => checkRisks([rename], NONE, "expand")).toThrow("allowBreakingMigrations[0]");
    expect(() => checkRisks([file], { ...NONE, allowLocking: ack(file) }, "contract")).toThrow(
      /^pending migrations drop or rewrite data[^]*\(contract phase\)[^]*allowDestructiveMigrations\[0\][^]*$/,
    );
    expect(() => checkRisks([file], { ...NONE, allowDestructive: ack(file) }, "contract")).toThrow(
      /^pending migrations hold a long exclusive lock[^]*allowLockingMigrations\[0\]/,
    );
    expect(
      checkRisks([file], { ...NONE, allowDestructive: ack(file), allowLocking: ack(file) }, "contract"),
    ).toHaveLength(4);
  });

  it("appends to the key's own list, and replaces an entry for an edited file in place", () => {
    const older = { version: "20260101000000", digest: "0123456789ab" };
    const stale = { version: file.version, digest: "0".repeat(16) };
    expect(() =>
      checkRisks(
        [file],
        { allowDestructive: ack(file), allowBreaking: [older, stale], allowLocking: [older] },
        "expand",
      ),
    ).toThrow(
      "20260701000000_change.sql changed since it was acknowledged in allowBreakingMigrations (an acknowledgement names the file's content)",
    );
    expect(() =>
      checkRisks(
        [file],
        { allowDestructive: ack(file), allowBreaking: [older, stale], allowLocking: [older] },
        "expand",
      ),
    ).toThrow(
      `  pulumi config set --path --type string 'allowBreakingMigrations[1]' ${acknowledgementOf(file)}\n\n` +
        "pending migrations hold",
    );
    expect(() =>
      checkRisks([file], { allowDestructive: ack(file), allowBreaking: ack(file), allowLocking: [older] }, "expand"),
    ).toThrow(`'allowLockingMigrations[1]' ${acknowledgementOf(file)}`);
  });

  it("names each class's key", () => {
    expect(Object.values(RISK_CLASSES).map((c) => c.key)).toEqual([
      "allowDestructiveMigrations",
      "allowBreakingMigrations",
      "allowLockingMigrations",
    ]);
  });
});

describe("our own migrations/", () => {
  const shipped = loadMigrationDir(path.join(__dirname, "../../migrations")).files;

  it.each(shipped.map((f, i) => [f.version, i]))(
    "pass with no stack acknowledgement from any baseline: pending from %s on",
    (_, from) => {
      const pending = shipped.slice(from as number);
      const found = checkRisks(pending, NONE, "expand");
      // A fresh database creates every table in the same run: nothing at all to review.
      if (from === 0) expect(found).toEqual([]);
      // On a baselined database, plain CREATE INDEX on the API's tables, covered by the project's review.
      expect(found.every((f) => f.risk === "long-lock" && f.kind.startsWith("CREATE INDEX"))).toBe(true);
      const reviewed = new Set(PROJECT_REVIEWED["long-lock"].map((a) => a.version));
      expect(found.filter((f) => !reviewed.has(f.version))).toEqual([]);
    },
  );

  it("the review is bound to the content: an edited shipped file is refused again", () => {
    const logs = shipped.find((f) => f.version === "20260612000000")!;
    const edited = migration(`${logs.text}-- edited\n`, logs.version);
    expect(() => checkRisks([edited], NONE, "expand")).toThrow(
      /^pending migrations hold a long exclusive lock[^]*20260612000000_change.sql:6: CREATE INDEX without CONCURRENTLY/,
    );
  });
});
