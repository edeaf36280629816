import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { addMigration, createTeam, expectJobs, Team } from "../support/workflowTeam";

/**
 * preview.yml, run by act on the test bed (test/support/workflows.ts), on a pull request as a
 * new team's first one: a fresh clone of the pull request's merge commit (no bin/), that adds
 * a migration. Both stacks preview; prod's comment says the migration is pending promotion
 * (staging applies it on merge), with the resource changes; each comment names the commit it
 * describes and is updated in place by the next push. A pull request from a fork is not
 * previewed. No preview can read prod's database password: Pulumi never holds it.
 */

jest.setTimeout(30 * 60_000);

const MIGRATION = "20270301000000_ci_example.sql";
const CREDENTIALS = ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_DATA"];
let team: Team;

beforeAll(async () => {
  team = await createTeam("p");
});

afterAll(async () => {
  await team?.remove();
});

const marker = (stack: string) => `<!-- Sticky Pull Request Commentmigration-plan-${stack} -->`;
const commentsFor = (number: number, stack: string) =>
  team.bed.comments(number).filter((c) => c.body.includes(marker(stack)));

describe("preview.yml", () => {
  let firstHead: string;

  it("a pull request that adds a migration: both stacks preview on a fresh clone; prod's is pending promotion", async () => {
    team.bed.commit(
      "add-table",
      addMigration(MIGRATION, "CREATE TABLE ci_example (id bigint PRIMARY KEY);\n"),
      "a migration",
    );
    const pr = team.bed.pullRequest(1, "add-table", "opened");
    firstHead = pr.head;
    const r = await team.bed.run("pull_request", "preview.yml", pr.payload, {
      ...pr,
      secrets: team.secrets,
      vars: team.vars,
    });
    expectJobs(r, 0, { "preview (staging)": "success", "preview (prod)": "success" });

    const [staging] = commentsFor(1, "staging");
    const [prod] = commentsFor(1, "prod");
    expect(team.bed.comments(1)).toHaveLength(2);
    expect(staging.body).toContain("### Migration plan: stack `staging` (6 migration(s) will run)");
    expect(prod.body).toContain(
      "### Migration plan: stack `prod` (6 migration(s), **pending promotion** from staging)",
    );
    expect(prod.body).toContain(
      "| 6 | `20270301000000` | `20270301000000_ci_example.sql` | no | **no**: stack staging has not completed a migration run yet |",
    );
    expect(prod.body).toContain("until it has, `pulumi up` of stack `prod` refuses them.");
    expect(prod.body).not.toContain("Refused:");
    for (const c of [staging, prod]) {
      // The commit it describes: the pull request's head (previewed as merged into main).
      expect(c.body).toContain(`Commit \`${pr.head}\`.`);
      // The resource changes, from the preview.
      expect(c.body).toContain("<details><summary>Resource changes (pulumi preview)</summary>");
      expect(c.body).toMatch(/\+ \d+ to create/);
    }
    expect(r.log).toMatch(/\[Preview\/preview \(prod\)(-\d)?\] {3}⚙ {2}Summary - ### Migration plan: stack `prod`/);
    // The credentials reach Pulumi's preview step, and no other action (nor the cluster's at all).
    for (const seen of r.actionEnvironments) {
      const given = seen.action === "pulumi/actions preview" ? ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"] : [];
      expect([seen.action, seen.names.filter((n) => CREDENTIALS.includes(n))]).toEqual([seen.action, given]);
    }
    expect(r.actionEnvironments.map((e) => e.action)).toContain("pulumi/actions preview");
    // staging's password stays a secret: not in its comment, the job's log or anything posted.
    expect(JSON.stringify(team.bed.comments(1)) + r.log).not.toContain(team.password("staging"));
  });

  it("no preview can decrypt prod's database password: no stack config or state holds it", () => {
    // Everything the preview's credentials open: the repository's stack config and the backend.
    const clone = team.bed.clone;
    const shown = spawnSync("pulumi", ["config", "--show-secrets", "--json", "--stack", "prod", "--non-interactive"], {
      cwd: clone,
      env: team.pulumiEnv,
      encoding: "utf8",
    });
    expect(shown.status).toBe(0);
    const state = Object.values(team.bed.stateFiles(team.backend)).join("\n");
    const config = fs.readFileSync(path.join(clone, "Pulumi.prod.yaml"), "utf8");
    expect(`${shown.stdout}${state}${config}`).not.toContain(team.password("prod"));
    expect(config).toContain("developers-italia-api:useExistingSecret: developers-italia-api-database");
  });

  it("a second push: prod's comment is updated in place and names the new head", async () => {
    const head = team.bed.commit(
      "add-table",
      addMigration(MIGRATION, "CREATE TABLE ci_example (id bigint PRIMARY KEY, name text);\n"),
      "more",
    );
    const [before] = commentsFor(1, "prod");
    const pr = team.bed.pullRequest(1, "add-table", "synchronize");
    const r = await team.bed.run("pull_request", "preview.yml", pr.payload, {
      ...pr,
      secrets: team.secrets,
      vars: team.vars,
      matrix: ["stack:prod"],
    });
    expectJobs(r, 0, { "preview (prod)": "success" });
    const [after] = commentsFor(1, "prod");
    expect(team.bed.comments(1)).toHaveLength(2);
    expect(after.id).toBe(before.id);
    expect(after.body).toContain(`Commit \`${head}\`.`);
    expect(after.body).not.toContain(firstHead);
  });

  it("a pull request from a fork is not previewed (it gets no secrets)", async () => {
    team.bed.commit("from-fork", addMigration("20270302000000_fork.sql", "CREATE TABLE fork (id int);\n"), "fork");
    const pr = team.bed.pullRequest(2, "from-fork", "opened", { fromFork: true });
    const r = await team.bed.run("pull_request", "preview.yml", pr.payload, { ...pr, vars: team.vars });
    expectJobs(r, 0, { "preview (staging)": "skipped", "preview (prod)": "skipped" });
    expect(team.bed.comments(2)).toEqual([]);
  });
});
