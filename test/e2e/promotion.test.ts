import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kubeClient, KubeClient } from "../../testbed/kube";
import type { PlanReport } from "../../lib/deploy/report";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";
import { CommandResult, TestStack } from "../../testbed/stack";

/**
 * Promotion on real parts: two stacks of the same project in one backend (staging and
 * prod, each with its own database and namespace), driven as the workflows drive them, by
 * `npm run deploy` and `npm run plan` and the real `pulumi` CLI. prod promotes from
 * staging: a migration reaches prod only after staging applied exactly that file. Also the
 * plan artifact: the JSON the program writes during preview equals what `npm run plan`
 * computes without a preview, and a deploy's job summary shows the plan and a failed Job.
 */

jest.setTimeout(20 * 60_000);

const ROOT = path.join(__dirname, "../..");
const BROKEN = "CREATE TABLE broken_first (id text);\nALTER TABLE no_such_table ADD COLUMN x text;\n";
const FIXED = "CREATE TABLE fixed_first (id text);\n";
const ALL = ["20250909000000", "20260410000000", "20260508000000", "20260525000000", "20260612000000"];

let kube: KubeClient;
let backend: string;
let scratch: string;
const dbs: Record<string, TestDatabase> = {};
const stacks: Record<string, TestStack> = {};
const ns = (stack: string) => `e2e-promo-${stack}-${process.pid}`;

/** An npm script of this repository, run as a workflow runs it, against a test stack. */
function npmRun(script: string, stack: TestStack, args: string[], env: Record<string, string> = {}) {
  return stack.command("npm", ["run", "--silent", script, "--", "--cwd", stack.dir, ...args], env, ROOT);
}

function previewWith(stack: TestStack, env: Record<string, string>): Promise<CommandResult> {
  return stack.command("pulumi", ["preview", "--diff", "--non-interactive", "--color", "never"], env);
}

const readJson = <T>(file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as T;
const revisions = async (stack: string) =>
  (
    await query<{ version: string }>(
      dbs[stack].url,
      "SELECT version FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
    )
  ).map((r) => r.version);
const password = (stack: string) => decodeURIComponent(new URL(dbs[stack].url).password);

beforeAll(async () => {
  kube = kubeClient();
  backend = fs.mkdtempSync(path.join(os.tmpdir(), "promo-backend-"));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "promo-out-"));
  for (const name of ["staging", "prod"]) {
    dbs[name] = await createDatabase(`promo_${name}`);
    const u = new URL(dbs[name].url);
    const dsn = `host=${u.hostname} port=${u.port} dbname=${dbs[name].name} user=${decodeURIComponent(u.username)} password='${decodeURIComponent(u.password)}' sslmode=disable`;
    const config: Record<string, string> = {
      namespace: ns(name),
      replicas: "1",
      migrationDeadlineSeconds: "60",
      environment: "test",
    };
    if (name === "prod") config.promoteFrom = "staging";
    stacks[name] = await TestStack.create(name, config, dsn, { backendDir: backend });
  }
});

