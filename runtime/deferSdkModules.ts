import Module from "module";
import * as path from "path";

/**
 * What runtime/preload.ts does before the Pulumi SDK loads (Pulumi.yaml,
 * `runtime.options.nodeargs`). At every preview and up, this program's packages load modules it
 * never calls: @pulumi/pulumi loads TypeScript's compiler (to serialize functions), npm's
 * arborist (to find a serialized function's packages), its Automation API and OpenTelemetry's
 * SDK (to export traces when `pulumi --tracing` asks for them), npm's package.json normalizer (for
 * the same serialized functions) and a YAML parser (for a package.yaml, where this program has a
 * package.json); @pulumi/kubernetes loads its Helm, kustomize and YAML support; zod loads its ~40
 * translations of error messages. Together about 850 modules at every run (docs/internals.md, "The program
 * runs compiled", has the CPU they cost).
 *
 * Each one gets a stand-in in Node's module cache that loads the real module the first time
 * it is used (DeferredModule.importedAs says how): code that uses them still works, it only
 * pays on first use, after which the real module replaces the stand-in in the cache.
 * An entry whose file is not where expected (another release) is not deferred and loads as
 * before.
 *
 * One more module is not loaded at all: see sdkSourceMapSupport.
 */

type Resolve = (request: string) => string;

const packageDir = (resolve: Resolve, name: string) => path.dirname(resolve(`${name}/package.json`));
const sdkDir = (resolve: Resolve) => packageDir(resolve, "@pulumi/pulumi");

/** A module to defer: `request` as `from` (a file of package `pkg`) requires it. */
interface Unused {
  readonly pkg: string;
  readonly from: string;
  readonly request: string;
  readonly importedAs: ImportForm;
  readonly group?: string;
}

/** OpenTelemetry's SDK, as cmd/run/tracing.js requires it: `const { A, B } = require(m)` at
 * load time, each member only called or constructed, by tracing.start() (`pulumi --tracing`)
 * and by cmd/run/instrumentation.js (TRACEPARENT set). One group: its packages require each
 * other (a class of one extends another's). */
const TRACING = [
  "@opentelemetry/resources",
  "@opentelemetry/sdk-trace-base",
  "@opentelemetry/exporter-zipkin",
  "@opentelemetry/instrumentation-grpc",
  "@opentelemetry/sdk-trace-node",
  "@opentelemetry/instrumentation",
].map((request): Unused => ({
  pkg: "@pulumi/pulumi",
  from: "cmd/run/tracing.js",
  request,
  importedAs: "members",
  group: "tracing",
}));

const UNUSED: readonly Unused[] = [
  // `const ts = require("../../typescript-shim")`: a plain CommonJS object.
  {
    pkg: "@pulumi/pulumi",
    from: "runtime/closure/parseFunction.js",
    request: "../../typescript-shim",
    importedAs: "plain",
  },
  // `import * as arborist from "@npmcli/arborist"` (runtime/closure/codePaths.ts).
  {
    pkg: "@pulumi/pulumi",
    from: "runtime/closure/codePaths.js",
    request: "@npmcli/arborist",
    importedAs: "namespace",
  },
  // `import normalize from "normalize-package-data"` (the same file): its SPDX licence tables
  // are built at load time.
  {
    pkg: "@pulumi/pulumi",
    from: "runtime/closure/codePaths.js",
    request: "normalize-package-data",
    importedAs: "namespace",
  },
  // `import * as yaml from "js-yaml"` (runtime/manifest.ts): read only for a package.yaml.
  { pkg: "@pulumi/pulumi", from: "runtime/manifest.js", request: "js-yaml", importedAs: "namespace" },
  // `import * as automation from "./automation"`: pulumi.automation, which drives the CLI.
  { pkg: "@pulumi/pulumi", from: "index.js", request: "./automation", importedAs: "namespace" },
  // `const helm = require("./helm")` and the same for kustomize and yaml: k8s.helm, k8s.kustomize, k8s.yaml.
  { pkg: "@pulumi/kubernetes", from: "index.js", request: "./helm", importedAs: "plain" },
  { pkg: "@pulumi/kubernetes", from: "index.js", request: "./kustomize", importedAs: "plain" },
  { pkg: "@pulumi/kubernetes", from: "index.js", request: "./yaml", importedAs: "plain" },
  // z.locales, `__importStar(require("../locales/index.cjs"))`; English, the default, loads on its own.
  { pkg: "zod", from: "v4/core/index.cjs", request: "../locales/index.cjs", importedAs: "namespace" },
  ...TRACING,
];

/** The modules deferred, as file paths: those found where expected. */
export function modulesToDefer(resolve: Resolve = require.resolve): DeferredModule[] {
  return UNUSED.flatMap(({ pkg, from, request, importedAs, group }) => {
    try {
      const requiredBy = path.join(packageDir(resolve, pkg), from);
      return [{ file: Module.createRequire(requiredBy).resolve(request), importedAs, group, requiredBy, request }];
    } catch {
      return [];
    }
  });
}

