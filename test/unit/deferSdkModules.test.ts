import * as fs from "fs";
import * as path from "path";
import { types } from "util";
import { defer, modulesToDefer, sdkSourceMapSupport, skip } from "../../runtime/deferSdkModules";

/** A module cache and loader of our own: what `defer` does to Node's, observed. The loader
 * puts what it loads in the cache, as require does. */
function fakeModules(byFile: Record<string, Record<string, unknown>>) {
  const cache: NodeJS.Dict<NodeJS.Module> = {};
  const loads: string[] = [];
  const load = (file: string) => {
    loads.push(file);
    expect(cache[file]).toBeUndefined(); // the real module is loaded, not the stand-in
    const exports = byFile[file];
    if (!exports) throw new Error(`Cannot find module '${file}'`);
    cache[file] = { exports, loaded: true } as NodeJS.Module;
    return exports;
  };
  return { cache, loads, load };
}

const exportsOf = (cache: NodeJS.Dict<NodeJS.Module>, file: string) => cache[file]!.exports as Record<string, unknown>;

describe("defer", () => {
  it("plain: loads the real module on the first property read, once; the real module then replaces the stand-in", () => {
    const real = { version: "5.9.3", createSourceFile: () => "parsed" };
    const { cache, loads, load } = fakeModules({ "/sdk/typescript-shim.js": real });
    defer([{ file: "/sdk/typescript-shim.js", importedAs: "plain" }], cache, load);
    const ts = exportsOf(cache, "/sdk/typescript-shim.js");
    expect(cache["/sdk/typescript-shim.js"]!.loaded).toBe(true);
    expect(loads).toEqual([]);
    expect(ts.version).toBe("5.9.3");
    expect((ts.createSourceFile as () => string)()).toBe("parsed");
    expect("version" in ts).toBe(true);
    expect(loads).toEqual(["/sdk/typescript-shim.js"]);
    expect(exportsOf(cache, "/sdk/typescript-shim.js")).toBe(real);
  });

  it("namespace (`import * as`): answers __esModule without loading, and default with the whole module", () => {
    class Arborist {}
    const { cache, loads, load } = fakeModules({ "/arborist/index.js": { Arborist } });
    defer([{ file: "/arborist/index.js", importedAs: "namespace" }], cache, load);
    const namespace = exportsOf(cache, "/arborist/index.js");
    expect(namespace.__esModule).toBe(true);
    expect(loads).toEqual([]);
    expect(namespace.Arborist).toBe(Arborist);
    expect(namespace.default).toEqual({ Arborist });
  });

  it("a plain module keeps its own __esModule", () => {
    const { cache, load } = fakeModules({ "/plain.js": {} });
    defer([{ file: "/plain.js", importedAs: "plain" }], cache, load);
    expect(exportsOf(cache, "/plain.js").__esModule).toBeUndefined();
  });

  it("members (`const { A } = require(m)`): nothing loads until a member is called or constructed, then it is the real one", () => {
    class Exporter {
      constructor(readonly url: string) {}
    }
    const start = jest.fn(function (this: unknown, url: string) {
      return { self: this, url };
    });
    const { cache, loads, load } = fakeModules({ "/otel/index.js": { Exporter, start } });
    defer([{ file: "/otel/index.js", importedAs: "members" }], cache, load);
    const { Exporter: LazyExporter, start: lazyStart } = exportsOf(cache, "/otel/index.js") as {
      Exporter: typeof Exporter;
      start: typeof start;
    };
    expect(typeof LazyExporter).toBe("function");
    expect(loads).toEqual([]);
    const exporter = new LazyExporter("http://127.0.0.1:9411");
    expect(exporter).toBeInstanceOf(Exporter);
    expect(exporter.url).toBe("http://127.0.0.1:9411");
    const self = {};
    expect(lazyStart.call(self, "x")).toEqual({ self, url: "x" });
    expect(loads).toEqual(["/otel/index.js"]);
  });

  it("a group loads together, with no stand-in of the group left in the cache while it loads", () => {
    const { cache, loads, load } = fakeModules({ "/a.js": { A: () => "a" }, "/b.js": { B: () => "b" } });
    const loadChecked = (file: string) => {
      for (const f of ["/a.js", "/b.js"]) if (f !== file && !loads.includes(f)) expect(cache[f]).toBeUndefined();
      return load(file);
    };
    defer(
      [
        { file: "/a.js", importedAs: "members", group: "g" },
        { file: "/b.js", importedAs: "members", group: "g" },
        { file: "/c.js", importedAs: "plain" },
      ],
      cache,
      loadChecked,
    );
    const { B } = exportsOf(cache, "/b.js") as { B: () => string };
    expect(B()).toBe("b");
    expect(loads).toEqual(["/a.js", "/b.js"]);
    expect(cache["/c.js"]!.loaded).toBe(true); // not in the group: still its stand-in
  });

  it("a module that fails to load fails where it is used, keeps its stand-in, and the next use tries again", () => {
    const { cache, loads, load } = fakeModules({});
    defer([{ file: "/sdk/typescript-shim.js", importedAs: "plain" }], cache, load);
    const ts = exportsOf(cache, "/sdk/typescript-shim.js");
    expect(() => ts.version).toThrow("Cannot find module '/sdk/typescript-shim.js'");
    expect(() => ts.version).toThrow("Cannot find module '/sdk/typescript-shim.js'");
    expect(loads).toHaveLength(2);
    expect(exportsOf(cache, "/sdk/typescript-shim.js")).toBe(ts);
  });
});

