import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadMigrationDir, parseMigrationName, versionAt, writeSumFile } from "../../lib/migrationDir";

function dirWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "migrations-"));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe("migration directory", () => {
  const dirs: string[] = [];
  const make = (files: Record<string, string>) => {
    const d = dirWith(files);
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it("the repository's directory verifies", () => {
    const dir = loadMigrationDir(path.join(__dirname, "../../migrations"));
    expect(dir.files.length).toBeGreaterThanOrEqual(5);
    expect(dir.files.map((f) => f.version)).toEqual([...dir.files.map((f) => f.version)].sort());
  });

  it("parses names into version and description", () => {
    expect(parseMigrationName("20260101120000_add_index.sql")).toEqual({
      version: "20260101120000",
      description: "add_index",
    });
  });

  it.each(["2026_add.sql", "20260101120000.sql", "20260101120000_.sql", "x20260101120000_a.sql"])(
    "refuses the name %s",
    (name) => {
      expect(() => parseMigrationName(name)).toThrow(`migration file name "${name}" does not parse`);
    },
  );

  it("refuses a file edited after hashing, naming the file and the line in atlas.sum", () => {
    const d = make({ "20260101000000_a.sql": "A;", "20260102000000_b.sql": "B;" });
    writeSumFile(d);
    fs.writeFileSync(path.join(d, "20260101000000_a.sql"), "A2;");
    expect(() => loadMigrationDir(d)).toThrow(
      `checksum mismatch at ${d}/atlas.sum:2: 20260101000000_a.sql was edited after atlas.sum was written`,
    );
    expect(() => loadMigrationDir(d)).toThrow(/npm run migrations:hash/);
  });

  it("refuses a file added without re-hashing", () => {
    const d = make({ "20260101000000_a.sql": "A;" });
    writeSumFile(d);
    fs.writeFileSync(path.join(d, "20260103000000_c.sql"), "C;");
    expect(() => loadMigrationDir(d)).toThrow(/atlas.sum:3: 20260103000000_c.sql was added but is not in atlas.sum/);
  });

  it("refuses a removed file", () => {
    const d = make({ "20260101000000_a.sql": "A;", "20260102000000_b.sql": "B;" });
    writeSumFile(d);
    fs.rmSync(path.join(d, "20260102000000_b.sql"));
    expect(() => loadMigrationDir(d)).toThrow(/20260102000000_b.sql is in atlas.sum but was removed/);
  });

  it("refuses two files with one version", () => {
    const d = make({ "20260101000000_a.sql": "A;", "20260101000000_b.sql": "B;" });
    expect(() => loadMigrationDir(d)).toThrow(/version 20260101000000 is also used by 20260101000000_a.sql/);
  });

  it("refuses .sql files without atlas.sum, and accepts an empty directory", () => {
    expect(() => loadMigrationDir(make({ "20260101000000_a.sql": "A;" }))).toThrow(/checksum file not found/);
    expect(loadMigrationDir(make({})).files).toEqual([]);
  });

  it("ignores files that are not *.sql in the root, as Atlas does", () => {
    const d = make({ "20260101000000_a.sql": "A;", "README.md": "x" });
    writeSumFile(d);
    fs.writeFileSync(path.join(d, "notes.txt"), "changed");
    expect(loadMigrationDir(d).files.map((f) => f.name)).toEqual(["20260101000000_a.sql"]);
  });

  it("makes versions from UTC time", () => {
    expect(versionAt(new Date("2026-11-25T21:56:09.123Z"))).toBe("20261125215609");
  });
});
