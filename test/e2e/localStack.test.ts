import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TestStack } from "../../testbed/stack";

/**
 * The commands read a stack the way the program does, wherever its config lives: `npm run
 * local` keeps its stack's config (the committed Pulumi.local.yaml plus the generated DSN) in
 * its state directory, and `npm run plan -- --stack <it>` must find it there, as `pulumi up
 * --config-file` does. Real `pulumi` CLI, no cluster needed (an offline plan).
 */

jest.setTimeout(5 * 60_000);

const ROOT = path.join(__dirname, "../..");
let stack: TestStack;
let state: string;
const name = `loc-${process.pid}`;

beforeAll(async () => {
  stack = await TestStack.create(name, { migrationPreflight: "offline" }, "postgres://app:s3cret@db.invalid:5432/api");
  state = fs.mkdtempSync(path.join(os.tmpdir(), "local-state-"));
  // Where scripts/local.sh keeps it: <state dir>/<stack>/Pulumi.<stack>.yaml, none beside Pulumi.yaml.
  fs.mkdirSync(path.join(state, name));
  fs.renameSync(path.join(stack.dir, `Pulumi.${name}.yaml`), path.join(state, name, `Pulumi.${name}.yaml`));
});

afterAll(async () => {
  stack?.remove();
  fs.rmSync(state, { recursive: true, force: true });
});

const plan = (args: string[], stateDir: string) =>
  stack.command(
    "npm",
    ["run", "--silent", "plan", "--", "--cwd", stack.dir, "--stack", name, ...args],
    { STATE_DIR: stateDir },
    ROOT,
  );

it("npm run plan -- --stack <local stack> reads the config npm run local keeps", async () => {
  const r = await plan([], state);
  expect(r.output).toContain(`Migration plan: stack \`${name}\``);
  expect(r.output).not.toContain("s3cret");
  expect(r.code).toBe(0);
});

it("--config-file names any other config file", async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "no-state-"));
  const r = await plan(["--config-file", path.join(state, name, `Pulumi.${name}.yaml`)], empty);
  expect(r.code).toBe(0);
  expect(r.output).toContain(`Migration plan: stack \`${name}\``);
});

it("without either, the stack has no DSN, and the error says which key", async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "no-state-"));
  const r = await plan([], empty);
  expect(r.code).toBe(1);
  expect(r.output).toContain("config databaseDsn: is required");
});
