import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDocument } from "yaml";
import { writeSumFile } from "../../lib/migration/dir";
import { kubeClient, KubeClient } from "../../testbed/kube";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";
import { testbedAtlasImage } from "../../testbed/stack";
import { RunResult, WorkflowBed } from "./workflows";

/**
 * A repository set up as docs/ci.md tells a team to (the workflow suites' common ground): two
 * stacks in a backend (a folder here), each with its own database and namespace; staging holds
 * its database password in its config as a Pulumi secret (the copied-secrets path), prod holds
 * none: its credentials are in a Kubernetes Secret managed outside Pulumi (useExistingSecret),
 * in a namespace the team made. The environments' secrets and variables for act.
 */

const PASSPHRASE = "workflows-e2e-only";
export const PROD_SECRET = "developers-italia-api-database";

export interface Team {
  readonly bed: WorkflowBed;
  readonly kube: KubeClient;
  readonly backend: string;
  readonly secrets: Record<string, string>;
  readonly vars: Record<string, string>;
  /** The environment a team member's `pulumi` runs in (backend, passphrase). */
  readonly pulumiEnv: Record<string, string>;
  ns(stack: string): string;
  databaseUrl(stack: string): string;
  password(stack: string): string;
  /** Versions in the stack's database's Atlas revisions table. */
  revisions(stack: string): Promise<string[]>;
  remove(): Promise<void>;
}

/** The jobs of a run by name (without the workflow's), with their result. */
export const jobResults = (r: RunResult): Record<string, string> =>
  Object.fromEntries(r.jobs.map((j) => [j.name.replace(/^[^/]*\//, "").replace(/-\d+$/, ""), j.result]));

/**
 * The run ended with `code` and these job results; when not, the failure shows the log's errors
 * (a failed step's error lines and the 30 lines before each), not only the two values.
 */
export function expectJobs(r: RunResult, code: number, jobs: Record<string, string>): void {
  try {
    expect([r.code, jobResults(r)]).toEqual([code, jobs]);
  } catch (err) {
    const lines = r.log.split("\n");
    const shown = new Set<number>();
    lines.forEach((l, i) => {
      if (/❌|::error|Error:/.test(l)) for (let j = Math.max(0, i - 30); j <= i; j++) shown.add(j);
    });
    const excerpt = [...shown].map((i) => lines[i].slice(0, 400)).join("\n");
    throw new Error(`${(err as Error).message}\n--- act log, around its errors ---\n${excerpt}`);
  }
}

/** An edit that adds a migration file and re-hashes atlas.sum, as `npm run migrations:new` leaves it. */
export function addMigration(name: string, sql: string) {
  return (dir: string): void => {
    fs.writeFileSync(path.join(dir, "migrations", name), sql);
    writeSumFile(path.join(dir, "migrations"));
  };
}

export async function createTeam(tag: string): Promise<Team> {
  const kube = kubeClient();
  const backend = fs.mkdtempSync(path.join(os.tmpdir(), `wf-${tag}-backend-`));
  const ns = (stack: string) => `e2e-wf${tag}-${stack}-${process.pid}`;
  const dbs: Record<string, TestDatabase> = {};
  for (const stack of ["staging", "prod"]) dbs[stack] = await createDatabase(`wf${tag}_${stack}`);
  const password = (stack: string) => decodeURIComponent(new URL(dbs[stack].url).password);
  const pulumiEnv = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME!,
    PULUMI_HOME: process.env.PULUMI_HOME!,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  const pulumi = (dir: string, args: string[], input?: string) => {
    const r = spawnSync("pulumi", [...args, "--non-interactive"], {
      cwd: dir,
      env: pulumiEnv,
      input,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")}: ${r.stderr}`);
  };

  const bed = await WorkflowBed.create((dir) => {
    for (const stack of ["staging", "prod"]) {
      pulumi(dir, ["stack", "init", stack, "--secrets-provider", "passphrase"]);
      const file = path.join(dir, `Pulumi.${stack}.yaml`);
      const doc = parseDocument(fs.readFileSync(file, "utf8"));
      const set = (key: string, value: string) => doc.setIn(["config", `developers-italia-api:${key}`], value);
      set("namespace", ns(stack));
      set("replicas", "1");
      set("environment", "test");
      set("migrationDeadlineSeconds", "60");
      set("atlasImage", testbedAtlasImage());
      if (stack === "prod") {
        set("createNamespace", "false");
        set("useExistingSecret", PROD_SECRET);
      }
      fs.writeFileSync(file, doc.toString());
    }
    const u = new URL(dbs.staging.url);
    const dsn =
      `host=${u.hostname} port=${u.port} dbname=${dbs.staging.name} user=${decodeURIComponent(u.username)} ` +
      `password='${password("staging")}' sslmode=disable`;
    pulumi(dir, ["config", "set", "--secret", "--stack", "staging", "databaseDsn"], dsn);
  });

  // prod's credentials: a Secret the team manages outside Pulumi (e.g. External Secrets).
  const prodUrl = new URL(dbs.prod.url);
  prodUrl.searchParams.set("sslmode", "disable");
  await kube.post("/api/v1/namespaces", { metadata: { name: ns("prod") } });
  await kube.post(`/api/v1/namespaces/${ns("prod")}/secrets`, {
    metadata: { name: PROD_SECRET },
    stringData: { databaseDSN: prodUrl.toString() },
  });

  return {
    bed,
    kube,
    backend,
    pulumiEnv,
    secrets: {
      PULUMI_ACCESS_TOKEN: "unused-by-a-file-backend",
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      KUBECONFIG_DATA: fs.readFileSync(process.env.KUBECONFIG!, "utf8"),
    },
    vars: { PULUMI_BACKEND_URL: `file://${backend}` },
    ns,
    databaseUrl: (stack) => dbs[stack].url,
    password,
    revisions: async (stack) =>
      (
        await query<{ version: string }>(
          dbs[stack].url,
          "SELECT version FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
        ).catch(() => [])
      ).map((r) => r.version),
    async remove() {
      for (const stack of ["staging", "prod"]) {
        await kube.delete(`/api/v1/namespaces/${ns(stack)}`);
        await dbs[stack].drop();
      }
      if (!process.env.KEEP_WORKFLOW_BED) bed.remove();
      fs.rmSync(backend, { recursive: true, force: true });
      kube.close();
    },
  };
}
