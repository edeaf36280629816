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
 */

/** The modules deferred, as file paths; empty when they cannot be found. */
export function sdkModulesToDefer(resolve: (request: string) => string = require.resolve): DeferredModule[] {
  try {
    const sdk = path.dirname(resolve("@pulumi/pulumi/package.json"));
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
  const standIn = new Module(file);
  standIn.filename = file;
  standIn.loaded = true;
  standIn.exports = exports;
  cache[file] = standIn;
}
