import { spawn } from "child_process";

/** A command's exit code and its stdout and stderr interleaved; `signal` kills it with SIGKILL. */
export function run(cmd: string, args: string[], env: Record<string, string>, cwd?: string, signal?: AbortSignal) {
  return new Promise<{ code: number; output: string }>((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, signal, killSignal: "SIGKILL", stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    child.on("error", (err) => (err.name === "AbortError" ? undefined : reject(err)));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}
