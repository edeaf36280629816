import * as fs from "fs";
import { defer, modulesToDefer, sdkSourceMapSupport, skip } from "../../lib/deferSdkModules";

/** A module cache and loader of our own: what `defer` does to Node's, observed. */
function fakeModules(exports: Record<string, unknown>) {
  const cache: NodeJS.Dict<NodeJS.Module> = {};
  const loads: string[] = [];
  const load = (file: string) => {
    loads.push(file);
    expect(cache[file]).toBeUndefined(); // the real module is loaded, not the stand-in
    return exports;
  };
  return { cache, loads, load };
}

describe("defer", () => {
  it("loads the real module on the first property read, once, and keeps the stand-in cached", () => {
    const { cache, loads, load } = fakeModules({ version: "5.9.3", createSourceFile: () => "parsed" });
    defer({ file: "/sdk/typescript-shim.js", importedAsNamespace: false }, cache, load);
    const ts = cache["/sdk/typescript-shim.js"]!.exports as Record<string, unknown>;
    expect(loads).toEqual([]);
    expect(ts.version).toBe("5.9.3");
    expect((ts.createSourceFile as () => string)()).toBe("parsed");
    expect("version" in ts).toBe(true);
    expect(loads).toEqual(["/sdk/typescript-shim.js"]);
    expect(cache["/sdk/typescript-shim.js"]!.exports).toBe(ts);
    expect(cache["/sdk/typescript-shim.js"]!.loaded).toBe(true);
  });

  it("imported with `import * as`: answers __esModule without loading, and default with the whole module", () => {
    class Arborist {}
    const { cache, loads, load } = fakeModules({ Arborist });
    defer({ file: "/arborist/index.js", importedAsNamespace: true }, cache, load);
    const namespace = cache["/arborist/index.js"]!.exports as Record<string, unknown>;
    expect(namespace.__esModule).toBe(true);
    expect(loads).toEqual([]);
    expect(namespace.Arborist).toBe(Arborist);
    expect(namespace.default).toEqual({ Arborist });
  });

  it("a plain module keeps its own __esModule", () => {
    const { cache, load } = fakeModules({});
    defer({ file: "/plain.js", importedAsNamespace: false }, cache, load);
    expect((cache["/plain.js"]!.exports as Record<string, unknown>).__esModule).toBeUndefined();
  });

  it("a module that fails to load fails where it is used, and the next use tries again", () => {
    const cache: NodeJS.Dict<NodeJS.Module> = {};
    let attempts = 0;
    const load = () => {
      attempts++;
      throw new Error("Cannot find module 'typescript'");
    };
    defer({ file: "/sdk/typescript-shim.js", importedAsNamespace: false }, cache, load);
    const ts = cache["/sdk/typescript-shim.js"]!.exports as Record<string, unknown>;
    expect(() => ts.version).toThrow("Cannot find module 'typescript'");
    expect(() => ts.version).toThrow("Cannot find module 'typescript'");
    expect(attempts).toBe(2);
    expect(cache["/sdk/typescript-shim.js"]!.exports).toBe(ts);
  });
});

describe("modulesToDefer", () => {
  it("finds every module in the installed packages (a release that moves one fails here)", () => {
    const modules = modulesToDefer();
    expect(modules.map((m) => [m.file.replace(/.*node_modules\//, ""), m.importedAsNamespace])).toEqual([
      ["@pulumi/pulumi/typescript-shim.js", false],
      ["@npmcli/arborist/lib/index.js", true],
      ["@pulumi/pulumi/automation/index.js", true],
      ["@pulumi/kubernetes/helm/index.js", false],
      ["@pulumi/kubernetes/kustomize/index.js", false],
      ["@pulumi/kubernetes/yaml/index.js", false],
      ["zod/v4/locales/index.cjs", true],
    ]);
    for (const m of modules) expect(fs.existsSync(m.file)).toBe(true);
  });

  it("each is required the way its stand-in expects: `import * as` (__importStar) or a plain require", () => {
    for (const { requiredBy, request, importedAsNamespace } of modulesToDefer()) {
      const text = fs.readFileSync(requiredBy!, "utf8");
      const call = `require("${request}")`;
      expect(text).toContain(importedAsNamespace ? `__importStar(${call})` : ` = ${call};`);
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
