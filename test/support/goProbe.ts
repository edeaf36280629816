/**
 * Small Go programs of ours (testbed/probes/<name>) that link a real library at a pinned
 * version, so a test asks that library instead of our reading of its source. Each is built
 * into the tools cache on first use (Go's build cache makes a rebuild take about a second).
 */
import { spawn } from "child_process";
import * as os from "os";
import * as path from "path";

const PROBES = path.join(__dirname, "../../testbed/probes");

function toolsCache(): string {
  return (
    process.env.TOOLS_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "developers-italia-deploy", "tools")
  );
}

export interface ProbeBuild {
  /** The probe's module folder under testbed/probes. */
  readonly module: string;
  /** The main package inside it. @default "." */
  readonly pkg?: string;
  /** Another go.mod beside the default (`-modfile`), to build the same code against other versions. */
  readonly modfile?: string;
  /** The binary's name in the cache. @default the module's name */
  readonly name?: string;
}

const built = new Map<string, Promise<string>>();

/** Builds the probe once per test file and returns the binary's path. */
export function buildGoProbe(build: ProbeBuild): Promise<string> {
  const name = build.name ?? build.module;
  let binary = built.get(name);
  if (!binary) {
    binary = (async () => {
      const out = path.join(toolsCache(), "probes", name);
      const args = ["build", "-trimpath", "-o", out];
      if (build.modfile) args.push(`-modfile=${build.modfile}`);
      args.push(build.pkg ?? ".");
      const env = { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" };
      const result = await exec("go", args, "", { cwd: path.join(PROBES, build.module), env });
      if (result.code !== 0) throw new Error(`building probe ${name} failed:\n${result.stderr}`);
      return out;
    })();
    built.set(name, binary);
  }
  return binary;
}

/** Runs a probe with one JSON request a line on stdin; one JSON answer a line comes back each. */
export async function askProbe<Req, Res>(binary: string, requests: readonly Req[]): Promise<Res[]> {
  const input = requests.map((r) => JSON.stringify(r)).join("\n") + "\n";
  // No PG* variables: the drivers read them, and a pod has none.
  const result = await exec(binary, [], input, { env: { PATH: process.env.PATH ?? "", HOME: os.homedir() } });
  if (result.code !== 0) throw new Error(`${path.basename(binary)} exited ${result.code}:\n${result.stderr}`);
  const answers = result.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Res);
  if (answers.length !== requests.length) {
    throw new Error(`${path.basename(binary)} answered ${answers.length} of ${requests.length} requests`);
  }
  return answers;
}

function exec(
  cmd: string,
  args: string[],
  input: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ["pipe", "pipe", "pipe"] });
    // Decoded once at the end: a chunk can end inside a multi-byte character.
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => stdout.push(b));
    child.stderr.on("data", (b: Buffer) => stderr.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      }),
    );
    child.stdin.end(input);
  });
}
