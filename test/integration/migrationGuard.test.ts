/** `npm run migrations:guard` as the PR check runs it: on a throw-away git repository with
 * this project's migrations and stack files, a pull request that adds a destructive
 * migration fails until every stack acknowledges its version. Needs git; no database. */
import { execFile, execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeSumFile } from "../../lib/migration/dir";

const ROOT = path.resolve(__dirname, "../..");
const DROP_TAGS = "-- no longer used\nALTER TABLE software DROP COLUMN tags;\n";
const DROP_TAGS_ACK = `20270102000000:${createHash("sha256").update(DROP_TAGS).digest("hex").slice(0, 16)}`;

let repo: string;
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8" });

function guard(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      "npm",
      ["run", "--silent", "migrations:guard", "--", ...args],
      {
        cwd: ROOT,
        env: { ...process.env, MIGRATIONS_DIR: path.join(repo, "migrations"), GITHUB_ACTIONS: "true" },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, output: stdout + stderr }),
    );
  });
}

beforeAll(() => {
  repo = fs.mkdtempSync(path.join(os.tmpdir(), "guard-"));
  fs.cpSync(path.join(ROOT, "migrations"), path.join(repo, "migrations"), { recursive: true });
  for (const f of ["Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.staging.yaml"]) {
    fs.copyFileSync(path.join(ROOT, f), path.join(repo, f));
  }
  git("init", "-q", "-b", "main");
  git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "--allow-empty", "-m", "empty");
  git("add", ".");
  git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "base");
  git("checkout", "-q", "-b", "pr");
});

afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

const commit = (message: string) => {
  git("add", ".");
  git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", message);
};

