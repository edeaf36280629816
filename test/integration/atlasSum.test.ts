import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { computeHashFile, formatHashFile } from "../../lib/migration/atlasSum";
import { loadMigrationDir } from "../../lib/migration/dir";
import { run } from "../../testbed/run";
import { atlasBinary } from "../support/atlasJob";
import { prng } from "../support/prng";

/** The real `atlas migrate hash` is the oracle for our atlas.sum. This is the test bed's 0.13.1,
 * so the generator below stays where 0.13.1 and production's 1.2.3 agree (no CR, tab or
 * non-ASCII byte right after a first-line `-- atlas:sum ignore`); atlasSumRules.test.ts holds us
 * to 1.2.3 everywhere. */

async function atlasHash(dir: string): Promise<string> {
  const result = await run(atlasBinary(), ["migrate", "hash", "--dir", `file://${dir}`], {
    PATH: process.env.PATH ?? "",
    HOME: os.tmpdir(),
    ATLAS_NO_UPDATE_NOTIFIER: "1",
  });
  expect(result.output).toBe("");
  expect(result.code).toBe(0);
  return fs.readFileSync(path.join(dir, "atlas.sum"), "utf8");
}

function oursFor(dir: string): string {
  const names = fs.readdirSync(dir).filter((n) => n.endsWith(".sql"));
  return formatHashFile(computeHashFile(names.map((name) => ({ name, bytes: fs.readFileSync(path.join(dir, name)) }))));
}

const pieces = [
  "CREATE TABLE t (id text);",
  "-- a comment\n",
  "\r\n",
  "\n",
  "SELECT 'è ∅ 日本';",
  "  ",
  "$$ body $$",
  "-- atlas:sum ignore",
  "INSERT INTO t VALUES ('x');",
];
const firstLines = [
  "",
  "-- atlas:sum ignore\n",
  "--atlas:sum ignore\n",
  "-- atlas:sum ignore \n",
  "-- atlas:txmode none\n\n",
  "\n-- atlas:sum ignore\n",
];

function generate(seed: number): string {
  const rand = prng(seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sum-${seed}-`));
  const count = 1 + rand(12);
  for (let i = 0; i < count; i++) {
    const version = String(20200101000000 + rand(1_000_000_000));
    const desc = ["init", "add_index", "Ünïcode_名前", "with space", "x", "a.b-c"][rand(6)];
    let text = firstLines[rand(firstLines.length)];
    for (let j = rand(20); j > 0; j--) text += pieces[rand(pieces.length)];
    if (rand(5) === 0) text += randomBytes(rand(2000)).toString("base64");
    fs.writeFileSync(path.join(dir, `${version}_${desc}.sql`), text);
  }
  if (rand(4) === 0) fs.writeFileSync(path.join(dir, "notes.txt"), "not a migration");
  return dir;
}

describe("atlas.sum equals atlas migrate hash", () => {
  it("on the repository's directory (and the committed file is current)", async () => {
    const repo = path.join(__dirname, "../../migrations");
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), "repo-migrations-"));
    for (const name of fs.readdirSync(repo)) fs.copyFileSync(path.join(repo, name), path.join(copy, name));
    fs.rmSync(path.join(copy, "atlas.sum"));
    const theirs = await atlasHash(copy);
    expect(oursFor(copy)).toBe(theirs);
    expect(fs.readFileSync(path.join(repo, "atlas.sum"), "utf8")).toBe(theirs);
    expect(loadMigrationDir(repo).hashFile.total).toBe(theirs.split("\n")[0].slice(3));
    fs.rmSync(copy, { recursive: true, force: true });
  });

  it.each(Array.from({ length: 40 }, (_, i) => [i + 1]))("on generated directory #%i", async (seed) => {
    const dir = generate(seed);
    try {
      expect(oursFor(dir)).toBe(await atlasHash(dir));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
