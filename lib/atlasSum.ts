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

/** Atlas's directive regexp: anchored at the start of the file, so only the first line counts. */
const directivePattern = /^([ -~]*)atlas:(\w+)(?: +([ -~]*))*/;

/** Whether a file opts out of atlas.sum (`-- atlas:sum ignore` on its first line). */
export function isSumIgnored(bytes: Buffer): boolean {
  const match = directivePattern.exec(bytes.toString("utf8"));
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

/** Parses atlas.sum text the way Atlas does; a wrong total or line shape is an error. */
export function parseHashFile(text: string, fileName = "atlas.sum"): HashFile {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const total = (lines[0] ?? "").replace(/^h1:/, "");
  const entries = lines.slice(1).map((line, index) => {
    const at = line.indexOf("h1:");
    if (at < 0) {
      throw new SumFileError(
        `${fileName}:${index + 2}: expected "<file> h1:<hash>", found ${JSON.stringify(line)}; ` +
          "run `npm run migrations:hash` to rewrite it",
      );
    }
    return { name: line.slice(0, at).trim(), hash: line.slice(at + 3) };
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
  | { readonly reason: "edited"; readonly file: string; readonly line: number };

/**
 * The first difference between the recorded sum and the directory, or undefined when they
 * agree. Hashes are cumulative, so the first differing entry is the file that changed.
 */
export function firstSumDrift(recorded: HashFile, actual: HashFile): SumDrift | undefined {
  const recordedNames = new Set(recorded.entries.map((e) => e.name));
  const actualNames = new Set(actual.entries.map((e) => e.name));
  const count = Math.max(recorded.entries.length, actual.entries.length);
  for (let i = 0; i < count; i++) {
    const want = recorded.entries[i];
    const got = actual.entries[i];
    const line = i + 2;
    if (want && got && want.name === got.name) {
      if (want.hash !== got.hash) return { reason: "edited", file: got.name, line };
      continue;
    }
    if (got && !recordedNames.has(got.name)) return { reason: "added", file: got.name, line };
    if (want && !actualNames.has(want.name)) return { reason: "removed", file: want.name, line };
    if (got) return { reason: "edited", file: got.name, line };
  }
  return undefined;
}