afterAll(async () => {
  for (const name of ["prod", "staging"]) {
    stacks[name]?.remove();
    await kube?.delete(`/api/v1/namespaces/${ns(name)}`);
    await dbs[name]?.drop();
  }
  fs.rmSync(backend, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
  kube?.close();
});

describe("staging → prod promotion, through the workflows' npm scripts", () => {
  it("prod's preview shows every migration pending promotion before staging has run one; its up refuses them", async () => {
    const planFile = path.join(scratch, "prod-pending.json");
    const preview = await previewWith(stacks.prod, { MIGRATION_PLAN_FILE: planFile });
    expect(preview.code).toBe(0);
    expect(preview.output).toContain("20250909000000  NOT TRIED: stack staging has not completed a migration run yet");
    const pending = readJson<PlanReport>(planFile);
    expect(pending.refusals).toEqual([]);
    expect(pending.pendingPromotion).toMatch(/^5 pending migration\(s\) not applied by stack staging yet: /);

    const refusedUp = await stacks.prod.up();
    expect(refusedUp.code).not.toBe(0);
    expect(refusedUp.output).toContain(
      "config promoteFrom: 5 pending migration(s) were not applied successfully by stack staging:",
    );
    expect(refusedUp.output).toContain(
      "20250909000000_initial_schema.sql: stack staging has not completed a migration run yet",
    );
    expect(refusedUp.output).toContain("Deploy this commit to staging first");
    const plan = readJson<PlanReport>(planFile);
    expect(plan.stack).toBe("prod");
    expect(plan.promotion?.untried.map((u) => u.version)).toEqual(ALL);
    expect(await kube.tryGet(`/api/v1/namespaces/${ns("prod")}`)).toBeUndefined();
  });

  it("staging deploys (npm run deploy); its summary has the plan table; it exports what it applied", async () => {
    const summary = path.join(scratch, "staging-1.md");
    const deploy = await npmRun("deploy", stacks.staging, ["--stack", "staging"], { GITHUB_STEP_SUMMARY: summary });
    expect(deploy.code).toBe(0);
    expect(deploy.output).toContain("5 migration(s) will run, in this order:");
    const md = fs.readFileSync(summary, "utf8");
    expect(md).toContain("### Migration plan: stack `staging` (5 migration(s) will run)");
    expect(md).toContain("| 5 | `20260612000000` | `20260612000000_log_entity_index.sql` | no |");
    expect(md).toContain("**pulumi up succeeded** for stack `staging`.");
    expect(md).not.toContain(password("staging"));
    const outputs = await stacks.staging.outputs();
    expect((outputs.appliedMigrations as Array<{ version: string }>).map((a) => a.version)).toEqual(ALL);
    expect((outputs.migrationPlan as PlanReport).pending.map((p) => p.version)).toEqual(ALL);
    expect(await revisions("staging")).toEqual(ALL);
  });

  it("prod preview, with no cluster credentials: shows what staging applied; npm run plan gives the same plan", async () => {
    const planFile = path.join(scratch, "prod-1.json");
    const preview = await previewWith(stacks.prod, {
      MIGRATION_PLAN_FILE: planFile,
      KUBECONFIG: path.join(scratch, "no-such-kubeconfig"),
    });
    expect(preview.code).toBe(0);
    expect(preview.output).toContain("Promotion from stack staging:\n");
    expect(preview.output).toContain("staging applied 5 migration(s), newest 20260612000000");
    expect(preview.output).toContain("20260612000000  applied by staging");
    const fromPreview = readJson<PlanReport>(planFile);
    expect(fromPreview.refusals).toEqual([]);
    expect(fromPreview.promotion?.tried).toEqual(ALL);
    expect(JSON.stringify(fromPreview)).not.toContain(password("prod"));

    const plan = await npmRun("plan", stacks.prod, ["--stack", "prod", "--format", "json"]);
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.output)).toEqual(fromPreview);

    const rendered = await npmRun("plan", stacks.prod, ["--from-file", planFile]);
    expect(rendered.code).toBe(0);
    expect(rendered.output).toContain("| # | version | file | guard | applied by staging |");
    expect(rendered.output).toContain("| 5 | `20260612000000` | `20260612000000_log_entity_index.sql` | no | yes |");
  });

  it("prod deploys what staging tried; its key is the one the plan announced", async () => {
    const deploy = await npmRun("deploy", stacks.prod, ["--stack", "prod"]);
    expect(deploy.code).toBe(0);
    expect(await revisions("prod")).toEqual(ALL);
    const outputs = await stacks.prod.outputs();
    expect((outputs.migrationPlan as PlanReport).migrationKey).toBe(outputs.migrationKey);
  });

  it("a migration that fails on staging: the summary shows the Job's error; prod refuses it", async () => {
    for (const s of Object.values(stacks)) s.writeMigration("20270102000000_broken.sql", BROKEN);
    const summary = path.join(scratch, "staging-2.md");
    const deploy = await npmRun("deploy", stacks.staging, ["--stack", "staging"], {
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_ACTIONS: "true",
    });
    expect(deploy.code).not.toBe(0);
    expect(deploy.output).toContain("::error title=pulumi up failed (stack staging)::");
    const md = fs.readFileSync(summary, "utf8");
    expect(md).toContain("| 1 | `20270102000000` | `20270102000000_broken.sql` | no |");
    expect(md).toContain("**pulumi up failed** for stack `staging`");
    expect(md).toContain('relation "no_such_table" does not exist');
    expect(md).not.toContain(password("staging"));
    // The failed run left staging's record of what it applied as it was.
    const applied = (await stacks.staging.outputs()).appliedMigrations as Array<{ version: string }>;
    expect(applied.map((a) => a.version)).toEqual(ALL);

    const up = await stacks.prod.up();
    expect(up.code).not.toBe(0);
    expect(up.output).toContain("20270102000000_broken.sql: stack staging has not applied it");
    const plan = await npmRun("plan", stacks.prod, ["--stack", "prod"]);
    expect(plan.code).toBe(1);
    expect(plan.output).toContain("**pending promotion** from staging");
  });

  it("fixed on staging only: prod still refuses its own, different file; fixed there too, prod deploys", async () => {
    stacks.staging.writeMigration("20270102000000_broken.sql", FIXED);
    expect((await npmRun("deploy", stacks.staging, ["--stack", "staging"])).code).toBe(0);
    expect(await revisions("staging")).toContain("20270102000000");

    const refused = await stacks.prod.up();
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(
      /20270102000000_broken\.sql: stack staging applied 20270102000000_broken\.sql with other content \(sha256 [0-9a-f]{12}, here [0-9a-f]{12}\)/,
    );

    stacks.prod.writeMigration("20270102000000_broken.sql", FIXED);
    const deploy = await npmRun("deploy", stacks.prod, ["--stack", "prod"]);
    expect(deploy.code).toBe(0);
    expect(await revisions("prod")).toEqual([...ALL, "20270102000000"]);
    expect(await query(dbs.prod.url, "SELECT to_regclass('public.broken_first') AS t")).toEqual([{ t: null }]);
  });
});
