import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { acknowledgementOf, loadSqlParser, parseAcknowledgements } from "../../lib/migration/guard";
import {
  buildPlanReport,
  cell,
  codeSpan,
  describeDatabase,
  deploySummary,
  diagnostics,
  guardFindings,
  parsePlanReport,
  PLAN_FILE_ENV,
  PlanReport,
  renderPlanMarkdown,
  writePlanFile,
} from "../../lib/deploy/report";
import type { RunPlan } from "../../lib/migration/preflight";
import type { Acknowledged } from "../../lib/migration/risk";
import { appliedMigrations, checkPromotion } from "../../lib/migration/promotion";
import { readSpec } from "../../lib/config/readSpec";
import { migrationDir, migrationFile } from "../support/migrationFiles";
import { recordResources, valueOf } from "../support/pulumiMocks";
import { apiArgs, DevelopersItaliaApi } from "../../components/developersItaliaApi";
import type { AppliedRecord } from "../../lib/deploy/applied";
import { planDeploy } from "../../lib/deploy/plan";
import { readPromotionSource } from "../../stack/promotionSource";
import { publishPlan } from "../../stack/planArtifact";

recordResources();

const DSN = "host=db.internal port=5432 dbname=api user=app password=s3cret sslmode=disable";
const settingsWith = (values: Record<string, string> = {}) =>
  readSpec({
    get: (k) => ({ databaseDsn: DSN, ...values })[k],
    isSecret: (k) => k === "databaseDsn",
  });

const v1 = migrationFile("20250909000000", "CREATE TABLE a (id text);\n", "initial");
const v2 = migrationFile("20260410000000", "ALTER TABLE a ADD COLUMN b text;\n", "add_b");
const v3 = migrationFile("20270101000000", "-- drop it\nALTER TABLE a DROP COLUMN b;\nTRUNCATE a;\n", "drop_b");
const dir = migrationDir([v1, v2, v3]);
const [ACK_V3] = parseAcknowledgements(acknowledgementOf(v3));
/** v3 acknowledged in allowDestructiveMigrations and allowBreakingMigrations (it drops a column). */
const ACKS_V3: Acknowledged = { allowDestructive: [ACK_V3], allowBreaking: [ACK_V3], allowLocking: [] };
const NONE: Acknowledged = { allowDestructive: [], allowBreaking: [], allowLocking: [] };

const offlinePlan = (pending = [v2, v3]): RunPlan => ({
  mode: "offline",
  pending,
  appliedVersion: "20250909000000",
  basis: "newer than 20250909000000, the version this stack last applied; the database was not read",
  databaseIdentity: "",
  databaseChange: "unrecorded",
  rollback: false,
  notes: [],
});

beforeAll(() => loadSqlParser());

describe("guardFindings", () => {
  it("finds every statement of every class with its line, acknowledged (by its own key) or not", () => {
    const dropped = {
      version: "20270101000000",
      file: "20270101000000_drop_b.sql",
      line: 2,
      phase: "expand",
      kind: "ALTER TABLE ... DROP COLUMN",
      statement: "ALTER TABLE a DROP COLUMN b",
      reviewedByProject: false,
      acceptedByPhase: false,
    };
    expect(guardFindings([v2, v3], { ...NONE, allowDestructive: [ACK_V3] }, "expand")).toEqual([
      {
        ...dropped,
        risk: "loses-data",
        advice: expect.stringContaining("copy it first"),
        squawk: ["ban-drop-column"],
        acknowledged: true,
      },
      {
        ...dropped,
        risk: "breaks-old-pods",
        advice: "drop it in a contract migration, once the release that no longer uses it is rolled out",
        squawk: [],
        acknowledged: false,
      },
      {
        version: "20270101000000",
        file: "20270101000000_drop_b.sql",
        line: 3,
        risk: "loses-data",
        phase: "expand",
        kind: "TRUNCATE",
        statement: "TRUNCATE a",
        advice: expect.stringContaining("copy it first"),
        squawk: [],
        acknowledged: true,
        reviewedByProject: false,
        acceptedByPhase: false,
      },
    ]);
    expect(guardFindings([v3], NONE, "expand").map((f) => f.acknowledged)).toEqual([false, false, false]);
    // Another content of the same version (an edit after the review) is not acknowledged.
    const stale = [{ ...ACK_V3, digest: "0".repeat(16) }];
    expect(
      guardFindings([v3], { allowDestructive: stale, allowBreaking: stale, allowLocking: [] }, "expand").map(
        (f) => f.acknowledged,
      ),
    ).toEqual([false, false, false]);
  });

  it("in the contract phase, breaks-old-pods is accepted by the phase, the rest still needs its key", () => {
    expect(guardFindings([v3], NONE, "contract").map((f) => [f.risk, f.phase, f.acceptedByPhase])).toEqual([
      ["loses-data", "contract", false],
      ["breaks-old-pods", "contract", true],
      ["loses-data", "contract", false],
    ]);
  });
});