const TRACING = [
  "@opentelemetry/resources/build/src/index.js",
  "@opentelemetry/sdk-trace-base/build/src/index-shim.js",
  "@opentelemetry/exporter-zipkin/build/src/index.js",
  "@opentelemetry/instrumentation-grpc/build/src/index.js",
  "@opentelemetry/sdk-trace-node/build/src/index.js",
  "@opentelemetry/instrumentation/build/src/index.js",
];

describe("modulesToDefer", () => {
  it("finds every module in the installed packages (a release that moves one fails here)", () => {
    const modules = modulesToDefer();
    expect(modules.map((m) => [m.file.replace(/.*node_modules\//, ""), m.importedAs, m.group])).toEqual([
      ["@pulumi/pulumi/typescript-shim.js", "plain", undefined],
      ["@npmcli/arborist/lib/index.js", "namespace", undefined],
      ["normalize-package-data/lib/normalize.js", "namespace", undefined],
      ["js-yaml/index.js", "namespace", undefined],
      ["@pulumi/pulumi/automation/index.js", "namespace", undefined],
      ["@pulumi/kubernetes/helm/index.js", "plain", undefined],
      ["@pulumi/kubernetes/kustomize/index.js", "plain", undefined],
      ["@pulumi/kubernetes/yaml/index.js", "plain", undefined],
      ["zod/v4/locales/index.cjs", "namespace", undefined],
      ...TRACING.map((file) => [file, "members", "tracing"]),
    ]);
    for (const m of modules) expect(fs.existsSync(m.file)).toBe(true);
  });

  it("each is required the way its stand-in expects: plain, `import * as` or `import x from` (__importStar, __importDefault), or members only called", () => {
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    const sdkFiles = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return e.name === "node_modules" ? [] : sdkFiles(p);
        return e.name.endsWith(".js") ? [p] : [];
      });
    const texts = new Map(sdkFiles(sdk).map((f) => [f, fs.readFileSync(f, "utf8")]));
    for (const { requiredBy, request, importedAs } of modulesToDefer()) {
      const call = `require("${request}")`;
      if (importedAs !== "members") {
        const text = fs.readFileSync(requiredBy!, "utf8");
        const forms =
          importedAs === "namespace" ? [`__importStar(${call})`, `__importDefault(${call})`] : [` = ${call};`];
        expect({ requiredBy, request, form: forms.some((form) => text.includes(form)) }).toEqual({
          requiredBy,
          request,
          form: true,
        });
        continue;
      }
      // Every file of the SDK that requires it destructures it, and only calls or constructs each member.
      const users = [...texts].filter(([, text]) => text.includes(call));
      expect(users.map(([file]) => file)).toContain(requiredBy);
      for (const [file, text] of users) {
        const destructurings = [...text.matchAll(/const \{ ([\w, ]+) \} = require\("([^"]+)"\);/g)].filter(
          (m) => m[2] === request,
        );
        const requires = text.split(call).length - 1;
        expect({ file, destructured: destructurings.length }).toEqual({ file, destructured: requires });
        const destructured = destructurings.flatMap((m) => m[1].split(/, */));
        for (const name of destructured) {
          const uses = [...text.matchAll(new RegExp(`\\b${name}\\b(?!\\s*[(}:,])`, "g"))];
          expect({ file, name, uses: uses.length }).toEqual({ file, name, uses: 0 });
        }
      }
    }
  });

  it("defers nothing when the packages cannot be found", () => {
    const missing = (request: string) => {
      throw new Error(`Cannot find module '${request}'`);
    };
    expect(modulesToDefer(missing)).toEqual([]);
  });
});

describe("sdkSourceMapSupport and skip", () => {
  it("finds the file the SDK's harness requires (a new SDK release that moves it fails here)", () => {
    const file = sdkSourceMapSupport();
    expect(file?.replace(/.*node_modules\//, "")).toBe("source-map-support/register.js");
    expect(fs.existsSync(file!)).toBe(true);
    const harness = require.resolve("@pulumi/pulumi/cmd/run/index.js");
    expect(fs.readFileSync(harness, "utf8")).toContain('require("source-map-support/register")');
  });

  it("finds nothing when the SDK cannot be found", () => {
    const missing = (request: string) => {
      throw new Error(`Cannot find module '${request}'`);
    };
    expect(sdkSourceMapSupport(missing)).toBeUndefined();
  });

  it("puts an empty, loaded module in the cache", () => {
    const cache: NodeJS.Dict<NodeJS.Module> = {};
    skip("/sms/register.js", cache);
    expect(cache["/sms/register.js"]).toMatchObject({ filename: "/sms/register.js", loaded: true, exports: {} });
  });
});

describe("in the unit suite (test/support/deferInJest.ts)", () => {
  it("each module the program defers, but the tracing group, is a stand-in here too; it works on first use", () => {
    const deferred = modulesToDefer().filter((m) => !m.group);
    // What the SDK's own require of each gets in this test file's module registry.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = deferred.map((m) => require(m.file) as object);
    expect(loaded.map((exports) => types.isProxy(exports))).toEqual(deferred.map(() => true));
    const ts = loaded[deferred.findIndex((m) => m.file.endsWith("typescript-shim.js"))] as { version: string };
    expect(ts.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
