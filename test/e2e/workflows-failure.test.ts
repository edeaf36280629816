import { addMigration, createTeam, expectJobs, Team } from "../support/workflowTeam";

/**
 * deploy.yml, run by act on the test bed (test/support/workflows.ts), when a merged migration
 * fails on staging: staging's up fails with the migration Job's error, prod's plan refuses the
 * migration naming staging's failure, and prod is not deployed.
 */

jest.setTimeout(30 * 60_000);

const BROKEN = "20270401000000_broken.sql";
let team: Team;

beforeAll(async () => {
  team = await createTeam("f");
});

afterAll(async () => {
  await team?.remove();
});

it("a migration that fails on staging: prod's plan refuses it with staging's failure; prod is not deployed", async () => {
  team.bed.commit("broken", addMigration(BROKEN, "ALTER TABLE no_such_table ADD COLUMN x text;\n"), "broken");
  const push = team.bed.mergeToMain("broken");
  const r = await team.bed.run("push", "deploy.yml", push.payload, { ...push, secrets: team.secrets, vars: team.vars });
  expectJobs(r, 1, {
    "plan (staging)": "success",
    "up (staging)": "failure",
    "plan (prod)": "failure",
    "up (prod)": "skipped",
  });
  expect(r.log).toMatch(/\[Deploy\/up \(staging\)\] .*relation "no_such_table" does not exist/);
  const refusal = r.log
    .split("\n")
    .filter((l) => l.startsWith("[Deploy/plan (prod)]"))
    .join("\n");
  expect(refusal).toContain("refused: the update of stack prod would be refused:");
  expect(refusal).toContain(`${BROKEN} (stack staging has not`);
  expect(refusal).toMatch(/staging's deploy of this commit failed: .*relation "no_such_table" does not exist/);
  expect(await team.revisions("prod")).toEqual([]);
});
