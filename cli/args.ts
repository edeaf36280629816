import * as fs from "fs";
import * as path from "path";
import { parseArgs, type ParseArgsConfig } from "util";

/** A command line the command cannot take: the message says why, then how to call it. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * The options of a command (`util.parseArgs`, strict), or undefined after printing `usage`
 * for `--help`/`-h`. Anything else it cannot parse is a UsageError carrying the usage.
 */
export function parseOptions<O extends Options>(argv: readonly string[], usage: string, options: O) {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${usage.trim()}\n`);
    return undefined;
  }
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${usage.trim()}`);
  }
}

/** Runs a command's main: exit with its code; a UsageError exits 2, any other error 1, with its message. */
export function runMain(main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}

/**
 * The config file of a stack, for the `pulumi` commands: the one given, or the copy that
 * `npm run local` keeps for its stack (its state directory, `<stack>/Pulumi.<stack>.yaml`:
 * the committed Pulumi.local.yaml plus the generated database DSN), or none (Pulumi's own
 * Pulumi.<stack>.yaml beside Pulumi.yaml).
 */
export function stackConfigFile(cwd: string, stack: string, given?: string): string | undefined {
  if (given !== undefined) return path.resolve(given);
  const stateDir = process.env.STATE_DIR ?? path.join(cwd, ".local");
  const local = path.join(stateDir, stack, `Pulumi.${stack}.yaml`);
  return fs.existsSync(local) ? local : undefined;
}
