import Module from "module";
import * as path from "path";

/**
 * What lib/preload.ts does before the Pulumi SDK loads (Pulumi.yaml,
 * `runtime.options.nodeargs`). At every preview and up, @pulumi/pulumi loads two dependencies
 * this program never calls: TypeScript's compiler (to serialize functions) and npm's arborist (to
 * find a serialized function's packages). Together about 440 modules (11 MB of JavaScript) and
 * 1 s of CPU per run, a fifth of a preview's (README, "The program runs compiled").
 *
 * Each one gets a stand-in in Node's module cache that loads the real module the first time
 * anything reads a property of it: code that uses them still works, it only pays on first use.
 * When the SDK's layout is not the one expected (another release), nothing is deferred and
 * everything loads as before.
 *
 * A third module is not loaded at all: see sdkSourceMapSupport.
 */

type Resolve = (request: string) => string;

const sdkDir = (resolve: Resolve) => path.dirname(resolve("@pulumi/pulumi/package.json"));

/** The modules deferred, as file paths; empty when they cannot be found. */
export function sdkModulesToDefer(resolve: Resolve = require.resolve): DeferredModule[] {
  try {
    const sdk = sdkDir(resolve);
    return [
      // Required as `const ts = require("../../typescript-shim")`: a plain CommonJS object.
      { file: resolve(path.join(sdk, "typescript-shim.js")), importedAsNamespace: false },
      // Imported as `import * as arborist from "@npmcli/arborist"` (runtime/closure/codePaths.ts).
      {
        file: Module.createRequire(path.join(sdk, "runtime", "closure", "codePaths.js")).resolve("@npmcli/arborist"),
        importedAsNamespace: true,
      },
    ];
  } catch {
    return [];
  }
}

export interface DeferredModule {
  readonly file: string;
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
