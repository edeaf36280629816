import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROGRAM_DIRS } from "../../testbed/stack";

/**
 * scripts/build.sh and the migrations:* wrapper on a copy of the project: the stamp check
 * catches an edited source, and the wrapper rebuilds before it runs, so an edit always counts.
 * Then what the compiled program and its preload do in a plain Node process.
 */

jest.setTimeout(5 * 60_000);

const ROOT = path.join(__dirname, "../..");
const FILES = ["index.ts", "Pulumi.yaml", "package.json", "tsconfig.json", "tsconfig.build.json"];
const DIRS = [...PROGRAM_DIRS, "scripts", "migrations"];
let dir: string;

const sh = (script: string, ...args: string[]) => {
  const r = spawnSync("bash", [path.join(dir, script), ...args], { cwd: dir, encoding: "utf8" });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "compiled-"));
  for (const f of [...FILES, ...DIRS]) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  // The repository's build when there is one (npm test builds first): rebuilt only if stale.
  if (fs.existsSync(path.join(ROOT, "bin")))
    fs.cpSync(path.join(ROOT, "bin"), path.join(dir, "bin"), { recursive: true });
  const built = sh("scripts/build.sh");
  if (built.code !== 0) throw new Error(`scripts/build.sh failed:\n${built.output}`);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const PRELOAD = ["-r", "./bin/runtime/preload.js"];

/** `node <preload> -e <script>` in the project copy: its stdout, once it exited 0 with `stderr`
 * (none unless told) on stderr. */
function node(
  script: string,
  { preload = PRELOAD, env = {}, stderr = "" }: { preload?: string[]; env?: NodeJS.ProcessEnv; stderr?: unknown } = {},
): string {
  const r = spawnSync("node", [...preload, "-e", script], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr });
  return r.stdout;
}

test("a fresh build passes its check and is not rebuilt", () => {
  const stamp = fs.statSync(path.join(dir, "bin", "sources.sha256")).mtimeMs;
  expect(sh("scripts/build.sh", "--check").code).toBe(0);
  expect(sh("scripts/build.sh")).toEqual({ code: 0, output: "" });
  expect(fs.statSync(path.join(dir, "bin", "sources.sha256")).mtimeMs).toBe(stamp);
});

test("an edited source: the check fails naming it; migrations:check rebuilds, then runs the edit", () => {
  const file = path.join(dir, "cli", "migrations.ts");
  const text = fs.readFileSync(file, "utf8");
  const edited = text.replace("atlas.sum matches", "atlas.sum matches (edited)");
  expect(edited).not.toBe(text);
  fs.writeFileSync(file, edited);

  const check = sh("scripts/build.sh", "--check");
  expect(check.code).toBe(1);
  expect(check.output).toContain("bin/ is stale: cli/migrations.ts changed since it was compiled");

  const run = sh("scripts/migrations.sh", "check");
  expect(run.code).toBe(0);
  expect(run.output).toContain("build: compiled into bin/");
  expect(run.output).toContain("atlas.sum matches (edited)");
  expect(sh("scripts/build.sh", "--check").code).toBe(0);
  // Warm: no rebuild, no message.
  const again = sh("scripts/migrations.sh", "check");
  expect(again.output).not.toContain("build:");
  expect(again.output).toContain("atlas.sum matches (edited)");
});

test("the compiled preload defers TypeScript, arborist and normalize-package-data until the SDK uses them, and then they work", () => {
  // Files only the real modules load (the stand-ins sit under the entry files' names).
  const script = `
    const loaded = () => Object.keys(require.cache).filter((f) =>
      /node_modules\\/typescript\\/lib\\/typescript\\.js$|@npmcli\\/arborist\\/lib\\/arborist\\/index\\.js$|normalize-package-data\\/lib\\/fixer\\.js$/.test(f)).length;
    const pulumi = require("@pulumi/pulumi");
    const before = loaded();
    (async () => {
      const fn = await pulumi.runtime.serializeFunction(() => 42);
      const paths = await pulumi.runtime.computeCodePaths();
      console.log(JSON.stringify({ before, after: loaded(), serialized: fn.text.includes("42"), codePaths: paths.size }));
    })();`;
  const out = node(script, { stderr: expect.any(String) });
  const result = JSON.parse(out) as { before: number; after: number; serialized: boolean; codePaths: number };
  expect(result).toEqual({ before: 0, after: 3, serialized: true, codePaths: expect.any(Number) });
  expect(result.codePaths).toBeGreaterThan(0);
});