describe("planDeploy: one migration run, its key computed once", () => {
  const plan = (values: Record<string, string>, applied: AppliedRecord = { deployed: false }) =>
    planDeploy({ stack: "prod", spec: settingsWith({ migrationPreflight: "off", ...values }), dir, applied });

  it.each([
    [{}],
    [{ migrationLockTimeout: "30s", migrationRevisionsSchema: "atlas" }],
    [{ imageDigest: `sha256:${"c".repeat(64)}`, atlasImage: "arigaio/atlas:0.13.1" }],
  ])("the report, the component's Job and its pods carry the plan's key (%p)", async (values) => {
    const spec = settingsWith(values);
    const deploy = await planDeploy({ stack: "prod", spec, dir, applied: { deployed: false } });
    const api = new DevelopersItaliaApi(`dia-${Object.keys(values).length}`, apiArgs(spec, deploy, dir));
    await valueOf(api.migration.job.urn);
    expect(api.migration.key).toBe(deploy.migration.key);
    expect(deploy.report.migrationKey).toBe(deploy.migration.key);
    expect(await valueOf(api.migration.runKey)).toBe(deploy.migration.key);
  });

  it("changes the key with what the Job runs", async () => {
    expect((await plan({ migrationLockTimeout: "30s" })).migration.key).not.toBe((await plan({})).migration.key);
  });

  describe("the Job's --baseline", () => {
    const B = v2.version;
    const withB = { migrationBaseline: B };
    const applied = (migrationKey: string | undefined, extra: Partial<AppliedRecord> = {}): AppliedRecord => ({
      version: v1.version,
      migrations: [v1.version],
      deployed: true,
      migrationKey,
      ...extra,
    });

    it("a first run writes the configured baseline, and it is in the key", async () => {
      const first = await plan(withB);
      expect(first.migration.input.baseline).toBe(B);
      expect(first.migration.key).not.toBe((await plan({})).migration.key);
    });

    it("once revisions exist, the Job keeps the baseline it has whether the config keeps, drops or adds one", async () => {
      const firstKey = (await plan(withB)).migration.key;
      const kept = await plan(withB, applied(firstKey));
      const removed = await plan({}, applied(firstKey));
      expect(kept.migration.input.baseline).toBe(B);
      expect(removed.migration.input.baseline).toBe(B);
      expect(removed.migration.key).toBe(firstKey);
      expect(removed.report.migrationKey).toBe(firstKey);
      const withoutKey = (await plan({})).migration.key;
      const added = await plan(withB, applied(withoutKey));
      expect(added.migration.input.baseline).toBeUndefined();
      expect(added.migration.key).toBe(withoutKey);
    });

    it("none when nothing is written and no recorded key gives one", async () => {
      expect((await plan(withB, applied(undefined))).migration.input.baseline).toBeUndefined();
      // The Job is replaced for another change anyway; Atlas would ignore the baseline.
      const firstKey = (await plan(withB)).migration.key;
      const other = await plan({ ...withB, migrationLockTimeout: "30s" }, applied(firstKey));
      expect(other.migration.input.baseline).toBeUndefined();
    });

    it("a new database (accepted offline) writes it again", async () => {
      const first = await plan(withB);
      const identity = first.run.databaseIdentity;
      const again = await plan(
        { ...withB, migrationAcceptDatabase: identity },
        applied(first.migration.key, { databaseIdentity: "ffffffffffffffff" }),
      );
      expect(again.run.baselineToWrite).toBe(B);
      expect(again.migration.input.baseline).toBe(B);
    });
  });
});

