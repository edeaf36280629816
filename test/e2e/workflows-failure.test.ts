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
  // Both from the job summaries (files act reads once the step has ended), not the steps' output:
  // in host mode act copies a step's output from a pty and stops copying as soon as a failed
  // step's process ends, so under load the tail of a failed step's output is lost.
  expect(jobSummary(r.log, "Deploy/up (staging)")).toContain('relation "no_such_table" does not exist');
  const refusal = jobSummary(r.log, "Deploy/plan (prod)");
  expect(refusal).toContain("refused: the update of stack prod would be refused:");
  expect(refusal).toContain(`${BROKEN} (stack staging has not`);
  expect(refusal).toMatch(/staging's deploy of this commit failed: .*relation "no_such_table" does not exist/);
  expect(await team.revisions("prod")).toEqual([]);
});

/** A job's summary as act logs it: one entry of several lines, up to the job's next line. */
function jobSummary(log: string, job: string): string {
  const start = log.indexOf(`[${job}]   ⚙  Summary - `);
  if (start < 0) throw new Error(`no summary of job ${job} in act's log`);
  const end = log.indexOf(`\n[${job}] `, start + 1);
  return log.slice(start, end < 0 ? undefined : end);
}
