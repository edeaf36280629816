/** Migration tools for people without Atlas installed (USAGE below; `--help` prints it). */
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import { parse as parseYaml } from "yaml";
import { parseOptions, runMain, UsageError } from "./args";
import { assertBuildCurrent, projectRoot, StaleBuildError } from "../runtime/buildStamp";
import { acknowledgementOf, loadSqlParser, parseAcknowledgements } from "../lib/migration/guard";
import { type Acknowledged, findRisks, isRefused, RISK_CLASSES, RISKS } from "../lib/migration/risk";
import { parseCaBundle } from "../lib/database/tls";
import { type MigrationDir, readMigrationFiles, versionAt, writeSumFile } from "../lib/migration/dir";
import { CONTRACT_DIR, contractBaseline, contractRevisionsSchema, loadMigrationPhases } from "../lib/migration/phase";

const USAGE = `
usage: npm run migrations:hash                  write migrations/atlas.sum (and migrations/contract/atlas.sum)
       npm run migrations:check                 verify names, versions and atlas.sum of both phases (exit 1 on failure)
       npm run migrations:new -- [--contract] <description>
           a new file with a fresh UTC version, re-hashed; --contract: in migrations/contract/,
           run after the new pods are rolled out (docs/expand-contract.md)
       npm run migrations:guard -- --since <git ref> | --all
           the guard over the files added or changed since <git ref> (or every file), as expand
           migrations: what loses data, breaks the old pods, or holds a long lock, acknowledged per
           stack by allowDestructiveMigrations, allowBreakingMigrations and allowLockingMigrations
           in each Pulumi.<stack>.yaml
       npm run migrations:status -- [--json] [--baseline V] [--revisions-schema S] [--ca-file F] [--url URL]
           read-only: what atlas migrate apply would run on the database in DATABASE_URL (or --url),
           in each phase (migrations/contract/ after the rollout)`;

const DIR = process.env.MIGRATIONS_DIR ?? path.join(projectRoot(__dirname), "migrations");
const CONTRACT = path.join(DIR, CONTRACT_DIR);
/** Exit status for a stale bin/: scripts/migrations.sh rebuilds and runs again. */
const STALE_BUILD = 75;