function report(overrides: Partial<Parameters<typeof buildPlanReport>[0]> = {}): PlanReport {
  const plan = overrides.plan ?? offlinePlan();
  return buildPlanReport({
    stack: "prod",
    spec: settingsWith({
      allowDestructiveMigrations: JSON.stringify([acknowledgementOf(v3)]),
      allowBreakingMigrations: JSON.stringify([acknowledgementOf(v3)]),
    }),
    plan,
    migrationKey: "0123456789abcdef",
    findings: guardFindings(plan.pending, ACKS_V3, "expand"),
    ...overrides,
  });
}

describe("publishPlan", () => {
  const index = migrationFile("20270201000000", "CREATE INDEX i ON a (b);\n", "index_b");
  const deployWith = (values: Record<string, string>) => {
    const spec = settingsWith(values);
    return planDeploy({ stack: "prod", spec, dir: migrationDir([v1, v2, index]), applied: appliedAt(v2) }).then(
      (deploy) => () => publishPlan(spec, deploy),
    );
  };
  const appliedAt = (f: typeof v2): AppliedRecord => ({
    deployed: true,
    version: f.version,
    migrations: [v1.version, f.version],
  });

  it("refuses, before any resource, what the plan refuses: each class under its own key", async () => {
    const publish = await deployWith({});
    expect(publish).toThrow(
      "pending migrations hold a long exclusive lock on a table that already exists, or rewrite it: the live API's " +
        "queries on it wait until the statement ends (expand phase):\n" +
        "  20270201000000_index_b.sql:1: CREATE INDEX without CONCURRENTLY (blocks writes): CREATE INDEX i ON a (b)\n",
    );
    expect(publish).toThrow(`'allowLockingMigrations[0]' ${acknowledgementOf(index)}`);
    const acknowledged = await deployWith({ allowLockingMigrations: JSON.stringify([acknowledgementOf(index)]) });
    expect(acknowledged).not.toThrow();
  });
});

describe("readPromotionSource", () => {
  it("refuses a promoteFrom that names this stack itself", async () => {
    await expect(readPromotionSource("unit")).rejects.toThrow(
      "config promoteFrom: names this stack (unit); name the stack that deploys before it, e.g. staging",
    );
  });
});

describe("buildPlanReport", () => {
  it("holds what will run, the baseline, the database, the key and the guard's findings, and no secret", () => {
    const r = report();
    expect(r).toMatchObject({
      format: 3,
      stack: "prod",
      preflight: "offline",
      database: "db.internal:5432/api",
      databaseIdentity: null,
      appliedVersion: "20250909000000",
      baseline: null,
      migrationKey: "0123456789abcdef",
      promotion: null,
      refusals: [],
    });
    expect(r.pending.map((p) => [p.version, p.file])).toEqual([
      ["20260410000000", "20260410000000_add_b.sql"],
      ["20270101000000", "20270101000000_drop_b.sql"],
    ]);
    expect(r.pending[0].sha256).toBe(appliedMigrations([v2])[0].sha256);
    expect(r.guard.map((g) => [g.line, g.risk, g.kind, g.acknowledged])).toEqual([
      [2, "loses-data", "ALTER TABLE ... DROP COLUMN", true],
      [2, "breaks-old-pods", "ALTER TABLE ... DROP COLUMN", true],
      [3, "loses-data", "TRUNCATE", true],
    ]);
    expect(JSON.stringify(r)).not.toContain("s3cret");
  });

  it("records why a deploy will be refused: an unacknowledged statement, an untried migration", () => {
    const plan = offlinePlan();
    const r = report({
      findings: guardFindings(plan.pending, NONE, "expand"),
      promotion: checkPromotion(plan.pending, { stack: "staging", applied: appliedMigrations([v1, v2]) }),
    });
    expect(r.refusals).toEqual([
      "statements that lose data (or cannot be verified), not acknowledged in allowDestructiveMigrations: 20270101000000 " +
        "(20270101000000_drop_b.sql:2 ALTER TABLE ... DROP COLUMN; 20270101000000_drop_b.sql:3 TRUNCATE)",
      "statements that break the API pods still serving during the rollout, not acknowledged in allowBreakingMigrations: " +
        "20270101000000 (20270101000000_drop_b.sql:2 ALTER TABLE ... DROP COLUMN)",
    ]);
    // In the contract phase the breaking statement needs no acknowledgement: one refusal, its own key.
    const contract = report({
      findings: guardFindings(plan.pending, { ...NONE, allowDestructive: [ACK_V3] }, "contract"),
    });
    expect(contract.refusals).toEqual([]);
    const locking = migrationFile("20270201000000", "CREATE INDEX i ON a (b);\n", "index_b");
    const locked = offlinePlan([locking]);
    expect(report({ plan: locked, findings: guardFindings(locked.pending, NONE, "contract") }).refusals).toEqual([
      "statements that hold a long exclusive lock on, or rewrite, a table that already exists, not acknowledged in " +
        "allowLockingMigrations: 20270201000000 (20270201000000_index_b.sql:1 CREATE INDEX without CONCURRENTLY (blocks writes))",
    ]);
    // Refused by `up` only, and whole: which file and why, not a first line that ends in ":".
    expect(r.pendingPromotion).toBe(
      "1 pending migration(s) not applied by stack staging yet: 20270101000000_drop_b.sql (stack staging has not applied it)",
    );
  });

  it("survives JSON: what the file and the stack output carry is the same object", () => {
    const r = report({ databaseIdentity: "db-7f3a" });
    expect(parsePlanReport(JSON.stringify(r), "plan.json")).toEqual(r);
    expect(() => parsePlanReport('{"format": 1}', "plan.json")).toThrow(
      "plan.json: plan format 1, this code reads format 3",
    );
    expect(() => parsePlanReport("Diagnostics:", "plan.json")).toThrow(/^plan.json: not JSON/);
  });
});

