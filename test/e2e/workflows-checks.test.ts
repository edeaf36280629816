import * as fs from "fs";
import * as path from "path";
import { createTeam, expectJobs, Team } from "../support/workflowTeam";

/**
 * pr-checks.yml's migrations job, run by act on the test bed (test/support/workflows.ts), on a
 * pull request: the checks, the destructive guard over the pull
 * request's files (against the base branch, from a full-history checkout) and the schema
 * check on a PostgreSQL that the job starts itself as the test bed starts it (no service
 * container), with the tools cached by their pinned versions. Its `test` job is npm test
 * itself, which runs this suite, so it is not run here (docs/ci.md).
 */

jest.setTimeout(30 * 60_000);

let team: Team;

beforeAll(async () => {
  team = await createTeam("c");
});

afterAll(async () => {
  await team?.remove();
});

it("a pull request: names, atlas.sum, the guard over its files, the schema on PostgreSQL", async () => {
  // A migration would fail the schema check until the API's model has it (testbed/gorm-oracle).
  team.bed.commit(
    "notes",
    (dir) => fs.appendFileSync(path.join(dir, "migrations", "README.md"), "\nA note.\n"),
    "a note",
  );
  const pr = team.bed.pullRequest(3, "notes", "opened");
  const r = await team.bed.run("pull_request", "pr-checks.yml", pr.payload, { ...pr, job: "migrations" });
  expectJobs(r, 0, { "migrations (names, atlas.sum, guard, schema)": "success" });
  // The guard compared with the base branch (a full-history checkout): no migration changed.
  expect(r.log).toMatch(
    /0 migration file\(s\) checked against \d stack\(s\) \(loses-data: 0, breaks-old-pods: 0, long-lock: 0\): nothing unacknowledged/,
  );
  expect(r.log).toContain("Cache not found for input keys: tools-Linux-");
  expect(r.log).toMatch(/PostgreSQL 18\.\d+ on 127\.0\.0\.1:\d+/);
  expect(r.log).toMatch(/Tests: +\d+ passed, \d+ total/);
  expect(r.log).toContain("PostgreSQL 18 stopped");
});
