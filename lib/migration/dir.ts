import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
  compareNames,
  computeHashFile,
  firstSumDrift,
  formatHashFile,
  HashFile,
  isSumIgnored,
  parseHashFile,
  SumFileError,
} from "./atlasSum";

/** One versioned migration file, read the way Atlas reads a `file://` directory. */
export interface MigrationFile {
  readonly name: string;
  /** The name's prefix before the first `_`: 14 digits, a UTC timestamp. */
  readonly version: string;
  readonly description: string;
  readonly text: string;
  readonly bytes: Buffer;
}

export interface MigrationDir {
  readonly path: string;
  /** Sorted by name, which for our versions is also version order. */
  readonly files: readonly MigrationFile[];
  readonly hashFile: HashFile;
}

export const SUM_FILE = "atlas.sum";
/**
 * Atlas reads a name as `<version>[_<description>].sql`: the version is everything before the
 * first "_" and versions are compared as text. So the version must be 14 digits (a UTC
 * timestamp: equal lengths keep text order and time order the same); the description may be
 * anything Atlas can write into atlas.sum and read back: no line break (one line per file)
 * and no "h1:" (where Atlas splits a line into name and hash).
 */
const namePattern = /^(\d{14})(?:_([^\n]*))?\.sql$/s;

export class MigrationDirError extends Error {}

/** Version and description of a migration file name, or an error that says what a good name is. */
export function parseMigrationName(name: string): { version: string; description: string } {
  const match = namePattern.exec(name);
  if (!match && /^\d{14}_.*\n/s.test(name)) {
    throw new MigrationDirError(
      `migration file name ${JSON.stringify(name)} contains a line break, and atlas.sum holds one file per line, ` +
        "so Atlas would misread atlas.sum; rename the file and run `npm run migrations:hash`",
    );
  }
  if (!match) {
    throw new MigrationDirError(
      `migration file name ${JSON.stringify(name)} does not parse: expected ` +
        "<14-digit UTC version>_<description>.sql, e.g. 20260101120000_add_index.sql " +
        "(Atlas compares versions as text, so every version has the same 14 digits); " +
        "create files with `npm run migrations:new <description>`",
    );
  }
  if (name.includes("h1:")) {
    throw new MigrationDirError(
      `migration file name ${JSON.stringify(name)} contains "h1:", where Atlas splits an atlas.sum line ` +
        "into name and hash, so Atlas would misread atlas.sum; rename the file and run `npm run migrations:hash`",
    );
  }
  return { version: match[1], description: match[2] ?? "" };
}

/** Reads the `*.sql` files in the directory root (as Atlas does) and checks their names. */
export function readMigrationFiles(dir: string): MigrationFile[] {
  let names: string[];
  try {
    names = fs
      .readdirSync(dir, { encoding: "buffer" })
      .filter((raw) => raw.subarray(-4).toString("latin1") === ".sql")
      .map((raw) => {
        const name = raw.toString("utf8");
        // Atlas hashes a name's bytes; a name that is not UTF-8 would be hashed differently here
        // (decoding puts U+FFFD in place of each bad byte).
        if (name.includes("\uFFFD") && !Buffer.from(name).equals(raw)) {
          throw new MigrationDirError(
            `${path.join(dir, name)}: the file name is not valid UTF-8 (bytes ${raw.toString("hex")}); ` +
              "rename it and run `npm run migrations:hash`",
          );
        }
        return name;
      })
      .filter((n) => {
        // Atlas reads every `*.sql` entry as a file (LocalDir.Files: fs.Glob, then ReadFile).
        if (fs.statSync(path.join(dir, n)).isDirectory()) {
          throw new MigrationDirError(
            `${path.join(dir, n)}: a directory named *.sql, which Atlas reads as a migration file and fails ` +
              '("is a directory"); rename it so that its name does not end in .sql, or move it out of the migration directory',
          );
        }
        return true;
      });
  } catch (err) {
    if (err instanceof MigrationDirError) throw err;
    throw new MigrationDirError(`cannot read the migration directory ${dir}: ${(err as Error).message}`);
  }
  const files = names.sort(compareNames).map((name) => {
    const bytes = fs.readFileSync(path.join(dir, name));
    return { name, ...parseMigrationName(name), bytes, text: bytes.toString("utf8") };
  });
  for (let i = 1; i < files.length; i++) {
    if (files[i].version === files[i - 1].version) {
      throw new MigrationDirError(
        `${path.join(dir, files[i].name)}: version ${files[i].version} is also used by ${files[i - 1].name}; ` +
          "every migration needs its own version: rename one (`npm run migrations:new` picks a fresh one) and run `npm run migrations:hash`",
      );
    }
  }
  return files;
}