describe("npm run migrations:guard", () => {
  jest.setTimeout(60_000);

  it("a pull request with only additive migrations passes", async () => {
    fs.writeFileSync(
      path.join(repo, "migrations/20270101000000_tags.sql"),
      "ALTER TABLE software ADD COLUMN tags text;\n",
    );
    writeSumFile(path.join(repo, "migrations"));
    commit("additive");
    const result = await guard("--since", "main");
    expect(result.output).toContain(
      "1 migration file(s) checked against 2 stack(s) (loses-data: 0, breaks-old-pods: 0, long-lock: 0): nothing unacknowledged",
    );
    expect(result.code).toBe(0);
  });

  it("a new DROP fails the pull request, naming file, line, each class and the stacks that must acknowledge it", async () => {
    fs.writeFileSync(path.join(repo, "migrations/20270102000000_drop_tags.sql"), DROP_TAGS);
    writeSumFile(path.join(repo, "migrations"));
    commit("destructive");
    const result = await guard("--since", "main");
    expect(result.code).toBe(1);
    const file = path.relative(ROOT, path.join(repo, "migrations/20270102000000_drop_tags.sql"));
    expect(result.output).toContain(
      `${file}:2: loses-data: ALTER TABLE ... DROP COLUMN: ALTER TABLE software DROP COLUMN tags; instead: make sure ` +
        "nothing needs the data any more (copy it first); a drop of what the old release reads belongs in a contract " +
        `migration; not acknowledged by stack(s) prod, staging. If intended, add "${DROP_TAGS_ACK}" (a quoted string) ` +
        "to developers-italia-api:allowDestructiveMigrations in Pulumi.prod.yaml, Pulumi.staging.yaml",
    );
    expect(result.output).toContain(
      `${file}:2: breaks-old-pods: ALTER TABLE ... DROP COLUMN: ALTER TABLE software DROP COLUMN tags; instead: drop it ` +
        "in a contract migration, once the release that no longer uses it is rolled out; not acknowledged by stack(s) " +
        `prod, staging. If intended, add "${DROP_TAGS_ACK}" (a quoted string) to ` +
        "developers-italia-api:allowBreakingMigrations in Pulumi.prod.yaml, Pulumi.staging.yaml",
    );
    expect(result.output).toContain(`::error file=${file},line=2::loses-data: ALTER TABLE ... DROP COLUMN`);
    expect(result.output).toContain(
      "2 migration file(s) checked against 2 stack(s) (loses-data: 1, breaks-old-pods: 1, long-lock: 0): 2 finding(s) not acknowledged",
    );
  });

  it("acknowledged in one stack only: still refused, for the other", async () => {
    fs.appendFileSync(
      path.join(repo, "Pulumi.prod.yaml"),
      `  developers-italia-api:allowDestructiveMigrations:\n    - "${DROP_TAGS_ACK}"\n` +
        `  developers-italia-api:allowBreakingMigrations:\n    - "${DROP_TAGS_ACK}"\n`,
    );
    const result = await guard("--since", "main");
    expect(result.code).toBe(1);
    expect(result.output).toContain("not acknowledged by stack(s) staging.");
    expect(result.output).not.toContain("prod, staging");
  });

  it("acknowledged by every stack: passes; files older than the base are not re-checked", async () => {
    fs.appendFileSync(
      path.join(repo, "Pulumi.staging.yaml"),
      `  developers-italia-api:allowDestructiveMigrations: ["${DROP_TAGS_ACK}"]\n` +
        `  developers-italia-api:allowBreakingMigrations: ["${DROP_TAGS_ACK}"]\n`,
    );
    commit("acknowledge");
    const result = await guard("--since", "main");
    expect(result.output).toContain("acknowledged by every stack");
    expect(result.code).toBe(0);
    git("checkout", "-q", "main");
    const none = await guard("--since", "main");
    expect(none.output).toContain("0 migration file(s) checked");
    git("checkout", "-q", "pr");
  });

  it("a lock on a table the run did not create is refused under allowLockingMigrations; CONCURRENTLY passes", async () => {
    fs.writeFileSync(path.join(repo, "migrations/20270103000000_index.sql"), "CREATE INDEX i ON software (tags);\n");
    writeSumFile(path.join(repo, "migrations"));
    commit("index");
    const locked = await guard("--since", "main");
    expect(locked.code).toBe(1);
    expect(locked.output).toContain(
      "20270103000000_index.sql:1: long-lock: CREATE INDEX without CONCURRENTLY (blocks writes): CREATE INDEX i ON " +
        "software (tags); instead: CREATE INDEX CONCURRENTLY, in a file of its own whose first line is " +
        "`-- atlas:txmode none`; not acknowledged by stack(s) prod, staging.",
    );
    expect(locked.output).toContain("developers-italia-api:allowLockingMigrations in Pulumi.prod.yaml");
    fs.writeFileSync(
      path.join(repo, "migrations/20270103000000_index.sql"),
      "-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY i ON software (tags);\n",
    );
    writeSumFile(path.join(repo, "migrations"));
    commit("index, concurrently");
    const safe = await guard("--since", "main");
    expect(safe.output).toContain("(loses-data: 1, breaks-old-pods: 1, long-lock: 0): nothing unacknowledged");
    expect(safe.code).toBe(0);
  });

  it("a contract file is checked as the contract phase: what breaks the old pods passes, data loss still needs its acknowledgement", async () => {
    const contract = path.join(repo, "migrations/contract");
    const text = "ALTER TABLE software RENAME COLUMN tags TO labels;\nALTER TABLE software DROP COLUMN vitality;\n";
    fs.mkdirSync(contract, { recursive: true });
    fs.writeFileSync(path.join(contract, "20270104000000_contract.sql"), text);
    writeSumFile(contract);
    commit("contract");
    const result = await guard("--since", "main");
    expect(result.code).toBe(1);
    const file = path.relative(ROOT, path.join(contract, "20270104000000_contract.sql"));
    expect(result.output).toContain(`${file}:1: breaks-old-pods: RENAME COLUMN: accepted in the contract phase`);
    expect(result.output).toContain(
      `${file}:2: breaks-old-pods: ALTER TABLE ... DROP COLUMN: accepted in the contract phase`,
    );
    expect(result.output).toContain(
      `${file}:2: loses-data: ALTER TABLE ... DROP COLUMN: ALTER TABLE software DROP COLUMN vitality;`,
    );
    expect(result.output).toContain("1 finding(s) not acknowledged");
  });
});
