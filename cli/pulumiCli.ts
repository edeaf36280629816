/**
 * The few `pulumi` CLI reads the plan and deploy commands need, in the caller's own
 * environment (backend login, secrets provider): nothing here sets them.
 */
import { spawn } from "child_process";
import type { ConfigSource } from "../lib/config/source";

export const PROJECT = "developers-italia-api";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command; `echo` streams its output to ours as it comes (for long deploys). */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; echo?: boolean },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      if (options.echo) process.stdout.write(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (options.echo) process.stderr.write(b);
    });
    child.on("error", (err) =>
      reject(new Error(`cannot run ${command}: ${err.message}; is the Pulumi CLI installed and on PATH?`)),
    );
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function pulumiJson(cwd: string, args: string[]): Promise<unknown> {
  const result = await run("pulumi", [...args, "--json", "--non-interactive"], { cwd });
  if (result.code !== 0) {
    throw new Error(`pulumi ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout}`);
  }
  return JSON.parse(result.stdout || "{}");
}

/** The selected stack's name, when none is given. */
export async function currentStack(cwd: string): Promise<string> {
  const result = await run("pulumi", ["stack", "--show-name", "--non-interactive"], { cwd });
  if (result.code !== 0) throw new Error(`no stack selected: pass --stack <name> (${result.stderr.trim()})`);
  return result.stdout.trim();
}

/**
 * The stack's config as the program sees it (plain text per key, secrecy per key). Secret
 * values are decrypted into this process only, as `pulumi preview` would; never printed.
 */
export async function stackConfig(cwd: string, stack: string, configFile?: string): Promise<ConfigSource> {
  const file = configFile === undefined ? [] : ["--config-file", configFile];
  const raw = (await pulumiJson(cwd, ["config", "--show-secrets", "--stack", stack, ...file])) as Record<
    string,
    { value?: unknown; objectValue?: unknown; secret?: boolean }
  >;
  const entries = new Map<string, { text?: string; secret: boolean }>();
  for (const [fullKey, entry] of Object.entries(raw)) {
    if (!fullKey.startsWith(`${PROJECT}:`)) continue;
    const value = entry.value ?? entry.objectValue;
    const text = value === undefined ? undefined : typeof value === "string" ? value : JSON.stringify(value);
    entries.set(fullKey.slice(PROJECT.length + 1), { text, secret: entry.secret === true });
  }
  return {
    get: (key) => entries.get(key)?.text,
    isSecret: (key) => entries.get(key)?.secret ?? false,
  };
}

/** A stack's outputs ({} before its first update), secrets decrypted as the program reads them (never printed). */
export async function stackOutputs(cwd: string, stack: string): Promise<Record<string, unknown>> {
  return (await pulumiJson(cwd, ["stack", "output", "--show-secrets", "--stack", stack])) as Record<string, unknown>;
}
