import { createHash } from "crypto";

/**
 * atlas.sum, byte for byte as Atlas computes it (ariga.io/atlas sql/migrate/dir.go:
 * NewHashFile, HashFile.Sum, MarshalText). One running sha256 over the whole directory:
 * for each file in name order, feed its name; unless the file opts out with an
 * `atlas:sum ignore` directive, feed its bytes and record the digest so far.
 */
export interface SumEntry {
  readonly name: string;
  readonly hash: string;
}

export interface HashFile {
  /** The directory total (first line, without `h1:`). */
  readonly total: string;
  readonly entries: readonly SumEntry[];
}

export interface SumSource {
  readonly name: string;
  readonly bytes: Buffer;
}

/**
 * Atlas's directive regexp (sql/migrate/dir.go `reDirective`): anchored at the start of the
 * file, so only the first line counts; matched on the bytes (latin1: one character per byte),
 * since Go's `.` also takes invalid UTF-8.
 */
// Atlas 1.2.3 (production) reads the rest of the line as `(.+)` where the test bed's 0.13.1
// read `[ -~]*`, so only 0.13.1 lets `-- atlas:sum ignore\r\n` (or a tab or non-ASCII byte
// after `ignore`) opt out: we follow 1.2.3.
const directivePattern = /^([ -~]*)atlas:(\w+)(?: +([^\n]+))*/;

/** Whether a file opts out of atlas.sum: its first line is exactly `<prefix>atlas:sum +ignore`. */
export function isSumIgnored(bytes: Buffer): boolean {
  const end = bytes.indexOf(0x0a);
  const firstLine = (end < 0 ? bytes : bytes.subarray(0, end)).toString("latin1");
  const match = directivePattern.exec(firstLine);
  return match !== null && match[2] === "sum" && match[3] === "ignore";
}

export function computeHashFile(files: readonly SumSource[]): HashFile {
  const running = createHash("sha256");
  const entries: SumEntry[] = [];
  for (const file of [...files].sort((a, b) => compareNames(a.name, b.name))) {
    running.update(file.name);
    if (isSumIgnored(file.bytes)) continue;
    running.update(file.bytes);
    entries.push({ name: file.name, hash: running.copy().digest("base64") });
  }
  return { total: totalOf(entries), entries };
}

function totalOf(entries: readonly SumEntry[]): string {
  const total = createHash("sha256");
  for (const entry of entries) total.update(entry.name).update(entry.hash);
  return total.digest("base64");
}

/** Go's sort of strings: byte order, not locale order. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function formatHashFile(hashFile: HashFile): string {
  return `h1:${hashFile.total}\n${hashFile.entries.map((e) => `${e.name} h1:${e.hash}\n`).join("")}`;
}

export class SumFileError extends Error {}

/**
 * Go's strings.TrimSpace: Unicode White_Space, which (unlike String.prototype.trim) includes
 * U+0085 and excludes U+FEFF. Atlas trims each name in atlas.sum with it.
 */
const goTrimPattern =
  /^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/**
 * The lines of atlas.sum as Atlas reads them (bufio.Scanner's ScanLines): split at "\n", one
 * trailing "\r" dropped from each line, no empty last line after a final "\n". So a CRLF
 * atlas.sum reads as the LF one.
 */
function scanLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
}

/** Parses atlas.sum text the way Atlas does (HashFile.UnmarshalText); a wrong total or line shape is an error. */
export function parseHashFile(text: string, fileName = "atlas.sum"): HashFile {
  const lines = scanLines(text);
  const total = (lines[0] ?? "").replace(/^h1:/, "");
  const entries = lines.slice(1).map((line, index) => {
    const at = line.indexOf("h1:");
    if (at < 0) {
      throw new SumFileError(
        `${fileName}:${index + 2}: expected "<file> h1:<hash>", found ${JSON.stringify(line)}; ` +
          "run `npm run migrations:hash` to rewrite it",
      );
    }
    return { name: line.slice(0, at).replace(goTrimPattern, ""), hash: line.slice(at + 3) };
  });
  if (totalOf(entries) !== total) {
    throw new SumFileError(
      `${fileName}:1: the total does not match the file lines (the sum file was edited by hand); ` +
        "run `npm run migrations:hash` to rewrite it",
    );
  }
  return { total, entries };
}

export type SumDrift =
  | { readonly reason: "added"; readonly file: string; readonly line: number }
  | { readonly reason: "removed"; readonly file: string; readonly line: number }
  | { readonly reason: "edited"; readonly file: string; readonly line: number }
  | { readonly reason: "duplicate"; readonly file: string; readonly line: number };

/**
 * The first difference between the recorded sum and the directory, or undefined when they
 * agree: the line, file and reason Atlas 1.2.3's `migrate.Validate` reports (its ChecksumError).
 * It walks the recorded lines: the first that differs from the directory's line at the same
 * place is "removed" when its name is nowhere in the directory, "edited" when the name is at
 * the same place, else the directory's file at that place was "added"; when every recorded line
 * matches, the directory's next file was "added". Where Atlas would index past the directory's
 * files (a name listed twice) it panics; that is "duplicate" here.
 */
export function firstSumDrift(recorded: HashFile, actual: HashFile): SumDrift | undefined {
  const same = (a: SumEntry | undefined, b: SumEntry) => a !== undefined && a.name === b.name && a.hash === b.hash;
  if (
    recorded.entries.length === actual.entries.length &&
    recorded.entries.every((e, i) => same(actual.entries[i], e))
  ) {
    return undefined;
  }
  for (let i = 0; i < recorded.entries.length; i++) {
    const want = recorded.entries[i];
    if (same(actual.entries[i], want)) continue;
    const line = i + 2;
    const at = actual.entries.findIndex((e) => e.name === want.name);
    if (at < 0) return { reason: "removed", file: want.name, line };
    if (at === i) return { reason: "edited", file: want.name, line };
    const got = actual.entries[i];
    return got ? { reason: "added", file: got.name, line } : { reason: "duplicate", file: want.name, line };
  }
  const next = recorded.entries.length;
  return { reason: "added", file: actual.entries[next].name, line: next + 2 };
}
