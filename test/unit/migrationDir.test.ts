import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { computeHashFile, formatHashFile } from "../../lib/migration/atlasSum";
import {
  loadMigrationDir,
  MigrationDirError,
  parseMigrationName,
  readMigrationFiles,
  versionAt,
  writeSumFile,
} from "../../lib/migration/dir";
import { configMapData, configMapItems, configMapKey } from "../../lib/migration/run";

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

  it.each([
    ["20260101120000_aggiungi_è_già.sql", "aggiungi_è_già"],
    ["20260101120000_add software tags.sql", "add software tags"],
    ["20260101120000_名前.sql", "名前"],
    ["20260101120000_a.sql.sql", "a.sql"],
    ["20260101120000_.sql", ""],
    ["20260101120000.sql", ""],
    ["20260101120000__x.sql", "_x"],
  ])("accepts the name %s, as Atlas reads it", (name, description) => {
    expect(parseMigrationName(name)).toEqual({ version: "20260101120000", description });
  });

  it.each(["2026_add.sql", "x20260101120000_a.sql", "202601011200001_a.sql", " 20260101120000_a.sql"])(
    "refuses the name %s: versions are compared as text",
    (name) => {
      expect(() => parseMigrationName(name)).toThrow(`migration file name ${JSON.stringify(name)} does not parse`);
    },
  );

  it("refuses names Atlas would misread in atlas.sum", () => {
    expect(() => parseMigrationName("20260101120000_a\nb.sql")).toThrow(/contains a line break/);
    expect(() => parseMigrationName("20260101120000_sha h1:x.sql")).toThrow(/contains "h1:"/);
    expect(() => parseMigrationName("20260101120000_a\nb.sql")).toThrow(MigrationDirError);
  });

  it("refuses a .sql name that is not UTF-8, which would be hashed differently", () => {
    const d = make({ "20260101000000_a.sql": "A;" });
    fs.writeFileSync(
      Buffer.concat([Buffer.from(`${d}/20260102000000_`), Buffer.from([0xff]), Buffer.from(".sql")]),
      "B;",
    );
    expect(() => readMigrationFiles(d)).toThrow(/the file name is not valid UTF-8 \(bytes 32303236.*ff2e73716c\)/);
  });

  it("reads and hashes names with spaces and non-ASCII letters", () => {
    const d = make({ "20260101000000_crea tabella è.sql": "A;", "20260102000000_名前.sql": "B;" });
    writeSumFile(d);
    expect(loadMigrationDir(d).files.map((f) => f.description)).toEqual(["crea tabella è", "名前"]);
  });

  it("puts any file name in the ConfigMap under a valid key, and mounts it under its own name", () => {
    const d = make({ "20260101000000_init.sql": "A;", "20260102000000_crea tabella è.sql": "B;" });
    writeSumFile(d);
    const data = configMapData(loadMigrationDir(d), "sum");
    for (const key of Object.keys(data)) expect(key).toMatch(/^[-._a-zA-Z0-9]{1,253}$/);
    // Names that are valid keys keep them: no ConfigMap change for existing directories.
    expect(configMapKey("20260101000000_init.sql")).toBe("20260101000000_init.sql");
    const items = configMapItems(data);
    expect(items.map((i) => i.path)).toEqual(
      expect.arrayContaining(["migrations/20260101000000_init.sql", "migrations/20260102000000_crea tabella è.sql"]),
    );
    const byPath = Object.fromEntries(items.map((i) => [i.path, data[i.key]]));
    expect(byPath["migrations/20260102000000_crea tabella è.sql"]).toBe("B;");
    expect(() => configMapKey(`20260102000000_${"è".repeat(100)}.sql`)).toThrow(/too long for a ConfigMap key/);
  });

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

  it("refuses a file that now opts out of atlas.sum, saying so", () => {
    const d = make({ "20260101000000_a.sql": "A;", "20260102000000_b.sql": "B;" });
    writeSumFile(d);
    fs.writeFileSync(path.join(d, "20260102000000_b.sql"), "-- atlas:sum ignore\nB;");
    expect(() => loadMigrationDir(d)).toThrow(
      "atlas.sum:3: 20260102000000_b.sql is in atlas.sum but its first line now opts it out with `-- atlas:sum ignore`",
    );
  });

  it("refuses a CRLF `-- atlas:sum ignore` file missing from atlas.sum: Atlas 1.2.3 hashes it (issue 24)", () => {
    const d = make({ "20260101000000_a.sql": "A;", "20260102000000_b.sql": "-- atlas:sum ignore\r\nB;\r\n" });
    // atlas.sum as the earlier rules (and Atlas 0.13.1) wrote it: the CRLF file fed only its name,
    // after the last line, so the sum is that of the first file alone.
    fs.writeFileSync(path.join(d, "atlas.sum"), formatHashFile(computeHashFile(readMigrationFiles(d).slice(0, 1))));
    expect(() => loadMigrationDir(d)).toThrow(
      `checksum mismatch at ${d}/atlas.sum:3: 20260102000000_b.sql was added but is not in atlas.sum ` +
        '(its first line "-- atlas:sum ignore\\r" does not opt it out',
    );
  });

  it("reads a CRLF atlas.sum, as Atlas does", () => {
    const d = make({ "20260101000000_a.sql": "A;\r\n" });
    fs.writeFileSync(path.join(d, "atlas.sum"), writeSumFile(d).replace(/\n/g, "\r\n"));
    expect(loadMigrationDir(d).files.map((f) => f.name)).toEqual(["20260101000000_a.sql"]);
  });

  it("refuses an atlas.sum that is not UTF-8, naming the line", () => {
    const d = make({ "20260101000000_a.sql": "A;" });
    const text = writeSumFile(d);
    fs.writeFileSync(path.join(d, "atlas.sum"), Buffer.concat([Buffer.from(text), Buffer.from([0xff, 0x0a])]));
    expect(() => loadMigrationDir(d)).toThrow(`${d}/atlas.sum:3: not valid UTF-8`);
  });

  it("refuses a directory named *.sql, which Atlas reads as a file and fails", () => {
    const d = make({ "20260101000000_a.sql": "A;" });
    writeSumFile(d);
    fs.mkdirSync(path.join(d, "20260102000000_b.sql"));
    expect(() => loadMigrationDir(d)).toThrow(
      `${d}/20260102000000_b.sql: a directory named *.sql, which Atlas reads as a migration file and fails`,
    );
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
