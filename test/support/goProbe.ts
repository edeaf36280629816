import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * Go probes: small programs of ours under testbed/probes/<name>/ (own go.mod and go.sum, no
 * vendored sources) that run a real library from the Go module proxy, so a test can compare our
 * TypeScript with the code production runs instead of with our reading of it.
 */

const PROBES = path.resolve(__dirname, "../../testbed/probes");

/** The tools cache of tools/build.sh: `$TOOLS_CACHE`, else the XDG cache. */
export function toolsCache(): string {
  return (
    process.env.TOOLS_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "developers-italia-deploy", "tools")
  );
}

const builds = new Map<string, Promise<string>>();

/**
 * Builds testbed/probes/<name> into `<tools cache>/<name>-probe/bin/<name>-probe` and returns the
 * binary's path. Go's build cache makes a rebuild of unchanged sources cheap, so every test run
 * builds (no stale binary); one build per name per process. The first build needs the module
 * proxy (or the module cache) for the go.sum's modules; -mod=readonly keeps go.mod and go.sum as
 * committed.
 */
export function buildGoProbe(name: string): Promise<string> {
  let build = builds.get(name);
  if (!build) {
    build = compile(name);
    builds.set(name, build);
  }
  return build;
}

function compile(name: string): Promise<string> {
  const source = path.join(PROBES, name);
  const binary = path.join(toolsCache(), `${name}-probe`, "bin", `${name}-probe`);
  if (!fs.existsSync(path.join(source, "go.mod"))) {
    return Promise.reject(new Error(`no Go probe at ${source}: expected testbed/probes/${name}/go.mod`));
  }
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const env = { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" };
  return new Promise((resolve, reject) => {
    execFile(
      "go",
      ["build", "-trimpath", "-o", binary, "."],
      { cwd: source, env, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        if (error) {
          reject(new Error(`building testbed/probes/${name} failed (${error.message}):\n${stderr}`));
          return;
        }
        resolve(binary);
      },
    );
  });
}