describe("describeDatabase", () => {
  it("names the database as host:port/name, never credentials; with an existing Secret, the one existingSecretDatabase names", () => {
    expect(describeDatabase({ url: "postgres://app:pw@db:5432/api?sslmode=require" })).toBe("db:5432/api");
    expect(describeDatabase({ existingSecret: "api-db" })).toBe("in Secret api-db");
    expect(describeDatabase({ existingSecret: "api-db", address: "postgres://db:5432/api" })).toBe(
      "db:5432/api (in Secret api-db)",
    );
  });
});

describe("writePlanFile", () => {
  it("writes the JSON only where MIGRATION_PLAN_FILE points", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "plan-"));
    const target = path.join(tmp, "out", "plan.json");
    writePlanFile(report(), {});
    expect(fs.existsSync(target)).toBe(false);
    writePlanFile(report(), { [PLAN_FILE_ENV]: target });
    expect(JSON.parse(fs.readFileSync(target, "utf8"))).toEqual(report());
    fs.rmSync(tmp, { recursive: true });
  });
});

describe("renderPlanMarkdown", () => {
  it("renders the plan as tables a reviewer reads", () => {
    const plan = offlinePlan();
    const r = report({
      promotion: checkPromotion(plan.pending, { stack: "staging", applied: appliedMigrations([v1, v2, v3]) }),
    });
    expect(renderPlanMarkdown(r)).toBe(
      [
        "### Migration plan: stack `prod` (2 migration(s) will run)",
        "",
        "| | |",
        "| --- | --- |",
        "| preflight | offline: newer than 20250909000000, the version this stack last applied; the database was not read |",
        "| database | `db.internal:5432/api` |",
        "| applied so far | `20250909000000` |",
        "| baseline | none |",
        `| migration key | \`${r.migrationKey}\` |`,
        "| promoted from | `staging` applied 3 migration(s), newest `20270101000000` |",
        "",
        "In this order:",
        "",
        "| # | version | file | guard | applied by staging |",
        "| --- | --- | --- | --- | --- |",
        "| 1 | `20260410000000` | `20260410000000_add_b.sql` | no | yes |",
        "| 2 | `20270101000000` | `20270101000000_drop_b.sql` | " +
          "loses-data: ALTER TABLE ... DROP COLUMN (acknowledged in allowDestructiveMigrations); " +
          "breaks-old-pods: ALTER TABLE ... DROP COLUMN (acknowledged in allowBreakingMigrations); " +
          "loses-data: TRUNCATE (acknowledged in allowDestructiveMigrations) | yes |",
        "",
        "What the statements do to the live system:",
        "",
        "| where | class | kind | statement | verdict |",
        "| --- | --- | --- | --- | --- |",
        "| `20270101000000_drop_b.sql:2` | loses-data | ALTER TABLE ... DROP COLUMN | `ALTER TABLE a DROP COLUMN b` | acknowledged in allowDestructiveMigrations |",
        "| `20270101000000_drop_b.sql:2` | breaks-old-pods | ALTER TABLE ... DROP COLUMN | `ALTER TABLE a DROP COLUMN b` | acknowledged in allowBreakingMigrations |",
        "| `20270101000000_drop_b.sql:3` | loses-data | TRUNCATE | `TRUNCATE a` | acknowledged in allowDestructiveMigrations |",
        "",
      ].join("\n"),
    );
  });

  it("says refused, marks what is not acknowledged or not tried, and lists the reasons", () => {
    const plan = offlinePlan([v3]);
    const md = renderPlanMarkdown(
      report({
        plan,
        findings: guardFindings(plan.pending, NONE, "expand"),
        promotion: checkPromotion(plan.pending, { stack: "staging" }),
      }),
    );
    expect(md).toContain("### Migration plan: stack `prod` (**refused**)\n");
    expect(md).toContain("| promoted from | `staging` has applied no migration yet |\n");
    expect(md).toContain(
      "| 1 | `20270101000000` | `20270101000000_drop_b.sql` | " +
        "loses-data: ALTER TABLE ... DROP COLUMN (**not acknowledged** in allowDestructiveMigrations); " +
        "breaks-old-pods: ALTER TABLE ... DROP COLUMN (**not acknowledged** in allowBreakingMigrations); " +
        "loses-data: TRUNCATE (**not acknowledged** in allowDestructiveMigrations) | " +
        "**no**: stack staging has not completed a migration run yet |\n",
    );
    expect(md).toContain(
      "| `20270101000000_drop_b.sql:3` | loses-data | TRUNCATE | `TRUNCATE a` | **not acknowledged** in allowDestructiveMigrations |\n",
    );
    expect(md).toContain("Refused:\n\n- statements that lose data (or cannot be verified), not acknowledged");
    const contract = renderPlanMarkdown(report({ plan, findings: guardFindings(plan.pending, NONE, "contract") }));
    expect(contract).toContain(
      "| `20270101000000_drop_b.sql:2` | breaks-old-pods | ALTER TABLE ... DROP COLUMN | `ALTER TABLE a DROP COLUMN b` | accepted: contract phase |\n",
    );
    expect(md).toContain(
      "Pending promotion:\n\n- 1 pending migration(s) not applied by stack staging yet: 20270101000000\\_drop\\_b.sql " +
        "(stack staging has not completed a migration run yet)\n",
    );
    expect(md).toContain("until it has, `pulumi up` of stack `prod` refuses them.");
  });

  it("a migration only pending promotion: the preview says so, and is not refused", () => {
    const plan = offlinePlan([v3]);
    const md = renderPlanMarkdown(
      report({ plan, promotion: checkPromotion(plan.pending, { stack: "staging", applied: appliedMigrations([v1]) }) }),
    );
    expect(md).toContain("### Migration plan: stack `prod` (1 migration(s), **pending promotion** from staging)\n");
    expect(md).not.toContain("Refused:");
  });

  it("nothing to run: says so, with no empty tables", () => {
    const md = renderPlanMarkdown(report({ plan: { ...offlinePlan([]), appliedVersion: "20270101000000" } }));
    expect(md).toContain("(no migration will run)");
    expect(md).not.toContain("In this order:");
    expect(md).not.toContain("Destructive statements:");
  });

  it("a baseline and a database identity are shown when present", () => {
    const md = renderPlanMarkdown(
      report({
        plan: {
          mode: "online",
          pending: [v3],
          baselineToWrite: "20260410000000",
          basis: "read from the database",
          databaseIdentity: "",
          databaseChange: "unrecorded",
          rollback: false,
          notes: [],
        },
        databaseIdentity: "a1b2c3",
      }),
    );
    expect(md).toContain("| baseline | `20260410000000` (will be recorded, not run) |");
    expect(md).toContain("| database identity | `a1b2c3` |");
    expect(md).toContain("| applied so far | none |");
  });

  it("statements with pipes, backticks or markup cannot break the table", () => {
    const odd = migrationFile(
      "20280101000000",
      "DELETE FROM a; -- `x`\nDROP TABLE \"we|ird`name\";\nSELECT '<b>' || 'x';\n",
      "odd",
    );
    const plan = offlinePlan([odd]);
    const md = renderPlanMarkdown(report({ plan, findings: guardFindings(plan.pending, NONE, "expand") }));
    const rows = md.split("\n").filter((l) => l.startsWith("| `20280101000000_odd.sql:"));
    const refused = (key: string) => `**not acknowledged** in ${key}`;
    expect(rows).toEqual([
      `| \`20280101000000_odd.sql:1\` | loses-data | DELETE without WHERE | \`DELETE FROM a\` | ${refused("allowDestructiveMigrations")} |`,
      `| \`20280101000000_odd.sql:2\` | loses-data | DROP TABLE | \`\`DROP TABLE "we\\|ird\`name"\`\` | ${refused("allowDestructiveMigrations")} |`,
      `| \`20280101000000_odd.sql:2\` | breaks-old-pods | DROP TABLE | \`\`DROP TABLE "we\\|ird\`name"\`\` | ${refused("allowBreakingMigrations")} |`,
    ]);
  });
});

