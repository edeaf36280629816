/**
 * Migration tools for people without Atlas installed.
 *
 *   npm run migrations:hash                 write migrations/atlas.sum
 *   npm run migrations:check                verify names, versions and atlas.sum (exit 1 on failure)
 *   npm run migrations:new -- <description> a new file with a fresh UTC version, re-hashed
 *   npm run migrations:status -- [--json] [--baseline V] [--revisions-schema S] [--url URL]
 *       read-only: what `atlas migrate apply` would run on the database in DATABASE_URL
 *       (or --url; the environment keeps the password off the process list)
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { readDatabaseState } from "../lib/databaseState";
import { dsnToUrl } from "../lib/dsn";
import { parseCaBundle } from "../lib/databaseTls";
import { loadMigrationDir, readMigrationFiles, versionAt, writeSumFile } from "../lib/migrationDir";
import { planMigrations } from "../lib/migrationPlan";

const DIR = process.env.MIGRATIONS_DIR ?? path.join(__dirname, "..", "migrations");

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "hash": {
      const text = writeSumFile(DIR);
      console.log(`wrote ${path.join(DIR, "atlas.sum")} (${text.split("\n").length - 2} files)`);
      return 0;
    }
    case "check": {
      const dir = loadMigrationDir(DIR);
      console.log(`${dir.path}: ${dir.files.length} migrations, atlas.sum matches (h1:${dir.hashFile.total})`);
      return 0;
    }
    case "new":
      return newMigration(rest);
    case "status":
      return status(rest);
    default:
      console.error(
        "usage: migrations.ts hash | check | new <description> | status [--json] [--baseline V] [--url URL]",
      );
      return 2;
  }
}

function newMigration(args: string[]): number {
  const description = args
    .join("_")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (!description) {
    console.error("give the migration a description: npm run migrations:new -- add_software_index");
    return 2;
  }
  const files = readMigrationFiles(DIR);
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
  fs.writeFileSync(path.join(DIR, name), `-- ${description.replace(/_/g, " ")}\n`);
  writeSumFile(DIR);
  console.log(`created ${path.join(DIR, name)} and re-hashed atlas.sum; edit it, then run npm run migrations:hash`);
  return 0;
}

async function status(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      baseline: { type: "string" },
      "revisions-schema": { type: "string" },
      // The database's CA bundle (what databaseCaCert holds), for sslmode=verify-ca/verify-full.
      "ca-file": { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const raw = values.url ?? process.env.DATABASE_URL;
  if (!raw) {
    console.error("set DATABASE_URL (a postgres:// URL or a libpq DSN), or pass --url");
    return 2;
  }
  const dir = loadMigrationDir(DIR);
  const caFile = values["ca-file"];
  if (caFile !== undefined && !fs.existsSync(caFile)) {
    console.error(`--ca-file: no file at ${caFile}; give the database's CA certificate (PEM)`);
    return 2;
  }
  const ca = caFile === undefined ? undefined : parseCaBundle(fs.readFileSync(caFile, "utf8"));
  const state = await readDatabaseState(dsnToUrl(raw, { sslrootcert: caFile }), {
    revisionsSchema: values["revisions-schema"],
    ca,
  });
  const plan = planMigrations(dir.files, state, values.baseline);
  const report = {
    appliedVersion: plan.appliedVersion ?? null,
    pending: plan.pending.map((f) => ({ version: f.version, file: f.name })),
    baseline: plan.baselineToWrite ?? null,
    clean: plan.clean,
    problems: plan.problems,
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`applied: ${report.appliedVersion ?? "none"}`);
    console.log(`clean: ${plan.clean ? "yes" : "no"}`);
    if (report.baseline) console.log(`baseline to record: ${report.baseline}`);
    console.log(
      report.pending.length ? `pending:\n${report.pending.map((p) => `  ${p.file}`).join("\n")}` : "pending: none",
    );
    for (const p of plan.problems) console.log(`problem (${p.code}): ${p.message}`);
  }
  return plan.problems.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
