import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * tools/language-host.sh, the wrapper tools/build.sh installs in front of the 3.68 language host:
 * the flags it passes for Pulumi.yaml's runtime options. Here the "host" prints its arguments.
 */

const ROOT = path.join(__dirname, "../..");
let dir: string;
let wrapper: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "language-host-"));
  const host = path.join(dir, "host");
  fs.writeFileSync(host, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n", { mode: 0o755 });
  wrapper = path.join(dir, "pulumi-language-nodejs");
  const template = fs.readFileSync(path.join(ROOT, "tools/language-host.sh"), "utf8");
  fs.writeFileSync(wrapper, template.replace("@HOST@", host), { mode: 0o755 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The host's arguments when the CLI starts the wrapper in `cwd` with `args`. */
const hostArgs = (cwd: string, ...args: string[]) =>
  execFileSync(wrapper, args, { cwd, encoding: "utf8" }).split("\n").slice(0, -1);

/** A project folder with this Pulumi.yaml and a subfolder. */
function project(yaml: string): string {
  const p = fs.mkdtempSync(path.join(dir, "project-"));
  fs.writeFileSync(path.join(p, "Pulumi.yaml"), yaml);
  fs.mkdirSync(path.join(p, "bin", "lib"), { recursive: true });
  return p;
}

test("this repository's Pulumi.yaml, from a folder below it: nodeargs and typescript: false", () => {
  // Not bin/, where the CLI starts it: the unit suite runs before the first build.
  expect(hostArgs(path.join(ROOT, "lib", "config"), "127.0.0.1:1234")).toEqual([
    "-nodeargs=--require ./runtime/preload.js",
    "-typescript=false",
    "127.0.0.1:1234",
  ]);
});

test("a double-quoted nodeargs loses its quotes; spaces around false are fine; comments and blank lines are skipped", () => {
  const p = project(
    'name: p\n# a comment\nruntime:\n  name: nodejs\n\n  options:\n    # the options\n    nodeargs: "--a b --c"\n    typescript:   false  \nmain: bin/index.js\n',
  );
  expect(hostArgs(path.join(p, "bin", "lib"), "x")).toEqual(["-nodeargs=--a b --c", "-typescript=false", "x"]);
});

test("only the runtime section counts: the same keys elsewhere are not options", () => {
  const p = project(
    "name: p\nconfig:\n  typescript:\n    default: false\n  options:\n    typescript: false\n    nodeargs: --elsewhere\nruntime: nodejs\n",
  );
  expect(hostArgs(p, "x")).toEqual(["x"]);
  const after = project(
    "name: p\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nconfig:\n  typescript: false\n",
  );
  expect(hostArgs(after, "x")).toEqual(["x"]);
});

test("the runtime section may come last, without a newline at the end of the file", () => {
  const p = project("name: p\nconfig: {}\nruntime:\n  name: nodejs\n  options:\n    typescript: false");
  expect(hostArgs(p, "x")).toEqual(["-typescript=false", "x"]);
});

test("the first nodeargs wins", () => {
  const p = project("runtime:\n  options:\n    nodeargs: --first\n    nodeargs: --second\n");
  expect(hostArgs(p, "x")).toEqual(["-nodeargs=--first", "x"]);
});
