import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/**
 * The workflows' contract with this repository: actions pinned by commit SHA, least
 * privilege, secrets only from the secret store, one `pulumi up` per stack at a time, and
 * steps that only call npm scripts that `npm test` runs too (so CI here proves what runs in
 * Actions). actionlint (scripts/test.sh) checks the syntax and expressions.
 */

const ROOT = path.join(__dirname, "../..");
const DIR = path.join(ROOT, ".github/workflows");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  permissions?: Record<string, string>;
  environment?: string;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const files = fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const workflows = files.map((f) => ({ file: f, text: read(`.github/workflows/${f}`) }));
const parsed = (file: string) => parse(read(`.github/workflows/${file}`)) as Workflow;
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);

/** Each npm script a workflow may run, and where `npm test` runs the same script. */
const EXERCISED: Record<string, { file: string; invocation: string }> = {
  "migrations:check": { file: "scripts/test.sh", invocation: "npm run --silent migrations:check" },
  "migrations:guard": { file: "test/integration/migrationGuard.test.ts", invocation: '"migrations:guard"' },
  // A wrapper that runs one file of the integration suite npm test runs in full.
  "migrations:schema": { file: "scripts/schema-check.sh", invocation: "--testPathPattern 'test/integration/schema" },
  plan: { file: "test/e2e/promotion.test.ts", invocation: 'npmRun("plan"' },
  deploy: { file: "test/e2e/promotion.test.ts", invocation: 'npmRun("deploy"' },
};

describe("workflows", () => {
  it("are the three this repository documents", () => {
    expect(files.sort()).toEqual(["deploy.yml", "pr-checks.yml", "preview.yml"]);
  });

  it.each(workflows)(
    "$file: every action is pinned by a full commit SHA, with its release in a comment",
    ({ text }) => {
      const uses = text.split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l));
      expect(uses.length).toBeGreaterThan(0);
      for (const line of uses) expect(line).toMatch(/uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    },
  );

  it.each(files)("%s: least privilege: read-only by default, writes only where a job comments", (file) => {
    const w = parsed(file);
    expect(w.permissions).toEqual({ contents: "read" });
    for (const [name, job] of Object.entries(w.jobs)) {
      const granted = job.permissions ?? {};
      const writes = Object.entries(granted).filter(([, v]) => v === "write");
      expect([name, writes]).toEqual([name, file === "preview.yml" ? [["pull-requests", "write"]] : []]);
    }
  });

  it.each(files)("%s: credentials come from the secret store only", (file) => {
    for (const job of Object.values(parsed(file).jobs)) {
      const envs = [job.env ?? {}, ...job.steps.map((s) => s.env ?? {})];
      for (const env of envs) {
        for (const [key, value] of Object.entries(env)) {
          if (/TOKEN|PASSPHRASE|KUBECONFIG|PASSWORD|SECRET/.test(key)) {
            expect([key, value]).toEqual([key, `\${{ secrets.${key} }}`]);
          }
        }
      }
    }
  });

  it.each(files)("%s: steps only run npm scripts that npm test runs too", (file) => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    for (const step of steps(parsed(file))) {
      if (step.run === undefined) continue;
      const match = /^npm (ci|run ([\w:-]+)(?: -- .*)?)$/.exec(step.run.trim());
      expect([step.run, match !== null]).toEqual([step.run, true]);
      const script = match![2];
      if (script === undefined) continue;
      expect(scripts[script]).toBeDefined();
      const where = EXERCISED[script];
      expect([script, where !== undefined]).toEqual([script, true]);
      expect(read(where.file)).toContain(where.invocation);
    }
  });

  it("deploy: staging, then production; one up per stack, never cancelled; protected environments", () => {
    const w = parsed("deploy.yml");
    expect(Object.keys(w.jobs)).toEqual(["staging", "production"]);
    expect((w.jobs.production as Job & { needs?: string }).needs).toBe("staging");
    for (const [name, stack, environment] of [
      ["staging", "staging", "staging"],
      ["production", "prod", "production"],
    ]) {
      const job = w.jobs[name];
      expect(job.environment).toBe(environment);
      expect(job.concurrency).toEqual({ group: `pulumi-up-${stack}`, "cancel-in-progress": false });
      expect(job.steps.map((s) => s.run).filter(Boolean)).toEqual(["npm ci", `npm run deploy -- --stack ${stack}`]);
    }
    expect(read("Pulumi.prod.yaml")).toMatch(/^ {2}developers-italia-api:promoteFrom: staging$/m);
  });

  it("preview: Pulumi's PR comment per stack, the plan table, and no cluster credentials", () => {
    const w = parsed("preview.yml");
    const job = w.jobs.preview;
    const preview = job.steps.find((s) => s.with?.command === "preview")!;
    expect(preview.uses).toMatch(/^pulumi\/actions@/);
    expect(preview.with).toMatchObject({ "comment-on-pr": true, "stack-name": "${{ matrix.stack }}" });
    expect(preview.env).toEqual({ MIGRATION_PLAN_FILE: "${{ runner.temp }}/plan-${{ matrix.stack }}.json" });
    expect(read(".github/workflows/preview.yml")).not.toMatch(/KUBECONFIG/);
    expect(job.steps.some((s) => s.run?.startsWith("npm run plan -- --from-file"))).toBe(true);
  });

  it("pr-checks: the migration checks on a PostgreSQL service container", () => {
    const w = parsed("pr-checks.yml");
    const runs = steps(w).flatMap((s) => (s.run ? [s.run] : []));
    expect(runs).toEqual([
      "npm ci",
      "npm run migrations:check",
      'npm run migrations:guard -- --since "origin/$BASE_REF"',
      "npm run migrations:schema",
    ]);
    const job = w.jobs.migrations as Job & { services: Record<string, { ports: string[] }> };
    expect(job.services.postgres.ports).toEqual(["127.0.0.1:5432:5432"]);
  });
});
