import Module from "module";
import { defer, modulesToDefer, sdkSourceMapSupport, skip } from "./deferSdkModules";

// Loaded by node before the Pulumi SDK (Pulumi.yaml, runtime.options.nodeargs).
// Node's compile cache: V8's code for each module the program loads, kept on disk and used
// again by the next run while the file is unchanged (0.1 s of CPU per preview here). In
// os.tmpdir()/node-compile-cache, or the folder NODE_COMPILE_CACHE names;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. Nothing fails when it cannot be enabled.
Module.enableCompileCache?.();
// Modules the program never uses, loaded only if something does: see deferSdkModules.ts.
defer(modulesToDefer());
const sourceMapSupport = sdkSourceMapSupport();
if (sourceMapSupport) skip(sourceMapSupport);
