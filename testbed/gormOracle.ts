import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * The GORM oracle (testbed/gorm-oracle): GORM v1.31.2 AutoMigrate with our declarations of
 * each API release's models, run against a database as that release's startup would.
 */

export interface OracleLine {
  readonly sql: string;
  readonly rows: number;
  readonly error?: string;
}

function toolsCache(): string {
  return (
    process.env.TOOLS_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "developers-italia-deploy", "tools")
  );
}

const SOURCE = path.join(__dirname, "gorm-oracle");
const BIN = path.join(toolsCache(), "gorm-oracle", "bin", "gorm-oracle");

function exec(file: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs: number }) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") reject(new Error(`${file}: ${error.message}\n${stderr}`));
        else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

let built: Promise<void> | undefined;

/** Builds the oracle into the tools cache (warm Go cache: about a second), once per process. */
export function buildGormOracle(): Promise<void> {
  built ??= (async () => {
    fs.mkdirSync(path.dirname(BIN), { recursive: true });
    const env = { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" };
    const res = await exec("go", ["build", "-trimpath", "-o", BIN, "."], { cwd: SOURCE, env, timeoutMs: 600_000 });
    if (res.code !== 0) throw new Error(`building testbed/gorm-oracle failed:\n${res.stderr}`);
  })();
  return built;
}

/** AutoMigrate of `release` on the database at `url`: every statement GORM sent. */
export async function runGormOracle(url: string, release = "v1.4.0"): Promise<OracleLine[]> {
  await buildGormOracle();
  const res = await exec(BIN, ["-release", release], {
    env: { ...process.env, DATABASE_URL: url },
    timeoutMs: 120_000,
  });
  if (res.code !== 0) throw new Error(`gorm-oracle -release ${release} failed (${res.code}): ${res.stderr}`);
  return res.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as OracleLine);
}