test("the compiled preload defers the Automation API, Helm/kustomize/YAML, zod's locales and js-yaml; each works on first use", () => {
  // Files only the real modules load (the stand-ins sit under the entry files' names).
  const script = `
    const real = /@pulumi\\/pulumi\\/automation\\/stack\\.js$|@pulumi\\/kubernetes\\/(helm\\/v3\\/helm|kustomize\\/kustomize|yaml\\/yaml)\\.js$|zod\\/v4\\/locales\\/fr\\.cjs$|js-yaml\\/lib\\/loader\\.js$/;
    const loaded = () => Object.keys(require.cache).filter((f) => real.test(f)).length;
    const pulumi = require("@pulumi/pulumi");
    const k8s = require("@pulumi/kubernetes");
    const { z } = require("zod");
    // What the harness (cmd/run) reads the program's package.json with.
    const { readPackageManifest } = require("@pulumi/pulumi/runtime/manifest");
    const before = loaded();
    const used = [pulumi.automation.LocalWorkspace, k8s.helm.v3.Chart, k8s.kustomize.Directory, k8s.yaml.ConfigFile]
      .map((f) => typeof f);
    const fr = z.string().safeParse(1, { error: z.locales.fr().localeError }).error.issues[0].message;
    // A package.yaml instead of a package.json: what the SDK reads it with.
    const fs = require("fs"), yamlDir = fs.mkdtempSync(require("os").tmpdir() + "/package-yaml-");
    fs.writeFileSync(yamlDir + "/package.yaml", "name: from-yaml\\nmain: index.js\\n");
    const manifest = readPackageManifest(yamlDir).data;
    fs.rmSync(yamlDir, { recursive: true });
    console.log(JSON.stringify({ before, after: loaded(), used, fr, manifest }));`;
  expect(JSON.parse(node(script))).toEqual({
    before: 0,
    after: 6,
    used: ["function", "function", "function", "function"],
    fr: expect.stringMatching(/^Entrée invalide/),
    manifest: { name: "from-yaml", main: "index.js" },
  });
});

describe("with the compiled preload, OpenTelemetry's SDK loads only when tracing is asked for, and then works", () => {
  // Files only the real modules load (the stand-ins sit under the packages' entry files).
  const probe = `
    const real = /@opentelemetry\\/(exporter-zipkin\\/build\\/src\\/zipkin|sdk-trace-node\\/build\\/src\\/NodeTracerProvider|resources\\/build\\/src\\/ResourceImpl)\\.js$/;
    const loaded = () => Object.keys(require.cache).some((f) => real.test(f));`;
  const traced = (script: string, options: { env?: NodeJS.ProcessEnv; preload?: string[] } = {}) =>
    JSON.parse(node(probe + script, options)) as Record<string, unknown>;

  test("pulumi --tracing <zipkin url>: the harness's tracing.start() exports the program's spans there", () => {
    const script = `
      const http = require("http");
      const tracing = require("@pulumi/pulumi/cmd/run/tracing.js");
      const before = loaded();
      const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          res.end();
          const spans = JSON.parse(body).map((s) => [s.name, s.localEndpoint.serviceName]);
          console.log(JSON.stringify({ before, after: loaded(), path: req.url, spans }));
          process.exit(0);
        });
      });
      server.listen(0, "127.0.0.1", () => {
        tracing.start("http://127.0.0.1:" + server.address().port + "/api/v2/spans");
        tracing.newSpan("language-runtime.test").end();
      });`;
    const exported = { after: true, path: "/api/v2/spans", spans: [["language-runtime.test", "nodejs-runtime"]] };
    expect(traced(script)).toEqual({ before: false, ...exported });
    // The control: without the preload, the same script loads them up front.
    expect(traced(script, { preload: [] })).toEqual({ before: true, ...exported });
  });

  test("TRACEPARENT (the engine's trace context): the harness's instrumentation joins that trace", () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const result = traced(
      `
      const before = loaded();
      const instrumentation = require("@pulumi/pulumi/cmd/run/instrumentation.js");
      const api = require("@opentelemetry/api");
      const joined = instrumentation.withRootContext(() => api.trace.getSpanContext(api.context.active()).traceId);
      instrumentation.shutdownTracing().then(() => console.log(JSON.stringify({ before, after: loaded(), joined })));`,
      { env: { TRACEPARENT: `00-${traceId}-00f067aa0ba902b7-01` } },
    );
    expect(result).toEqual({ before: false, after: true, joined: traceId });
  });
});

