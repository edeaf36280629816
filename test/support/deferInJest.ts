import { modulesToDefer, standIn } from "../../runtime/deferSdkModules";

/**
 * The unit suite's setup (jest.config.js): what runtime/preload.ts defers in the program is deferred
 * in each test file's module registry too, with the same stand-ins, so the SDK loads here as it
 * does in the program. Without it, every test file that imports @pulumi/pulumi loads TypeScript's
 * compiler and npm's arborist again. The OpenTelemetry group is left out: only the SDK's program
 * harness (cmd/run) loads it, which no unit test runs.
 */
for (const m of modulesToDefer()) {
  if (m.group) continue;
  jest.mock(m.file, () => standIn(m.importedAs, () => jest.requireActual(m.file)));
}