async function main(argv: string[]): Promise<number> {
  try {
    assertBuildCurrent(__filename);
  } catch (err) {
    if (!(err instanceof StaleBuildError)) throw err;
    console.error(err.message);
    return STALE_BUILD;
  }
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError(USAGE.trim());
  if ([command, ...rest].some((a) => a === "--help" || a === "-h")) {
    process.stdout.write(`${USAGE.trim()}\n`);
    return 0;
  }
  switch (command) {
    case "hash": {
      for (const dir of [DIR, CONTRACT].filter((d) => fs.existsSync(d))) {
        const text = writeSumFile(dir);
        console.log(`wrote ${path.join(dir, "atlas.sum")} (${text.split("\n").length - 2} files)`);
      }
      return 0;
    }
    case "check": {
      for (const dir of Object.values(loadMigrationPhases(DIR)).filter((d) => d.files.length > 0 || d.path === DIR)) {
        console.log(`${dir.path}: ${dir.files.length} migrations, atlas.sum matches (h1:${dir.hashFile.total})`);
      }
      return 0;
    }
    case "new":
      return newMigration(rest);
    case "status":
      return status(rest);
    case "guard":
      return guard(rest);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE.trim()}`);
  }
}

function newMigration(args: string[]): number {
  const contract = args.includes("--contract");
  const target = contract ? CONTRACT : DIR;
  const description = args
    .filter((a) => a !== "--contract")
    .join("_")
    .toLowerCase()
    // Any letter or digit, as Atlas takes them; anything else becomes "_".
    .replace(/[^\p{L}\p{N}]+/gu, "_")
    .replace(/^_+|_+$/g, "");
  if (!description) {
    console.error("give the migration a description: npm run migrations:new -- add_software_index");
    return 2;
  }
  // A version names one file in one phase: newer than every file of both.
  const files = [DIR, CONTRACT]
    .filter((d) => fs.existsSync(d))
    .flatMap(readMigrationFiles)
    .sort((a, b) => a.version.localeCompare(b.version));
  const version = versionAt(new Date());
  const last = files[files.length - 1];
  if (last && version <= last.version) {
    console.error(
      `the new version ${version} is not newer than the last migration ${last.name}: ` +
        "check the clock, or rename that file; Atlas runs files in version order only",
    );
    return 1;
  }
  const name = `${version}_${description}.sql`;
  fs.mkdirSync(target, { recursive: true });
  fs.writeFileSync(path.join(target, name), `-- ${description.replace(/_/g, " ")}\n`);
  writeSumFile(target);
  console.log(`created ${path.join(target, name)} and re-hashed atlas.sum; edit it, then run npm run migrations:hash`);
  return 0;
}

async function status(args: string[]): Promise<number> {
  const values = parseOptions(args, USAGE, {
    url: { type: "string" },
    baseline: { type: "string" },
    "revisions-schema": { type: "string" },
    // The database's CA bundle (what databaseCaCert holds), for sslmode=verify-ca/verify-full.
    "ca-file": { type: "string" },
    json: { type: "boolean", default: false },
  })!;
  const raw = values.url ?? process.env.DATABASE_URL;
  if (!raw) {
    console.error("set DATABASE_URL (a postgres:// URL or a libpq DSN), or pass --url");
    return 2;
  }
  // Only this command talks to a database: its modules (and pg) load here.
  const [{ readDatabaseState }, { dsnToUrl }, { planMigrations }] = await Promise.all([
    import("../lib/database/state"),
    import("../lib/database/dsn"),
    import("../lib/migration/plan"),
  ]);
  const phases = loadMigrationPhases(DIR);
  const caFile = values["ca-file"];
  if (caFile !== undefined && !fs.existsSync(caFile)) {
    console.error(`--ca-file: no file at ${caFile}; give the database's CA certificate (PEM)`);
    return 2;
  }
  const ca = caFile === undefined ? undefined : parseCaBundle(fs.readFileSync(caFile, "utf8"));
  const url = dsnToUrl(raw, { sslrootcert: caFile });
  const revisionsSchema = values["revisions-schema"];
  const phaseStatus = async (
    dir: MigrationDir,
    schema: string | undefined,
    baseline: string | undefined,
    contract: boolean,
  ) => {
    const state = await readDatabaseState(url, { revisionsSchema: schema, ca });
    const plan = planMigrations(dir.files, state, baseline, contract);
    return {
      plan,
      report: {
        appliedVersion: plan.appliedVersion ?? null,
        pending: plan.pending.map((f) => ({ version: f.version, file: f.name })),
        baseline: plan.baselineToWrite ?? null,
        clean: plan.clean,
        problems: plan.problems,
        /** A file an earlier run left failed that Atlas resumes, and where. */
        retry: plan.retry?.note ?? null,
      },
    };
  };
  const expand = await phaseStatus(phases.expand, revisionsSchema, values.baseline, false);
  // The contract phase (migrations/contract/), when it has files: its own revisions schema and baseline.
  const contract =
    phases.contract.files.length > 0
      ? await phaseStatus(
          phases.contract,
          contractRevisionsSchema(revisionsSchema),
          contractBaseline(phases.contract, values.baseline),
          true,
        )
      : undefined;
  const problems = [...expand.plan.problems, ...(contract?.plan.problems ?? [])];
  if (values.json) {
    console.log(JSON.stringify({ ...expand.report, contract: contract?.report ?? null }, null, 2));
  } else {
    for (const [title, phase] of [
      ["", expand],
      ["contract ", contract],
    ] as const) {
      if (!phase) continue;
      const { report, plan } = phase;
      console.log(`${title}applied: ${report.appliedVersion ?? "none"}`);
      if (!title) console.log(`clean: ${plan.clean ? "yes" : "no"}`);
      if (report.baseline) console.log(`${title}baseline to record: ${report.baseline}`);
      console.log(
        report.pending.length
          ? `${title}pending:\n${report.pending.map((p) => `  ${p.file}`).join("\n")}`
          : `${title}pending: none`,
      );
      if (report.retry) console.log(report.retry);
      for (const p of plan.problems) console.log(`${title}problem (${p.code}): ${p.message}`);
    }
  }
  return problems.length > 0 ? 1 : 0;
}

