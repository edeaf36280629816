import { defer, sdkModulesToDefer, sdkSourceMapSupport, skip } from "./deferSdkModules";

// Loaded by node before the Pulumi SDK (Pulumi.yaml, runtime.options.nodeargs): see
// deferSdkModules.ts.
for (const module of sdkModulesToDefer()) defer(module);
const sourceMapSupport = sdkSourceMapSupport();
if (sourceMapSupport) skip(sourceMapSupport);
