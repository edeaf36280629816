import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadMigrationDir, MigrationDirError } from "../../lib/migration/dir";
import { run } from "../../testbed/run";
import { atlasBinary, runInput, runMigrationJob } from "../support/atlasJob";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";
import { prng } from "../support/prng";

/**
 * Migration file names as the real Atlas reads them: what `atlas migrate hash` and
 * `atlas migrate apply` accept, our tools accept too (and the Job, through the ConfigMap's
 * encoded keys, mounts under the same names); what Atlas would misread, we refuse.
 */

jest.setTimeout(60_000);

const atlasEnv = () => ({ PATH: process.env.PATH ?? "", HOME: os.tmpdir(), ATLAS_NO_UPDATE_NOTIFIER: "1" });

async function atlasHash(dir: string): Promise<void> {
  const result = await run(atlasBinary(), ["migrate", "hash", "--dir", `file://${dir}`], atlasEnv());
  expect(result.output).toBe("");
  expect(result.code).toBe(0);
}

const descriptions = [
  "init",
  "crea tabella è già",
  "名前",
  "add software tags",
  "a.b-c",
  "Ünïcode_名前",
  "it's (v2) + more",
  "_leading_underscore",
  "",
  undefined, // no "_" at all: 20260101000000.sql
];

const used = new Set<string | undefined>();
let dirs: string[] = [];
let databases: TestDatabase[] = [];
afterEach(async () => {
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  dirs = [];
  await Promise.all(databases.map((d) => d.drop()));
  databases = [];
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "names-"));
  dirs.push(dir);
  return dir;
}

/** Files with unique 14-digit versions and names drawn from `descriptions`. */
function generate(seed: number): string[] {
  const rand = prng(seed);
  const dir = tempDir();
  const versions = new Set<string>();
  while (versions.size < 2 + rand(5)) versions.add(String(20200101000000 + rand(1_000_000_000)));
  return [...versions].map((version, i) => {
    // The first file of directory #n takes the n-th kind of name, so every kind is used.
    const desc = descriptions[i === 0 ? (seed - 1) % descriptions.length : rand(descriptions.length)];
    used.add(desc);
    const name = desc === undefined ? `${version}.sql` : `${version}_${desc}.sql`;
    fs.writeFileSync(path.join(dir, name), `CREATE TABLE "t_${version}" (id int);\n`);
    return path.join(dir, name);
  });
}

describe("migration file names, against the real Atlas", () => {
  it.each(Array.from({ length: descriptions.length }, (_, i) => [i + 1]))(
    "generated directory #%i: Atlas hashes it, we verify it, and the Job applies every file under its name",
    async (seed) => {
      const files = generate(seed);
      const dir = path.dirname(files[0]);
      await atlasHash(dir);
      const loaded = loadMigrationDir(dir); // verifies against the atlas.sum Atlas wrote
      const db = await createDatabase(`names_${seed}`);
      databases.push(db);
      const job = await runMigrationJob(loaded, runInput(loaded), db.url);
      expect(job.output).not.toMatch(/Error/);
      expect(job.code).toBe(0);
      const revisions = await query<{ version: string; description: string }>(
        db.url,
        "SELECT version, description FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
      );
      // Atlas recorded every file, with the version and description we read from its name.
      expect(revisions).toEqual(loaded.files.map((f) => ({ version: f.version, description: f.description })));
    },
  );

  it("the generated directories used every kind of name", () => {
    expect([...used].sort()).toEqual([...descriptions].sort());
  });

  it.each([
    ["a line break", "20260102000000_two\nlines.sql", /contains a line break/],
    ['"h1:"', "20260102000000_sha h1:x.sql", /contains "h1:"/],
  ])("a name with %s: Atlas writes an atlas.sum it then misreads, and we refuse the name", async (_, name, ours) => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "20260101000000_init.sql"), "CREATE TABLE a (id int);\n");
    fs.writeFileSync(path.join(dir, name), "CREATE TABLE b (id int);\n");
    await atlasHash(dir);
    const db = await createDatabase("names_misread");
    databases.push(db);
    const apply = await run(atlasBinary(), ["migrate", "apply", "--dir", `file://${dir}`, "--url", db.url], atlasEnv());
    expect(apply.output).toMatch(/checksum/i);
    expect(apply.code).not.toBe(0);
    expect(() => loadMigrationDir(dir)).toThrow(MigrationDirError);
    expect(() => loadMigrationDir(dir)).toThrow(ours);
  });
});
