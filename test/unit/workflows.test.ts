import { execFileSync } from "child_process";
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
  if?: string;
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
  // The workflows themselves run them through act (test/e2e/workflows.test.ts).
  build: { file: "test/e2e/workflows-preview.test.ts", invocation: '"preview.yml"' },
  plan: { file: "test/e2e/workflows-preview.test.ts", invocation: '"preview.yml"' },
  deploy: { file: "test/e2e/workflows-deploy.test.ts", invocation: '"deploy.yml"' },
  "ci:postgres": { file: "test/e2e/workflows-checks.test.ts", invocation: '"pr-checks.yml"' },
  // npm test itself, as root.
  "test:ci": { file: "scripts/test-ci.sh", invocation: "exec bash scripts/test.sh" },
};

/** How every job installs the packages: from the npm cache setup-node restored, when it has them. */
const NPM_CI = "npm ci --prefer-offline --no-audit --no-fund";

/** A GitHub path filter as a regular expression (the `*` and `**` these workflows use). */
function filterRegExp(pattern: string): RegExp {
  const body = pattern
    .split("**")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*"))
    .join(".*");
  return new RegExp(`^${body}$`);
}

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

  it.each(workflows)("$file: one release per action across the workflows (Dependabot bumps them together)", () => {
    const pins = new Map<string, Set<string>>();
    for (const { text } of workflows) {
      for (const m of text.matchAll(/uses: ([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v[\d.]+)/g)) {
        pins.set(m[1], (pins.get(m[1]) ?? new Set()).add(`${m[2]} ${m[3]}`));
      }
    }
    for (const [action, seen] of pins) expect([action, seen.size]).toEqual([action, 1]);
  });

  it("Dependabot keeps the actions and the npm packages current", () => {
    const config = parse(read(".github/dependabot.yml")) as { updates: Array<{ "package-ecosystem": string }> };
    expect(config.updates.map((u) => u["package-ecosystem"]).sort()).toEqual(["github-actions", "npm"]);
  });

  it.each(files)("%s: least privilege: read-only by default, writes only where a job comments", (file) => {
    const w = parsed(file);
    expect(w.permissions).toEqual({ contents: "read" });
    for (const [name, job] of Object.entries(w.jobs)) {
      const granted = job.permissions ?? {};
      const writes = Object.entries(granted).filter(([, v]) => v === "write");
      expect([name, writes]).toEqual([name, file === "preview.yml" ? [["pull-requests", "write"]] : []]);
    }
  });

  it.each(files)("%s: credentials come from the secret store, and only into the steps that use them", (file) => {
    const text = read(`.github/workflows/${file}`);
    expect(text).not.toMatch(/always\(\)/);
    for (const [name, job] of Object.entries(parsed(file).jobs)) {
      // Job-level env reaches every step: npm ci's install scripts and every third-party action.
      expect([name, JSON.stringify(job.env ?? {})]).not.toEqual([name, expect.stringMatching(/secrets\./)]);
      for (const step of job.steps) {
        for (const [key, value] of Object.entries(step.env ?? {})) {
          if (/TOKEN|PASSPHRASE|KUBECONFIG|PASSWORD|SECRET/.test(key)) {
            expect([key, value]).toEqual([key, `\${{ secrets.${key} }}`]);
            expect([key, step.run ?? step.uses]).toEqual([
              key,
              expect.stringMatching(/^npm run (deploy|plan) |^pulumi\/actions@/),
            ]);
          }
        }
      }
    }
  });

  it.each(files)("%s: steps only run npm scripts that npm test runs too", (file) => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    for (const step of steps(parsed(file))) {
      if (step.run === undefined) continue;
      const match = /^npm (ci(?: --[\w-]+)*|run ([\w:-]+)(?: -- .*)?)$/.exec(step.run.trim());
      expect([step.run, match !== null]).toEqual([step.run, true]);
      const script = match![2];
      if (script === undefined) continue;
      expect(scripts[script]).toBeDefined();
      const where = EXERCISED[script];
      expect([script, where !== undefined]).toEqual([script, true]);
      expect(read(where.file)).toContain(where.invocation);
    }
  });

  it("deploy: per stack a plan, then the environment-gated up of that plan; staging, then prod; main only", () => {
    const w = parsed("deploy.yml");
    const jobs = w.jobs as Record<string, Job & { needs?: string | string[]; if?: string }>;
    expect(Object.keys(jobs)).toEqual(["plan-staging", "staging", "plan-prod", "production"]);
    expect(jobs["plan-staging"].if).toBe("github.ref == 'refs/heads/main'");
    expect(jobs.staging.needs).toBe("plan-staging");
    expect(jobs["plan-prod"].needs).toEqual(["plan-staging", "staging"]);
    expect(jobs.production.needs).toEqual(["staging", "plan-prod"]);
    for (const [plan, up, stack, environment] of [
      ["plan-staging", "staging", "staging", "staging"],
      ["plan-prod", "production", "prod", "production"],
    ]) {
      expect(jobs[plan].environment).toBe(`${environment}-plan`);
      expect(jobs[up].environment).toBe(environment);
      expect(jobs[up].concurrency).toEqual({ group: `pulumi-up-${stack}`, "cancel-in-progress": false });
      expect(jobs[plan].steps.map((s) => s.run).filter(Boolean)).toEqual([
        NPM_CI,
        `npm run deploy -- --stack ${stack} --save-plan "$RUNNER_TEMP/plan"`,
      ]);
      expect(jobs[up].steps.map((s) => s.run).filter(Boolean)).toEqual([
        NPM_CI,
        `npm run deploy -- --stack ${stack} --plan "$RUNNER_TEMP/plan"`,
      ]);
      expect(JSON.stringify(jobs[plan])).not.toMatch(/KUBECONFIG/);
    }
    expect(read("Pulumi.prod.yaml")).toMatch(/^ {2}developers-italia-api:promoteFrom: staging$/m);
  });

  it("preview: the program compiled before Pulumi runs it; one comment per stack; no cluster credentials", () => {
    const job = parsed("preview.yml").jobs.preview;
    const runs = job.steps.map((s) => s.run).filter(Boolean);
    expect(runs.indexOf("npm run build")).toBeGreaterThan(runs.indexOf(NPM_CI));
    const preview = job.steps.find((s) => s.with?.command === "preview")!;
    expect(job.steps.indexOf(preview)).toBeGreaterThan(job.steps.findIndex((s) => s.run === "npm run build"));
    expect(preview.uses).toMatch(/^pulumi\/actions@/);
    expect(preview.with).toMatchObject({ "stack-name": "${{ matrix.stack }}", diff: true });
    expect(read(".github/workflows/preview.yml")).not.toMatch(/KUBECONFIG/);
    expect(job.steps.some((s) => s.run?.startsWith("npm run plan -- --from-file"))).toBe(true);
  });

  it("pr-checks: npm test with the tools cached by their pinned versions; PostgreSQL as the test bed starts it", () => {
    const w = parsed("pr-checks.yml");
    const test = w.jobs.test;
    expect(test.steps.map((s) => s.run).filter(Boolean)).toEqual([NPM_CI, "npm run test:ci"]);
    for (const job of [w.jobs.test, w.jobs.migrations]) {
      const cache = job.steps.find((s) => s.uses?.startsWith("actions/cache@"))!;
      expect(cache.with).toEqual({
        path: "~/.cache/developers-italia-deploy/tools",
        key: "tools-${{ runner.os }}-${{ hashFiles('tools/versions.env', 'tools/build.sh', 'tools/language-host.sh') }}",
      });
    }
    expect(read("tools/build.sh")).toContain("${XDG_CACHE_HOME:-$HOME/.cache}/developers-italia-deploy/tools");
    expect(steps(w).flatMap((s) => (s.run ? [s.run] : []))).toEqual([
      NPM_CI,
      "npm run migrations:check",
      'npm run migrations:guard -- --since "origin/$BASE_REF"',
      "npm run ci:postgres -- up",
      "npm run migrations:schema",
      "npm run ci:postgres -- down",
      NPM_CI,
      "npm run test:ci",
    ]);
    expect(read(".github/workflows/pr-checks.yml")).not.toMatch(/services:/);
  });

  it("pr-checks: its path filters take every file in git but the documentation", () => {
    const on = (parse(read(".github/workflows/pr-checks.yml")) as { on: { pull_request: { paths: string[] } } }).on;
    const filters = on.pull_request.paths.map(filterRegExp);
    const tracked = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
    const documentation = (f: string) => /^(docs\/.*|[^/]*\.md|LICENSE.*)$/.test(f);
    const missed = tracked.filter((f) => !documentation(f) && !filters.some((r) => r.test(f)));
    expect(missed).toEqual([]);
  });
});