/** The acknowledgement keys of every Pulumi.<stack>.yaml in the project folder. */
function stackAcknowledgements(project: string): Map<string, Acknowledged> {
  const stacks = new Map<string, Acknowledged>();
  for (const name of fs.readdirSync(project).sort()) {
    const match = /^Pulumi\.(.+)\.yaml$/.exec(name);
    if (!match) continue;
    const doc = (parseYaml(fs.readFileSync(path.join(project, name), "utf8")) ?? {}) as {
      config?: Record<string, unknown>;
    };
    const read = (key: string) => {
      const allowed = doc.config?.[`developers-italia-api:${key}`];
      try {
        return parseAcknowledgements(allowed === undefined ? undefined : JSON.stringify(allowed));
      } catch (err) {
        throw new Error(`${name}: ${key}: ${(err as Error).message}`);
      }
    };
    stacks.set(match[1], {
      allowDestructive: read(RISK_CLASSES["loses-data"].key),
      allowBreaking: read(RISK_CLASSES["breaks-old-pods"].key),
      allowLocking: read(RISK_CLASSES["long-lock"].key),
    });
  }
  return stacks;
}

async function guard(args: string[]): Promise<number> {
  const values = parseOptions(args, USAGE, { since: { type: "string" }, all: { type: "boolean", default: false } })!;
  if (!values.all && !values.since) throw new UsageError(`guard needs --since <git ref> or --all\n\n${USAGE.trim()}`);
  const stacks = stackAcknowledgements(path.resolve(DIR, ".."));
  await loadSqlParser();
  let refused = 0;
  let checked = 0;
  const counts = new Map(RISKS.map((r) => [r, 0]));
  const phases = loadMigrationPhases(DIR);
  // Each phase on its own: a table is new only to the files of its own run, and a contract file
  // may break the old release (none is left when it runs).
  for (const phase of ["expand", "contract"] as const) {
    const dir = phases[phase];
    if (dir.files.length === 0) continue;
    let files = dir.files;
    if (!values.all) {
      const changed = execFileSync(
        "git",
        ["diff", "--name-only", "--relative", "--diff-filter=AMR", `${values.since}...HEAD`, "--", "."],
        { cwd: dir.path, encoding: "utf8" },
      )
        .split("\n")
        .filter(Boolean);
      files = files.filter((f) => changed.includes(f.name));
    }
    checked += files.length;
    for (const d of findRisks(files)) {
      counts.set(d.risk, counts.get(d.risk)! + 1);
      const file = files.find((f) => f.name === d.file)!;
      const { key } = RISK_CLASSES[d.risk];
      const missing = [...stacks].filter(([, acks]) => isRefused(d, file, acks, phase)).map(([stack]) => stack);
      const where = `${path.relative(process.cwd(), path.join(dir.path, d.file))}:${d.line}`;
      if (missing.length === 0) {
        const accepted = phase === "contract" && d.risk === "breaks-old-pods";
        console.log(
          `${where}: ${d.risk}: ${d.kind}: ${accepted ? "accepted in the contract phase" : "acknowledged by every stack"}`,
        );
        continue;
      }
      refused++;
      const message =
        `${d.risk}: ${d.kind}: ${d.statement}; instead: ${d.advice}; not acknowledged by stack(s) ${missing.join(", ")}. ` +
        `If intended, add "${acknowledgementOf(file)}" (a quoted string) to developers-italia-api:${key} in ` +
        missing.map((s) => `Pulumi.${s}.yaml`).join(", ");
      console.log(`${where}: ${message}`);
      if (process.env.GITHUB_ACTIONS === "true") {
        console.log(
          `::error file=${path.relative(process.cwd(), path.join(dir.path, d.file))},line=${d.line}::${message}`,
        );
      }
    }
  }
  console.log(
    `${checked} migration file(s) checked against ${stacks.size} stack(s) ` +
      `(${RISKS.map((r) => `${r}: ${counts.get(r)}`).join(", ")})` +
      (refused ? `: ${refused} finding(s) not acknowledged` : ": nothing unacknowledged"),
  );
  return refused > 0 ? 1 : 0;
}

runMain(main);
