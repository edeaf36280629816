import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDocument } from "yaml";
import { run } from "../../testbed/run";
import { addMigration, createTeam, expectJobs, Team } from "../support/workflowTeam";

/**
 * deploy.yml, run by act on the test bed (test/support/workflows.ts): on a push to main, per
 * stack a plan job (`pulumi preview --save-plan`) and an environment-gated job that applies
 * exactly that plan (`pulumi up --plan`), staging then prod; a workflow_dispatch from a branch
 * deploys nothing. Then the plan's guarantee on its own: a change of config, of commit or of
 * state between the plan and the apply makes the apply refuse.
 */

jest.setTimeout(30 * 60_000);

const ROOT = path.join(__dirname, "../..");
const CREDENTIALS = ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_DATA"];
let team: Team;

beforeAll(async () => {
  team = await createTeam("d");
});

afterAll(async () => {
  await team?.remove();
});

describe("deploy.yml", () => {
  it("push to main: staging is planned, then deployed from that plan; then prod, promoted from staging", async () => {
    const push = team.bed.pushed("main");
    const r = await team.bed.run("push", "deploy.yml", push.payload, {
      ...push,
      secrets: team.secrets,
      vars: team.vars,
    });
    expectJobs(r, 0, {
      "plan (staging)": "success",
      "up (staging)": "success",
      "plan (prod)": "success",
      "up (prod)": "success",
    });
    // The plan job's summary: the migration table reviewers approve.
    expect(r.log).toContain(
      "[Deploy/plan (staging)]   ⚙  Summary - ### Migration plan: stack `staging` (5 migration(s) will run)",
    );
    expect(r.log).toMatch(/\[Deploy\/plan \(prod\)\] .*Update plan written to/);
    expect(r.log).toContain("**pulumi up --plan succeeded** for stack `staging`.");
    expect(r.log).toContain("**pulumi up --plan succeeded** for stack `prod`.");
    expect(await team.revisions("staging")).toHaveLength(5);
    expect(await team.revisions("prod")).toHaveLength(5);
    // No credential reached a third-party action (they are given to the npm run steps only).
    expect(r.actionEnvironments.length).toBeGreaterThan(10);
    for (const seen of r.actionEnvironments) {
      expect([seen.action, seen.names.filter((n) => CREDENTIALS.includes(n))]).toEqual([seen.action, []]);
    }
  });

  it("workflow_dispatch from a branch deploys nothing", async () => {
    const sha = team.bed.commit(
      "hotfix",
      addMigration("20270501000000_hotfix.sql", "CREATE TABLE hotfix (id int);\n"),
      "hotfix",
    );
    const before = team.bed.stateFiles(team.backend);
    const payload = {
      ref: "refs/heads/hotfix",
      inputs: {},
      repository: { full_name: "italia/developers-italia-deploy" },
    };
    const r = await team.bed.run("workflow_dispatch", "deploy.yml", payload, {
      ref: "refs/heads/hotfix",
      sha,
      secrets: team.secrets,
      vars: team.vars,
    });
    expectJobs(r, 0, {
      "plan (staging)": "skipped",
      "up (staging)": "skipped",
      "plan (prod)": "skipped",
      "up (prod)": "skipped",
    });
    expect(team.bed.stateFiles(team.backend)).toEqual(before);
    expect(await team.revisions("staging")).not.toContain("20270501000000");
  });
});

describe("the approved plan is the plan that runs (npm run deploy -- --save-plan / --plan)", () => {
  let clone: string;
  let plans: string;
  const deploy = (args: string[]) =>
    run(
      "npm",
      ["run", "--silent", "deploy", "--", "--cwd", clone, "--stack", "staging", ...args],
      {
        ...team.pulumiEnv,
        KUBECONFIG: process.env.KUBECONFIG!,
      },
      ROOT,
    );
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@localhost", ...args], {
      cwd: clone,
      encoding: "utf8",
    });

  beforeAll(async () => {
    clone = fs.mkdtempSync(path.join(os.tmpdir(), "wf-plan-"));
    plans = fs.mkdtempSync(path.join(os.tmpdir(), "wf-approved-"));
    execFileSync("git", ["clone", "--quiet", path.join(team.bed.server, "italia/developers-italia-deploy.git"), clone]);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
    const build = await run("bash", ["scripts/build.sh"], { PATH: process.env.PATH!, HOME: process.env.HOME! }, clone);
    expect(build.code).toBe(0);
  });

  afterAll(() => {
    fs.rmSync(clone, { recursive: true, force: true });
    fs.rmSync(plans, { recursive: true, force: true });
  });

  async function savePlan(): Promise<string> {
    const dir = fs.mkdtempSync(path.join(plans, "plan-"));
    const saved = await deploy(["--save-plan", dir]);
    expect([saved.code, saved.output]).toEqual([0, expect.stringContaining("Update plan written to")]);
    return dir;
  }

  it("a config change after the plan: Pulumi refuses the update as outside the plan", async () => {
    const plan = await savePlan();
    const file = path.join(clone, "Pulumi.staging.yaml");
    const original = fs.readFileSync(file, "utf8");
    const doc = parseDocument(original);
    doc.setIn(["config", "developers-italia-api:replicas"], "2");
    fs.writeFileSync(file, doc.toString());
    try {
      const applied = await deploy(["--plan", plan]);
      expect(applied.code).not.toBe(0);
      expect(applied.output).toMatch(/violat|plan/i);
      expect(applied.output).toMatch(/error: .*(replicas|constraint|plan)/);
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  it("another commit after the plan: the apply refuses before Pulumi runs", async () => {
    const plan = await savePlan();
    const approved = git("rev-parse", "HEAD").trim();
    fs.writeFileSync(path.join(clone, "NOTE"), "a later commit\n");
    git("add", "NOTE");
    git("commit", "--quiet", "-m", "later");
    try {
      const applied = await deploy(["--plan", plan]);
      expect(applied.code).toBe(1);
      expect(applied.output).toContain(`refused: the plan was made from commit ${approved}, this checkout is `);
    } finally {
      git("reset", "--quiet", "--hard", approved);
    }
  });

  it("the stack's state changed after the plan (another update ran): the apply refuses", async () => {
    const plan = await savePlan();
    const other = await run(
      "pulumi",
      ["up", "--yes", "--skip-preview", "--stack", "staging", "--non-interactive"],
      {
        ...team.pulumiEnv,
        KUBECONFIG: process.env.KUBECONFIG!,
      },
      clone,
    );
    expect(other.code).toBe(0);
    const applied = await deploy(["--plan", plan]);
    expect(applied.code).toBe(1);
    expect(applied.output).toContain("refused: the stack's state changed since the plan was made");
  });

  it("nothing changed: the approved plan applies", async () => {
    const plan = await savePlan();
    const applied = await deploy(["--plan", plan]);
    expect([applied.code, applied.output.slice(-3000)]).toEqual([0, expect.any(String)]);
  });
});
