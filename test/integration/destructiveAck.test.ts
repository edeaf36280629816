import { createHash } from "crypto";
import * as path from "path";
import { TestStack } from "../../testbed/stack";

/**
 * The destructive-change guard's advice, followed through the real `pulumi` CLI (file
 * backend, a throw-away stack, the project's own Pulumi.yaml with its declared config types):
 * the commands it prints must store what the config schema and our reader accept.
 */

jest.setTimeout(600_000);

const GUARD_PROGRAM = { compiledProgram: path.join(__dirname, "../support/guardProgram.ts") };
const DSN = "host=127.0.0.1 port=5432 dbname=api user=app password=unused sslmode=disable";
const DROP_LOGS = "DROP TABLE logs;\n";
const TRUNCATE = "TRUNCATE events;\n";
/** The entry that acknowledges a file of this version and content. */
const entry = (version: string, text: string) =>
  `${version}:${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;

/** The `pulumi config set ...` commands in a failed preview's message, as argv. */
function printedCommands(output: string): string[][] {
  return [...output.matchAll(/^\s*pulumi (config set [^\n]*)$/gm)].map((m) =>
    m[1].split(" ").map((arg) => arg.replace(/^'(.*)'$/, "$1")),
  );
}

let stack: TestStack | undefined;
afterEach(async () => {
  stack?.remove();
  stack = undefined;
});

describe("acknowledging a destructive migration with the printed command", () => {
  it("the printed commands store entries the schema and the reader accept, appending each time", async () => {
    stack = await TestStack.create(`ack-${process.pid}`, {}, DSN, GUARD_PROGRAM);
    stack.writeMigration("20990101000000_drop_logs.sql", DROP_LOGS);

    const refused = await stack.preview();
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("20990101000000_drop_logs.sql:1: DROP TABLE: DROP TABLE logs");
    const first = printedCommands(refused.output);
    expect(first).toEqual([
      [
        "config",
        "set",
        "--path",
        "--type",
        "string",
        "allowDestructiveMigrations[0]",
        entry("20990101000000", DROP_LOGS),
      ],
    ]);
    for (const args of first) expect((await stack.pulumi(...args)).code).toBe(0);

    const up = await stack.up();
    expect(up.output).not.toMatch(/error/i);
    expect(up.code).toBe(0);
    expect(await stack.outputs()).toMatchObject({ allowDestructive: [entry("20990101000000", DROP_LOGS)] });

    // A second destructive file: the command appends after the version already acknowledged.
    stack.writeMigration("20990102000000_truncate.sql", TRUNCATE);
    const again = await stack.preview();
    expect(again.code).not.toBe(0);
    const second = printedCommands(again.output);
    expect(second).toEqual([
      [
        "config",
        "set",
        "--path",
        "--type",
        "string",
        "allowDestructiveMigrations[1]",
        entry("20990102000000", TRUNCATE),
      ],
    ]);
    for (const args of second) expect((await stack.pulumi(...args)).code).toBe(0);
    expect((await stack.up()).code).toBe(0);
    expect(await stack.outputs()).toMatchObject({
      allowDestructive: [entry("20990101000000", DROP_LOGS), entry("20990102000000", TRUNCATE)],
    });

    // The acknowledged file edited and re-hashed: refused again, its entry replaced in place.
    const edited = "DROP TABLE logs;\nDROP TABLE software;\n";
    stack.writeMigration("20990102000000_truncate.sql", edited);
    const stale = await stack.preview();
    expect(stale.code).not.toBe(0);
    expect(stale.output).toContain("20990102000000_truncate.sql changed since it was acknowledged");
    expect(printedCommands(stale.output)).toEqual([
      ["config", "set", "--path", "--type", "string", "allowDestructiveMigrations[1]", entry("20990102000000", edited)],
    ]);
  });

  it("each class prints the command of its own key; following them all lets the up through", async () => {
    stack = await TestStack.create(`ack-keys-${process.pid}`, {}, DSN, GUARD_PROGRAM);
    // audit is not created by this run: a rename breaks the old pods, an index build locks it.
    const change = "ALTER TABLE audit RENAME COLUMN a TO b;\nCREATE INDEX audit_b ON audit (b);\n";
    stack.writeMigration("20990101000000_audit.sql", change);
    const refused = await stack.preview();
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain(
      "20990101000000_audit.sql:1: RENAME COLUMN: ALTER TABLE audit RENAME COLUMN a TO b",
    );
    expect(refused.output).toContain("20990101000000_audit.sql:2: CREATE INDEX without CONCURRENTLY (blocks writes)");
    const commands = printedCommands(refused.output);
    const ack = entry("20990101000000", change);
    expect(commands).toEqual([
      ["config", "set", "--path", "--type", "string", "allowBreakingMigrations[0]", ack],
      ["config", "set", "--path", "--type", "string", "allowLockingMigrations[0]", ack],
    ]);
    for (const args of commands) expect((await stack.pulumi(...args)).code).toBe(0);
    const up = await stack.up();
    expect(up.output).not.toMatch(/error/i);
    expect(up.code).toBe(0);
    expect(await stack.outputs()).toMatchObject({ allowDestructive: [], allowBreaking: [ack], allowLocking: [ack] });
  });

  it.each<[string, string[][]]>([
    ["--path without --type", [["--path", "allowDestructiveMigrations[0]", entry("20990101000000", DROP_LOGS)]]],
    ["a plain value", [["allowDestructiveMigrations", entry("20990101000000", DROP_LOGS)]]],
  ])("what the CLI stores from %s is read as the entry", async (_, commands) => {
    stack = await TestStack.create(`ack-forms-${process.pid}`, {}, DSN, GUARD_PROGRAM);
    stack.writeMigration("20990101000000_drop_logs.sql", DROP_LOGS);
    for (const args of commands) expect((await stack.pulumi("config", "set", ...args)).code).toBe(0);
    const up = await stack.up();
    expect(up.output).not.toMatch(/error/i);
    expect(up.code).toBe(0);
    expect(await stack.outputs()).toMatchObject({ allowDestructive: [entry("20990101000000", DROP_LOGS)] });
  });
});