/**
 * How the file that requires a module imports it, which its stand-in must answer:
 * - "plain": `const x = require(m)`. The stand-in loads the module on the first property read.
 * - "namespace": `import * as x from m` or `import x from m`, TypeScript's __importStar and
 *   __importDefault, which copy every export of a CommonJS module at import time (which would load
 *   it) or wrap it as `default`, unless the module says it is an ES module. The stand-in says so,
 *   and answers `default` with the whole module, as the helpers would.
 * - "members": `const { A, B } = require(m)`, read at load time, each member only called or
 *   constructed. The stand-in answers each member with a function that loads the module when it
 *   is called or constructed.
 */
export type ImportForm = "plain" | "namespace" | "members";

export interface DeferredModule {
  readonly file: string;
  readonly importedAs: ImportForm;
  /** Modules that load together, the first time any of them is used: none of them is a stand-in
   * then, so each real module gets the others' real modules when it requires them. */
  readonly group?: string;
  /** The file that requires it, and how (the request); for the tests, which check the form. */
  readonly requiredBy?: string;
  readonly request?: string;
}

type Exports = Record<PropertyKey, unknown>;

/** Puts a stand-in for each module in `cache`, loading the real one with `load` on first use. */
export function defer(
  modules: readonly DeferredModule[],
  cache: NodeJS.Dict<NodeJS.Module> = require.cache,
  load: (file: string) => Exports = require,
): void {
  const reals = new Map<string, Exports>();
  const standIns = new Map<string, NodeJS.Module>();
  const loadReal = (module: DeferredModule): Exports => {
    const loaded = reals.get(module.file);
    if (loaded) return loaded;
    const pending = (module.group ? modules.filter((m) => m.group === module.group) : [module]).filter(
      (m) => !reals.has(m.file),
    );
    for (const m of pending) delete cache[m.file];
    try {
      for (const m of pending) reals.set(m.file, load(m.file));
    } finally {
      // One that failed to load keeps its stand-in: the next use tries again.
      for (const m of pending) if (!reals.has(m.file)) cache[m.file] = standIns.get(m.file);
    }
    return reals.get(module.file)!;
  };
  for (const module of modules) {
    const exports = standIn(module.importedAs, () => loadReal(module));
    standIns.set(module.file, cachedModule(cache, module.file, exports));
  }
}

/** The object that stands in for a module imported as `importedAs`, loading it with `loadReal` on first use. */
export function standIn(importedAs: ImportForm, loadReal: () => Exports): object {
  if (importedAs === "members") {
    const members = new Map<PropertyKey, unknown>();
    const member = (key: PropertyKey) =>
      new Proxy(function member() {}, {
        apply: (_, self, args) => Reflect.apply(loadReal()[key] as (...a: unknown[]) => unknown, self, args),
        construct: (_, args) => Reflect.construct(loadReal()[key] as new (...a: unknown[]) => object, args),
      });
    return new Proxy(
      {},
      {
        get(_, key) {
          if (!members.has(key)) members.set(key, member(key));
          return members.get(key);
        },
      },
    );
  }
  return new Proxy(
    {},
    {
      get(_, key) {
        if (importedAs === "namespace" && key === "__esModule") return true;
        const module = loadReal();
        if (importedAs === "namespace" && key === "default" && !module.__esModule) return module;
        return module[key];
      },
      has: (_, key) => key in loadReal(),
    },
  );
}

/**
 * The file the SDK's program harness (`cmd/run`) requires to install source-map-support, or
 * undefined when it cannot be found. Once installed, every stack trace that is formatted has
 * each frame looked up in source maps, and the SDK formats a whole stack (no depth limit) for
 * every resource it registers, to record where it was declared: about 0.5 s of CPU per preview
 * and `up` of this program. bin/ is compiled without source maps, so no frame of this
 * program's would change; only the SDK's own frames, in an unexpected error's stack trace,
 * keep their .js names instead of the SDK's .ts sources.
 */
export function sdkSourceMapSupport(resolve: Resolve = require.resolve): string | undefined {
  try {
    const harness = path.join(sdkDir(resolve), "cmd", "run", "index.js");
    return Module.createRequire(harness).resolve("source-map-support/register");
  } catch {
    return undefined;
  }
}

/** Puts an empty, loaded module for `file` in `cache`: requiring it then does nothing. */
export function skip(file: string, cache: NodeJS.Dict<NodeJS.Module> = require.cache): void {
  cachedModule(cache, file, {});
}

/** A module that is already loaded, with these exports, put in `cache` under `file`. */
function cachedModule(cache: NodeJS.Dict<NodeJS.Module>, file: string, exports: object): NodeJS.Module {
  const module = new Module(file);
  module.filename = file;
  module.loaded = true;
  module.exports = exports;
  cache[file] = module;
  return module;
}
