import Module from "module";
import * as path from "path";

/**
 * What lib/preload.ts does before the Pulumi SDK loads (Pulumi.yaml,
 * `runtime.options.nodeargs`). At every preview and up, this program's packages load modules it
 * never calls: @pulumi/pulumi loads TypeScript's compiler (to serialize functions), npm's
 * arborist (to find a serialized function's packages) and its Automation API; @pulumi/kubernetes
 * loads its Helm, kustomize and YAML support; zod loads its ~40 translations of error messages.
 * Together about 600 modules and 1.2 s of CPU per run (README, "The program runs compiled").
 *
 * Each one gets a stand-in in Node's module cache that loads the real module the first time
 * anything reads a property of it: code that uses them still works, it only pays on first use.
 * An entry whose file is not where expected (another release) is not deferred and loads as
 * before.
 *
 * A module more is not loaded at all: see sdkSourceMapSupport.
 */

type Resolve = (request: string) => string;

const packageDir = (resolve: Resolve, name: string) => path.dirname(resolve(`${name}/package.json`));
const sdkDir = (resolve: Resolve) => packageDir(resolve, "@pulumi/pulumi");

/** A module to defer: `request` as `from` (a file of package `pkg`) requires it. */
interface Unused {
  readonly pkg: string;
  readonly from: string;
  readonly request: string;
  readonly importedAsNamespace: boolean;
}

const UNUSED: readonly Unused[] = [
  // `const ts = require("../../typescript-shim")`: a plain CommonJS object.
  {
    pkg: "@pulumi/pulumi",
    from: "runtime/closure/parseFunction.js",
    request: "../../typescript-shim",
    importedAsNamespace: false,
  },
  // `import * as arborist from "@npmcli/arborist"` (runtime/closure/codePaths.ts).
  {
    pkg: "@pulumi/pulumi",
    from: "runtime/closure/codePaths.js",
    request: "@npmcli/arborist",
    importedAsNamespace: true,
  },
  // `import * as automation from "./automation"`: pulumi.automation, which drives the CLI.
  { pkg: "@pulumi/pulumi", from: "index.js", request: "./automation", importedAsNamespace: true },
  // `const helm = require("./helm")` and the same for kustomize and yaml: k8s.helm, k8s.kustomize, k8s.yaml.
  { pkg: "@pulumi/kubernetes", from: "index.js", request: "./helm", importedAsNamespace: false },
  { pkg: "@pulumi/kubernetes", from: "index.js", request: "./kustomize", importedAsNamespace: false },
  { pkg: "@pulumi/kubernetes", from: "index.js", request: "./yaml", importedAsNamespace: false },
  // z.locales, `__importStar(require("../locales/index.cjs"))`; English, the default, loads on its own.
  { pkg: "zod", from: "v4/core/index.cjs", request: "../locales/index.cjs", importedAsNamespace: true },
];

/** The modules deferred, as file paths: those found where expected. */
export function modulesToDefer(resolve: Resolve = require.resolve): DeferredModule[] {
  return UNUSED.flatMap(({ pkg, from, request, importedAsNamespace }) => {
    try {
      const requiredBy = path.join(packageDir(resolve, pkg), from);
      return [{ file: Module.createRequire(requiredBy).resolve(request), importedAsNamespace, requiredBy, request }];
    } catch {
      return [];
    }
  });
}

export interface DeferredModule {
  readonly file: string;
  /** The file that requires it, and how (the request); for the tests, which check the form. */
  readonly requiredBy?: string;
  readonly request?: string;
  /**
   * Imported with TypeScript's `import * as`: its helper copies every export of a CommonJS
   * module at import time (which would load it), unless the module says it is an ES module. The
   * stand-in says so, and answers `default` with the whole module, as the helper would have.
   */
  readonly importedAsNamespace: boolean;
}

/** Puts a stand-in for `file` in `cache`, loading the real module with `load` on first use. */
export function defer(
  { file, importedAsNamespace }: DeferredModule,
  cache: NodeJS.Dict<NodeJS.Module> = require.cache,
  load: (file: string) => Record<PropertyKey, unknown> = require,
): void {
  let real: Record<PropertyKey, unknown> | undefined;
  const loadReal = () => {
    if (!real) {
      delete cache[file];
      try {
        real = load(file);
      } finally {
        cache[file] = standIn;
      }
    }
    return real;
  };
  const exports = new Proxy(
    {},
    {
      get(_, key) {
        if (importedAsNamespace && key === "__esModule") return true;
        const module = loadReal();
        if (importedAsNamespace && key === "default" && !module.__esModule) return module;
        return module[key];
      },
      has: (_, key) => key in loadReal(),
    },
  );
  const standIn = cachedModule(cache, file, exports);
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