describe("codeSpan and cell", () => {
  it.each([
    ["plain", "`plain`"],
    ["a|b", "`a\\|b`"],
    ["a`b", "``a`b``"],
    ["`x`", "`` `x` ``"],
  ])("codeSpan(%p) = %p", (text, md) => expect(codeSpan(text)).toBe(md));

  it("cell escapes markup and flattens lines", () => {
    expect(cell("a|b\n<script>*x*_y_ [l](u)\\")).toBe("a\\|b \\<script\\>\\*x\\*\\_y\\_ \\[l\\](u)\\\\");
  });
});

const FAILED_UP = `Updating (staging):
 +  kubernetes:batch/v1:Job developers-italia-api-migrate-job creating (0s)
 +  kubernetes:batch/v1:Job developers-italia-api-migrate-job creating failed error: 1 error occurred:
Diagnostics:
  pulumi:pulumi:Stack (developers-italia-api-staging):
    Migrations (preflight offline; newer than 20260612000000, the version this stack last applied; the database was not read):
      1 migration(s) will run, in this order:
        20270102000000  20270102000000_broken.sql
    error: update failed

  kubernetes:batch/v1:Job (developers-italia-api-migrate-job):
    error: 1 error occurred:
    \t* Job has failed: [Error] pq: relation "no_such_table" does not exist

Resources:
    5 unchanged

Duration: 12s
`;