/**
 * Reads a migration directory and verifies its atlas.sum exactly as `atlas migrate validate`
 * would; a mismatch names the first offending file, its line in atlas.sum, and the fix.
 */
export function loadMigrationDir(dir: string): MigrationDir {
  const files = readMigrationFiles(dir);
  const hashFile = computeHashFile(files);
  const sumPath = path.join(dir, SUM_FILE);
  if (!fs.existsSync(sumPath)) {
    if (files.length === 0) return { path: dir, files, hashFile };
    throw new MigrationDirError(
      `${sumPath}: checksum file not found; run \`npm run migrations:hash\` (or \`atlas migrate hash\`) and commit it`,
    );
  }
  let recorded: HashFile;
  try {
    recorded = parseHashFile(readSumText(sumPath), sumPath);
  } catch (err) {
    if (err instanceof SumFileError) throw new MigrationDirError(err.message);
    throw err;
  }
  const drift = firstSumDrift(recorded, hashFile);
  if (drift || recorded.total !== hashFile.total) {
    const where = drift ? `${sumPath}:${drift.line}` : `${sumPath}:1`;
    const what = drift
      ? {
          added: `${drift.file} was added but is not in ${SUM_FILE}${nearDirective(files, drift.file)}`,
          removed: files.some((f) => f.name === drift.file)
            ? `${drift.file} is in ${SUM_FILE} but its first line now opts it out with \`-- atlas:sum ignore\``
            : `${drift.file} is in ${SUM_FILE} but was removed from the directory`,
          edited: `${drift.file} was edited after ${SUM_FILE} was written`,
          duplicate: `${drift.file} is listed more than once in ${SUM_FILE} (Atlas 1.2.3 crashes reading it)`,
        }[drift.reason]
      : "the directory does not match the recorded total";
    throw new MigrationDirError(
      `checksum mismatch at ${where}: ${what}. ` +
        "Applied migrations must never change: if this file was already deployed, revert it and add a new migration; " +
        "otherwise run `npm run migrations:hash` and commit atlas.sum",
    );
  }
  return { path: dir, files, hashFile };
}

/**
 * atlas.sum's text; bytes that are not UTF-8 are refused here, since Atlas hashes the raw bytes
 * and no name it could match holds them.
 */
function readSumText(sumPath: string): string {
  const bytes = fs.readFileSync(sumPath);
  const text = bytes.toString("utf8");
  if (!Buffer.from(text).equals(bytes)) {
    const line = text.slice(0, text.indexOf("\uFFFD")).split("\n").length;
    throw new SumFileError(
      `${sumPath}:${line}: not valid UTF-8, so it matches no file; run \`npm run migrations:hash\` to rewrite it`,
    );
  }
  return text;
}

/**
 * Why a file may be missing from atlas.sum: its first line looks like `-- atlas:sum ignore` but
 * Atlas 1.2.3 does not read it so (a CR, tab or anything else after `ignore`).
 */
function nearDirective(files: readonly MigrationFile[], name: string): string {
  const file = files.find((f) => f.name === name);
  const firstLine = file?.text.split("\n", 1)[0] ?? "";
  if (!file || isSumIgnored(file.bytes) || !/atlas:sum\s+ignore/.test(firstLine)) return "";
  return (
    ` (its first line ${JSON.stringify(firstLine)} does not opt it out: Atlas 1.2.3 wants nothing after ` +
    "`ignore`, not even a CR or a space)"
  );
}

/** Writes atlas.sum for the directory; returns the text written. */
export function writeSumFile(dir: string): string {
  const text = formatHashFile(computeHashFile(readMigrationFiles(dir)));
  fs.writeFileSync(path.join(dir, SUM_FILE), text);
  return text;
}

export function newestVersion(dir: MigrationDir): string | undefined {
  return dir.files[dir.files.length - 1]?.version;
}

/** A short, stable digest of arbitrary parts, for content keys. */
export function shortDigest(parts: readonly string[], length = 16): string {
  const h = createHash("sha256");
  for (const part of parts) h.update(part).update("\0");
  return h.digest("hex").slice(0, length);
}

/** A new migration's version from a clock reading: UTC, yyyymmddhhmmss. */
export function versionAt(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}
