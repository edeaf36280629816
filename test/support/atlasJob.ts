import { run } from "../../testbed/run";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { formatHashFile } from "../../lib/migration/atlasSum";
import { MigrationDir } from "../../lib/migration/dir";
import {
  CONFIG_MOUNT,
  configMapData,
  configMapItems,
  migrationDatabaseUrl,
  migrationKey,
  migrationPodSpec,
  MigrationRunInput,
} from "../../lib/migration/run";
import { migrationRunInput } from "../../lib/deploy/plan";
import { specOf } from "./apiArgs";

/**
 * Runs the migration Job's container on this machine exactly as the component renders it
 * (command, args, environment, mounted files), with the real atlas binary in place of the
 * image: what the integration suite proves is what the cluster runs.
 */

export interface JobRun {
  readonly code: number;
  readonly output: string;
  readonly args: readonly string[];
}

/** The run a stack with nothing but a database configured gets (the config's defaults), with these changes. */
export function runInput(dir: MigrationDir, overrides: Partial<MigrationRunInput> = {}): MigrationRunInput {
  const { migration } = specOf({ databaseDsn: "postgres://app@db:5432/api?sslmode=disable" });
  return { ...migrationRunInput(migration, dir, undefined, undefined), ...overrides };
}

export function atlasBinary(): string {
  const bin = path.join(process.env.TOOLS_BIN ?? "", "atlas");
  if (!fs.existsSync(bin)) throw new Error(`no atlas at ${bin}: run tools/build.sh atlas (and source scripts/env.sh)`);
  return bin;
}

/** `signal` kills the run with SIGKILL, as a node loss or the deadline's last step would. */
export async function runMigrationJob(
  dir: MigrationDir,
  input: MigrationRunInput,
  databaseUrl: string,
  options: { signal?: AbortSignal } = {},
): Promise<JobRun> {
  const data = configMapData(dir, formatHashFile(dir.hashFile));
  const items = configMapItems(data);
  const pod = migrationPodSpec(
    input,
    { serviceAccount: "sa", secret: "db", configMap: "files" },
    items,
    migrationKey(input),
    "IfNotPresent",
  );
  const container = (pod.spec as unknown as { containers: Array<Record<string, unknown>> }).containers[0] as {
    command: string[];
    args: string[];
    env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  };
  if (container.command.join(" ") !== "/atlas") {
    throw new Error(`the Job runs ${JSON.stringify(container.command)}, not /atlas: update this runner`);
  }
  // One scratch folder stands in for both mounts: the ConfigMap and the /tmp emptyDir (HOME).
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "atlas-job-"));
  try {
    for (const { key, path: rel } of items) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), data[key]);
    }
    const home = path.join(root, "tmp");
    fs.mkdirSync(home);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "" };
    for (const e of container.env) {
      // The only secretKeyRef is the database URL, as the component writes it into the Job's Secret.
      env[e.name] = e.valueFrom ? migrationDatabaseUrl(databaseUrl, input) : (e.value ?? "");
    }
    env.HOME = home;
    const args = container.args.map((a) => a.split(CONFIG_MOUNT).join(root));
    const result = await run(atlasBinary(), args, env, undefined, options.signal);
    return { ...result, args };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