describe("diagnostics and deploySummary", () => {
  it("diagnostics keeps the engine's Diagnostics section only", () => {
    const d = diagnostics(FAILED_UP);
    expect(d.startsWith("  pulumi:pulumi:Stack (developers-italia-api-staging):")).toBe(true);
    expect(d).toContain('pq: relation "no_such_table" does not exist');
    expect(d).not.toContain("Resources:");
    expect(d).not.toContain("creating failed");
    expect(diagnostics("Resources:\n    5 unchanged\n")).toBe("");
  });

  it("a failed up: the plan table, the failure, and the Job's message in the summary", () => {
    const md = deploySummary("staging", "pulumi up", { code: 255, output: FAILED_UP }, report({ stack: "staging" }));
    expect(md.startsWith("### Migration plan: stack `staging`")).toBe(true);
    expect(md).toContain("**pulumi up failed** for stack `staging` (exit code 255).");
    expect(md).toContain("<details open><summary>Diagnostics</summary>\n\n```text\n  pulumi:pulumi:Stack");
    expect(md).toContain('* Job has failed: [Error] pq: relation "no_such_table" does not exist\n```');
  });

  it("a program that stopped before its plan still gets a summary with the output's tail", () => {
    const md = deploySummary("prod", "pulumi up", { code: 1, output: "error: config promoteFrom: nope" });
    expect(md).toContain("The program stopped before it made a plan.");
    expect(md).toContain("```text\nerror: config promoteFrom: nope\n```");
  });

  it("a plan refused before approval: the refusal itself, under the outcome", () => {
    const refusal =
      "refused: the update of stack prod would be refused:\n  1 pending migration(s) not applied by stack staging yet";
    const md = deploySummary("prod", "pulumi preview --save-plan", { code: 1, output: "" }, report(), refusal);
    expect(md).toContain(
      "**pulumi preview --save-plan failed** for stack `prod` (exit code 1).\n\n```text\n" + refusal + "\n```\n",
    );
  });

  it("a successful up: closed diagnostics, no failure", () => {
    const ok = "Diagnostics:\n  pulumi:pulumi:Stack (x):\n    no migration will run\n\nResources:\n    7 unchanged\n";
    const md = deploySummary("prod", "pulumi up", { code: 0, output: ok }, report());
    expect(md).toContain("**pulumi up succeeded** for stack `prod`.");
    expect(md).toContain("<details><summary>Diagnostics</summary>");
  });
});
