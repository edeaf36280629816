import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createDatabase, TestDatabase } from "../../testbed/pg";
import { TestStack } from "../../testbed/stack";

/**
 * The real Pulumi CLI runs the compiled program (Pulumi.yaml `main: bin/index.js`, built by
 * scripts/build.sh), and refuses it when a source changed after the build: a stale bin/
 * must never deploy.
 */

jest.setTimeout(5 * 60_000);

let db: TestDatabase;
let stack: TestStack;

beforeAll(async () => {
  db = await createDatabase("e2e_compiled");
  stack = await TestStack.create("compiled", { namespace: `e2e-compiled-${process.pid}`, replicas: "1" }, db.url);
});

afterAll(async () => {
  stack?.remove();
  await db?.drop();
});

test("the freshly built program previews, without loading ts-node (typescript: false)", async () => {
  // The SDK's debug log names the program it runs, and ts-node when it registers it.
  const result = await stack.preview("--logtostderr", "-v=3");
  expect(result.code).toBe(0);
  expect(result.output).toContain("5 migration(s) will run, in this order:");
  expect(result.output).toMatch(/Running program '[^']*bin\/index\.js'/);
  expect(result.output).not.toContain("Found ts-node version");
});

test("the program's Node process never loads TypeScript, arborist, source-map-support or the other unused modules (Pulumi.yaml nodeargs, runtime/preload.ts)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loaded-modules-"));
  const probe = path.join(__dirname, "../support/loadedModules.js");
  const result = await stack.command("pulumi", ["preview", "--non-interactive", "--color", "never"], {
    NODE_OPTIONS: `--require ${probe}`,
    LOADED_MODULES_DIR: dir,
  });
  expect(result.code).toBe(0);
  const loaded = fs.readdirSync(dir).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as string[]);
  fs.rmSync(dir, { recursive: true });
  // The process that ran the program: the SDK's harness, which loaded bin/index.js.
  const program = loaded.filter((files) => files.some((f) => f.endsWith("/bin/index.js")));
  expect(program).toHaveLength(1);
  const files = program[0].map((f) => f.replace(/.*\/node_modules\//, ""));
  expect(files).toContain("@pulumi/pulumi/index.js");
  expect(files).toContain("@pulumi/kubernetes/index.js");
  // Files only the real modules load (their stand-ins sit under the entry files' names).
  expect(files).not.toContain("typescript/lib/typescript.js");
  expect(files).not.toContain("@npmcli/arborist/lib/arborist/index.js");
  expect(files).not.toContain("source-map-support/source-map-support.js");
  for (const real of [
    "@pulumi/pulumi/automation/stack.js",
    "@pulumi/kubernetes/helm/v3/helm.js",
    "@pulumi/kubernetes/kustomize/kustomize.js",
    "@pulumi/kubernetes/yaml/yaml.js",
    "zod/v4/locales/fr.cjs",
    "@opentelemetry/sdk-trace-node/build/src/NodeTracerProvider.js",
    "@opentelemetry/exporter-zipkin/build/src/zipkin.js",
    "@opentelemetry/instrumentation-grpc/build/src/instrumentation.js",
    "normalize-package-data/lib/fixer.js",
    "js-yaml/lib/loader.js",
  ])
    expect(files).not.toContain(real);
});

// Run from TypeScript, the check has nothing to compare (runtime/buildStamp.ts): this failure
// proves the CLI ran bin/index.js.
test("a source edited after the build fails preview before any resource, saying what to run", async () => {
  fs.appendFileSync(path.join(stack.dir, "lib", "database", "dsn.ts"), "\n// edited after the build\n");
  const result = await stack.preview();
  expect(result.code).not.toBe(0);
  expect(result.output).toContain(
    "bin/ is stale: lib/database/dsn.ts changed since it was compiled; run `npm run build` (npm test and npm run local build it too)",
  );
  // A RunError: the message alone, no stack trace.
  expect(result.output).not.toContain("at assertBuildCurrent");
  expect(result.output).not.toMatch(/\+ +kubernetes:core\/v1:Namespace/);
});

// nodejs/node#64011 (docs/internals.md, "The program runs compiled"): with source-map-support installed, the
// SDK's frames are named like node_modules/@pulumi/resource.ts, and formatting an uncaught error
// that has one loops until the heap is exhausted (58 s and 3.7 GB here, by hand). The preload
// keeps it out; this error is raised where userError cannot turn it into a RunError.
test("a bug inside an apply fails the preview with its message, in a 128 MB heap", async () => {
  await stack.compileProgram(path.join(__dirname, "../support/bugInApply.ts"));
  const result = await stack.command("pulumi", ["preview", "--non-interactive", "--color", "never"], {
    NODE_OPTIONS: "--max-old-space-size=128",
  });
  expect(result.code).not.toBe(0);
  expect(result.output).not.toContain("heap out of memory");
  expect(result.output).toContain("TypeError: a bug inside an apply");
});