test("the compiled preload turns on Node's compile cache, in os.tmpdir(); NODE_DISABLE_COMPILE_CACHE turns it off", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "compile-cache-"));
  const cacheDir = (preload: string[], env: NodeJS.ProcessEnv = {}) =>
    node('console.log(require("module").getCompileCacheDir() ?? "off")', {
      preload,
      env: { NODE_COMPILE_CACHE: undefined, TMPDIR: tmp, ...env },
    }).trim();
  try {
    expect(cacheDir([])).toBe("off");
    expect(cacheDir(PRELOAD)).toContain(path.join(tmp, "node-compile-cache"));
    // What the preload loaded is in it for the next run.
    expect(fs.readdirSync(path.join(tmp, "node-compile-cache"))).not.toEqual([]);
    expect(cacheDir(PRELOAD, { NODE_DISABLE_COMPILE_CACHE: "1" })).toBe("off");
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("the compiled preload keeps the SDK's harness from installing source-map-support", () => {
  // What cmd/run/index.js requires first, from where it requires it; then a stack is formatted.
  const script = `
    const nodeDefault = Error.prepareStackTrace;
    const harness = require("module").createRequire(require.resolve("@pulumi/pulumi/cmd/run/index.js"));
    harness("source-map-support/register");
    new Error().stack;
    console.log(JSON.stringify({
      installed: Error.prepareStackTrace !== nodeDefault,
      loaded: Object.keys(require.cache).some((f) => f.endsWith("/source-map-support/source-map-support.js")),
    }));`;
  const run = (preload: string[]) => JSON.parse(node(script, { preload })) as { installed: boolean; loaded: boolean };
  expect(run([])).toEqual({ installed: true, loaded: true });
  expect(run(PRELOAD)).toEqual({ installed: false, loaded: false });
});

/**
 * A preview without pending migrations must not pay for the SQL parser (WebAssembly) or the
 * PostgreSQL driver: importing the program's modules loads neither; they load on first use.
 */
test("the compiled program's modules import neither libpg-query nor pg until they are used", () => {
  const script = `
    const loaded = () => Object.keys(require.cache).map((k) => k.replace(/.*node_modules\\//, ""))
      .filter((k) => k.startsWith("libpg-query/") || k.startsWith("pg/")).map((k) => k.split("/")[0]);
    require("./bin/lib/migration/guard"); require("./bin/lib/database/state"); require("./bin/lib/migration/preflight");
    require("./bin/runtime/userError"); require("./bin/components/developersItaliaApi");
    const before = [...new Set(loaded())];
    require("./bin/lib/migration/guard").loadSqlParser().then(() => {
      console.log(JSON.stringify({ before, after: [...new Set(loaded())] }));
    });`;
  expect(JSON.parse(node(script))).toEqual({ before: [], after: ["libpg-query"] });
});

/**
 * What Pulumi does with the error the program throws: its uncaught-error handler formats it
 * with util.inspect in colour (@pulumi/pulumi/cmd/run/error.js). On this Node, a stack frame
 * that names a file directly under a scoped package (what Pulumi's source maps produce:
 * node_modules/@pulumi/resource.ts) makes that loop while memory lasts (nodejs/node#64011).
 * The errors are raised inside such a frame (a function whose source URL is that path), in a
 * process with a 64 MB heap: it must print the message, not run out of memory.
 */
test("Pulumi's handler formats what the compiled program throws without running out of memory", () => {
  const script = `
    const { userError } = require("./bin/runtime/userError");
    const { ConfigError } = require("./bin/lib/config/source");
    const { defaultErrorMessage } = require("@pulumi/pulumi/cmd/run/error");
    const inPulumiFrame = new Function("f", "return f();\\n//# sourceURL=/app/node_modules/@pulumi/resource.ts");
    for (const cause of [new ConfigError("replicas", "must be a whole number"), new TypeError("a bug")]) {
      const stopped = inPulumiFrame(() => userError(cause));
      console.log(defaultErrorMessage(stopped).split("\\n")[0]);
    }`;
  const out = node(script, { preload: ["--max-old-space-size=64", ...PRELOAD] });
  expect(out).toContain("config replicas: must be a whole number");
  expect(out).toContain("TypeError: a bug");
});

describe("the npm commands answer --help with their usage, and a bad command line with the usage and exit 2", () => {
  const cli = (file: string, ...args: string[]) => {
    const r = spawnSync("node", [path.join(dir, "bin", "cli", file), ...args], { cwd: dir, encoding: "utf8" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  it.each([
    ["plan.js", [], "usage: npm run plan"],
    ["deploy.js", [], "usage: npm run deploy"],
    ["migrations.js", ["check"], "usage: npm run migrations:hash"],
    ["migrations.js", ["guard"], "npm run migrations:guard"],
  ])("%s %p", (file, before, usage) => {
    for (const help of ["--help", "-h"]) {
      const r = cli(file, ...before, help);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
      expect(r.stdout).toContain(usage);
    }
    const bad = cli(file, ...(before.length > 0 ? ["guard"] : []), "--no-such-option");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--no-such-option'");
    expect(bad.stderr).toContain("usage: npm run");
  });
});
