/** atlas.sum rules against Atlas 1.2.3's own library (the production image's release), run by
 * the probe in testbed/probes/atlas-sum: for every directory, our hash must equal Atlas's text,
 * our sum-ignored files Atlas's, and our verification must accept exactly the directories
 * Atlas's `migrate.Validate` accepts and name the line, file and reason Atlas names.
 *
 * Needs Go and, for the first build, the module proxy; no PostgreSQL, no Atlas binary, no test
 * bed. Every atlas.sum written here is Atlas's own text (from a first probe pass), then altered
 * the way people and editors alter it (some with the total recomputed, so only a line is wrong). */
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { computeHashFile, formatHashFile, isSumIgnored } from "../../lib/migration/atlasSum";
import { loadMigrationDir, readMigrationFiles } from "../../lib/migration/dir";
import { buildGoProbe } from "../support/goProbe";
import { prng } from "../support/prng";

interface ProbeReport {
  dir: string;
  files: { name: string; ignored: boolean }[];
  filesError?: string;
  sum?: string;
  error?: string;
  validate?: { ok: boolean; error?: string; notFound?: boolean; line?: number; file?: string; reason?: string };
}

type Files = Record<string, string | Buffer>;

interface Case {
  readonly label: string;
  readonly files: Files;
  /** atlas.sum: none, Atlas's sum of `files` (or of `sumOf`), altered by `edit`. */
  readonly sum?: { readonly sumOf?: Files; readonly edit?: (text: string) => string | Buffer };
  /** Directories to create besides files (Atlas reads a directory named *.sql as a file). */
  readonly dirs?: readonly string[];
}

let probe: string;
const root = fs.mkdtempSync(path.join(os.tmpdir(), "atlas-sum-rules-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  probe = await buildGoProbe({ module: "atlas-sum" });
}, 600_000);

function runProbe(dirs: readonly string[]): Promise<ProbeReport[]> {
  return new Promise((resolve, reject) => {
    execFile(probe, [...dirs], { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${probe} failed: ${error.message}\n${stderr}`));
      else
        resolve(
          stdout
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line) as ProbeReport),
        );
    });
  });
}

let seq = 0;
function materialize(files: Files, dirs: readonly string[] = [], sum?: string | Buffer): string {
  const dir = path.join(root, String(seq++));
  fs.mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  for (const name of dirs) fs.mkdirSync(path.join(dir, name));
  if (sum !== undefined) fs.writeFileSync(path.join(dir, "atlas.sum"), sum);
  return dir;
}

/** What Atlas writes for each case's atlas.sum source, then each case's directory with it. */
async function prepare(cases: readonly Case[]): Promise<string[]> {
  const sources = cases.map((c) => (c.sum ? materialize(c.sum.sumOf ?? c.files) : undefined));
  const reports = await runProbe(sources.filter((s): s is string => s !== undefined));
  const sums = new Map(reports.map((r) => [r.dir, r.sum]));
  return cases.map((c, i) => {
    const source = sources[i];
    if (source === undefined) return materialize(c.files, c.dirs);
    const text = sums.get(source);
    if (text === undefined) throw new Error(`${c.label}: Atlas computed no sum for ${source}`);
    return materialize(c.files, c.dirs, (c.sum?.edit ?? ((t) => t))(text));
  });
}

/** Our verdict in the probe's terms: accepted, or the refusal's line, file and reason. */
function ours(dir: string) {
  let sum: string | undefined;
  let ignored: { name: string; ignored: boolean }[] = [];
  try {
    const files = readMigrationFiles(dir);
    ignored = files.map((f) => ({ name: f.name, ignored: isSumIgnored(f.bytes) }));
    sum = formatHashFile(computeHashFile(files));
  } catch {
    // a directory we cannot read: loadMigrationDir's refusal below says why
  }
  try {
    loadMigrationDir(dir);
    return { ok: true, sum, ignored, error: undefined as string | undefined };
  } catch (err) {
    return { ok: false, sum, ignored, error: (err as Error).message };
  }
}

/** How our message must read for each of Atlas's refusals. */
function expectedRefusal(report: ProbeReport): RegExp {
  const v = report.validate;
  if (!v || v.ok) throw new Error("not a refusal");
  if (v.notFound) return /checksum file not found/;
  if (v.line !== undefined && v.file !== undefined) {
    const what =
      {
        added: "was added",
        edited: "was edited",
        removed: "is in atlas\\.sum but (was removed|its first line now opts it out)",
      }[v.reason ?? ""] ?? "?";
    return new RegExp(`checksum mismatch at .*atlas\\.sum:${v.line}: ${escape(v.file)} ${what}`);
  }
  if (v.error === "checksum file format invalid") return /atlas\.sum:\d+: expected "<file> h1:<hash>"/;
  if (v.error === "checksum mismatch") return /atlas\.sum:1: the total does not match/;
  if (v.error?.includes("is a directory")) return /is a directory/;
  if (v.error?.startsWith("panic: ")) return /listed more than once/;
  throw new Error(`no expectation for Atlas's refusal ${JSON.stringify(v)}`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compares every case and returns how often Atlas accepted and refused each way. */
async function compare(cases: readonly Case[]): Promise<Record<string, number>> {
  const dirs = await prepare(cases);
  const reports = await runProbe(dirs);
  const disagreements: string[] = [];
  const verdicts: Record<string, number> = {};
  cases.forEach((c, i) => {
    const atlas = reports[i];
    const verdict = atlas.validate?.ok
      ? "accepted"
      : (atlas.validate?.reason ?? atlas.validate?.error?.split(dirs[i]).join("<dir>") ?? "?");
    verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
    const mine = ours(dirs[i]);
    const problems: string[] = [];
    if (atlas.error) problems.push(`probe: ${atlas.error}`);
    if (mine.sum !== undefined && !atlas.filesError && JSON.stringify(mine.ignored) !== JSON.stringify(atlas.files)) {
      problems.push(`sum-ignored: ours ${JSON.stringify(mine.ignored)}, Atlas ${JSON.stringify(atlas.files)}`);
    }
    if (mine.sum !== atlas.sum) {
      problems.push(`sum: ours ${JSON.stringify(mine.sum)}, Atlas ${JSON.stringify(atlas.sum)}`);
    }
    if (mine.ok !== atlas.validate?.ok) {
      problems.push(
        `verify: ours ${mine.ok ? "accepts" : `refuses (${mine.error})`}, Atlas ${JSON.stringify(atlas.validate)}`,
      );
    } else if (!mine.ok) {
      const want = expectedRefusal(atlas);
      if (!want.test(mine.error ?? "")) problems.push(`refusal: ours ${JSON.stringify(mine.error)}, want ${want}`);
    }
    if (problems.length > 0) disagreements.push(`${c.label} (${dirs[i]}):\n  ${problems.join("\n  ")}`);
  });
  expect(disagreements).toEqual([]);
  return verdicts;
}

// --- cases ----------------------------------------------------------------------------------

const V = (n: number) => String(20250101000000 + n);
const crlf = (text: string) => text.replace(/\r?\n/g, "\r\n");
const sum = (total: string, lines: readonly [string, string][]) =>
  `h1:${total}\n${lines.map(([n, h]) => `${n} h1:${h}\n`).join("")}`;
/** A total recomputed for hand-edited lines (Atlas's HashFile.Sum), so only the line is wrong. */
function retotal(text: string): string {
  const lines = text.split("\n").filter((l) => l !== "");
  const entries = lines.slice(1).map((l) => {
    const at = l.indexOf("h1:");
    return [l.slice(0, at).trim(), l.slice(at + 3)] as [string, string];
  });
  const h = createHash("sha256");
  for (const [n, hash] of entries) h.update(n).update(hash);
  return sum(h.digest("base64"), entries);
}
const mapLines = (f: (line: string, index: number) => string) => (text: string) =>
  text
    .split("\n")
    .map((l, i) => (l === "" ? l : f(l, i)))
    .join("\n");

/** First lines of a migration: the directive as people, editors and tools write it. */
const firstLines = [
  "-- atlas:sum ignore\n",
  "-- atlas:sum ignore\r\n",
  "-- atlas:sum ignore",
  "-- atlas:sum ignore\r",
  "--atlas:sum ignore\n",
  "-- atlas:sum  ignore\n",
  "-- atlas:sum\tignore\n",
  "--\tatlas:sum ignore\n",
  "\t-- atlas:sum ignore\n",
  "-- atlas:sum ignore \n",
  "-- atlas:sum ignore\t\n",
  "-- atlas:sum ignore\v\n",
  "-- atlas:sum ignore\f\n",
  "-- atlas:sum ignore\u00a0\n",
  "-- atlas:sum ignoreé\n",
  "-- atlas:sum ignore é\n",
  "-- é atlas:sum ignore\n",
  "-- atlas:sum ignore -- è\n",
  "\uFEFF-- atlas:sum ignore\n",
  "\n-- atlas:sum ignore\n",
  "\r\n-- atlas:sum ignore\n",
  " -- atlas:sum ignore\n",
  "-- atlas:txmode none\n-- atlas:sum ignore\n",
  "-- atlas:txmode none atlas:sum ignore\n",
  "-- atlas:sum ignore atlas:sum ignore\n",
  "SELECT 1; -- atlas:sum ignore\n",
  "# atlas:sum ignore\n",
  "atlas:sum ignore\n",
  "/* atlas:sum ignore */\n",
  "-- atlas:sum ignore x\n",
  "-- atlas:sum ignore=true\n",
  "-- atlas:sum IGNORE\n",
  "-- ATLAS:sum ignore\n",
  "-- atlas:SUM ignore\n",
  "-- atlas:sumx ignore\n",
  "-- atlas:sum_x ignore\n",
  "-- atlas:sum: ignore\n",
  "-- atlas:sum\n",
  "-- atlas:sum \n",
  "-- atlas:sum ignore\u2028\n",
  "-- atlas:sum ignore\u0085\n",
  "-- atlas:sum ignore\u0000\n",
  "",
];

function file(first: string, rest = "CREATE TABLE t (id int);\n"): string {
  return first + rest;
}

const namedCases: Case[] = [
  ...firstLines.map((first) => ({
    label: `first line ${JSON.stringify(first)}`,
    files: { [`${V(1)}_a.sql`]: "SELECT 1;\n", [`${V(2)}_b.sql`]: file(first), [`${V(3)}_c.sql`]: "SELECT 3;\n" },
    sum: {},
  })),
  ...firstLines.map((first) => ({
    label: `first line ${JSON.stringify(first)}, atlas.sum of the file without it`,
    files: { [`${V(1)}_a.sql`]: "SELECT 1;\n", [`${V(2)}_b.sql`]: file(first), [`${V(3)}_c.sql`]: "SELECT 3;\n" },
    sum: { sumOf: { [`${V(1)}_a.sql`]: "SELECT 1;\n", [`${V(3)}_c.sql`]: "SELECT 3;\n" } },
  })),
  {
    label: "invalid UTF-8 after the directive",
    files: { [`${V(1)}_a.sql`]: Buffer.concat([Buffer.from("-- atlas:sum ignore"), Buffer.from([0xff, 0x0a])]) },
    sum: {},
  },
  {
    label: "invalid UTF-8 before the directive",
    files: { [`${V(1)}_a.sql`]: Buffer.concat([Buffer.from([0xff]), Buffer.from("-- atlas:sum ignore\n")]) },
    sum: {},
  },
  {
    label: "CRLF everywhere",
    files: {
      [`${V(1)}_a.sql`]: crlf("CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n"),
      [`${V(2)}_b.sql`]: crlf("-- atlas:sum ignore\nSELECT 2;\n"),
    },
    sum: { edit: crlf },
  },
  {
    label: "CRLF only in atlas.sum",
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n" },
    sum: { edit: crlf },
  },
  {
    label: "CRLF atlas.sum without a final line break",
    files: { [`${V(1)}_a.sql`]: "A;\n" },
    sum: { edit: (t) => crlf(t).slice(0, -2) },
  },
  {
    label: "atlas.sum without a final line break",
    files: { [`${V(1)}_a.sql`]: "A;\n" },
    sum: { edit: (t) => t.slice(0, -1) },
  },
  { label: "atlas.sum ending in a lone CR", files: { [`${V(1)}_a.sql`]: "A;\n" }, sum: { edit: (t) => `${t}\r` } },
  {
    label: "atlas.sum with CRCRLF",
    files: { [`${V(1)}_a.sql`]: "A;\n" },
    sum: { edit: (t) => t.replace(/\n/g, "\r\r\n") },
  },
  {
    label: "atlas.sum with CR line breaks",
    files: { [`${V(1)}_a.sql`]: "A;\n" },
    sum: { edit: (t) => t.replace(/\n/g, "\r") },
  },
  { label: "atlas.sum with a blank last line", files: { [`${V(1)}_a.sql`]: "A;\n" }, sum: { edit: (t) => `${t}\n` } },
  {
    label: "atlas.sum with a blank line inside",
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n" },
    sum: { edit: (t) => t.replace("\n", "\n\n") },
  },
  { label: "atlas.sum with a BOM", files: { [`${V(1)}_a.sql`]: "A;\n" }, sum: { edit: (t) => `\uFEFF${t}` } },
  {
    label: "atlas.sum without h1: on the total",
    files: { [`${V(1)}_a.sql`]: "A;\n" },
    sum: { edit: (t) => t.slice(3) },
  },
  { label: "empty atlas.sum, no files", files: {}, sum: { edit: () => "" } },
  { label: "empty atlas.sum", files: { [`${V(1)}_a.sql`]: "A;\n" }, sum: { edit: () => "" } },
  { label: "no files, Atlas's atlas.sum", files: {}, sum: {} },
  { label: "no files, no atlas.sum", files: {} },
  { label: "files, no atlas.sum", files: { [`${V(1)}_a.sql`]: "A;\n" } },
  { label: "only ignored files, no atlas.sum", files: { [`${V(1)}_a.sql`]: "-- atlas:sum ignore\n" } },
  ...[
    ["spaces around the name", (l: string, i: number) => (i === 0 ? l : `  ${l.replace(" h1:", "   h1:")}`)],
    ["a tab before h1:", (l: string, i: number) => (i === 0 ? l : l.replace(" h1:", "\th1:"))],
    ["no space before h1:", (l: string, i: number) => (i === 0 ? l : l.replace(" h1:", "h1:"))],
    ["NBSP before the name", (l: string, i: number) => (i === 0 ? l : `\u00a0${l}`)],
    ["NEL before the name", (l: string, i: number) => (i === 0 ? l : `\u0085${l}`)],
    ["U+3000 after the name", (l: string, i: number) => (i === 0 ? l : l.replace(" h1:", "\u3000h1:"))],
    ["BOM before the name", (l: string, i: number) => (i === 0 ? l : `\uFEFF${l}`)],
    ["a trailing space on the hash", (l: string, i: number) => (i === 0 ? l : `${l} `)],
    ["a trailing space on the total", (l: string, i: number) => (i === 0 ? `${l} ` : l)],
    ["a trailing CR on one line", (l: string, i: number) => (i === 1 ? `${l}\r` : l)],
    ["h1: twice on a line", (l: string, i: number) => (i === 1 ? `${l}h1:` : l)],
  ].map(([what, edit]) => ({
    label: `atlas.sum with ${what as string}`,
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n" },
    sum: { edit: mapLines(edit as (l: string, i: number) => string) },
  })),
  ...[
    ["a trailing space on the hash", (l: string, i: number) => (i === 1 ? `${l} ` : l)],
    ["the lines swapped", (l: string) => l],
    ["a line repeated at the end", (l: string) => l],
    ["a line repeated in place", (l: string) => l],
    ["a line of another name", (l: string, i: number) => (i === 1 ? l.replace("_a.sql", "_z.sql") : l)],
  ].map(([what, edit]) => ({
    label: `atlas.sum with ${what as string}, total recomputed`,
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n" },
    sum: {
      edit: (t: string) => {
        const lines = mapLines(edit as (l: string, i: number) => string)(t).split("\n");
        if (what === "the lines swapped") [lines[1], lines[2]] = [lines[2], lines[1]];
        if (what === "a line repeated at the end") lines.splice(3, 0, lines[1]);
        if (what === "a line repeated in place") lines.splice(2, 0, lines[1]);
        return retotal(lines.join("\n"));
      },
    },
  })),
  {
    label: "a file edited",
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B2;\n", [`${V(3)}_c.sql`]: "C;\n" },
    sum: { sumOf: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n", [`${V(3)}_c.sql`]: "C;\n" } },
  },
  {
    label: "a file renamed",
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_renamed.sql`]: "B;\n", [`${V(3)}_c.sql`]: "C;\n" },
    sum: { sumOf: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n", [`${V(3)}_c.sql`]: "C;\n" } },
  },
  {
    label: "a file added in the middle",
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n", [`${V(3)}_c.sql`]: "C;\n" },
    sum: { sumOf: { [`${V(1)}_a.sql`]: "A;\n", [`${V(3)}_c.sql`]: "C;\n" } },
  },
  {
    label: "a file removed from the middle",
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(3)}_c.sql`]: "C;\n" },
    sum: { sumOf: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n", [`${V(3)}_c.sql`]: "C;\n" } },
  },
  {
    label: "the last file removed",
    files: { [`${V(1)}_a.sql`]: "A;\n" },
    sum: { sumOf: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n" } },
  },
  {
    label: "a file appended",
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "B;\n" },
    sum: { sumOf: { [`${V(1)}_a.sql`]: "A;\n" } },
  },
  {
    label: "an ignored file edited",
    files: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "-- atlas:sum ignore\nB2;\n" },
    sum: { sumOf: { [`${V(1)}_a.sql`]: "A;\n", [`${V(2)}_b.sql`]: "-- atlas:sum ignore\nB;\n" } },
  },
  {
    label: "a directory named *.sql",
    files: { [`${V(1)}_a.sql`]: "A;\n" },
    dirs: [`${V(2)}_b.sql`],
    sum: {},
  },
  {
    label: "a directory named *.sql, no atlas.sum",
    files: { [`${V(1)}_a.sql`]: "A;\n" },
    dirs: [`${V(2)}_b.sql`],
  },
  {
    label: "names with spaces, CR and letters of any script",
    files: { [`${V(1)}_crea tabella è.sql`]: "A;\n", [`${V(2)}_名前.sql`]: "B;\n", [`${V(3)}_cr\r.sql`]: "C;\n" },
    sum: { edit: crlf },
  },
];

const pieces = [
  "CREATE TABLE t (id text);",
  "-- a comment\n",
  "\r\n",
  "\n",
  "\t",
  "\r",
  " ",
  "SELECT 'è ∅ 日本';",
  "$$ body $$",
  "-- atlas:sum ignore",
  "-- atlas:sum ignore\r\n",
  "atlas:sum",
  " ignore",
  "INSERT INTO t VALUES ('x');",
];
const sumEdits: ((t: string) => string)[] = [
  (t) => t,
  crlf,
  (t) => t.slice(0, -1),
  (t) => `${t}\n`,
  (t) => t.replace(/ h1:/g, "\th1:"),
  (t) => t.replace(/ h1:/g, "  h1:"),
];

function generated(seed: number): Case {
  const rand = prng(seed);
  const count = rand(8);
  const files: Files = {};
  for (let i = 0; i < count; i++) {
    const desc = ["init", "add_index", "Ünïcode_名前", "with space", "x", "a.b-c"][rand(6)];
    let text = rand(3) === 0 ? firstLines[rand(firstLines.length)] : "";
    for (let j = rand(12); j > 0; j--) text += pieces[rand(pieces.length)];
    files[`${V(rand(1_000_000))}_${desc}.sql`] = text;
  }
  if (rand(4) === 0) files["notes.txt"] = "not a migration";
  const names = Object.keys(files).filter((n) => n.endsWith(".sql"));
  const stale: Files = { ...files };
  switch (rand(6)) {
    case 0: // no atlas.sum
      return { label: `generated #${seed}, no atlas.sum`, files };
    case 1: // a file edited since
      if (names.length > 0) stale[names[rand(names.length)]] = "SELECT 'before';\n";
      break;
    case 2: // a file added since
      if (names.length > 0) delete stale[names[rand(names.length)]];
      break;
    case 3: // a file removed since
      stale[`${V(rand(1_000_000))}_gone.sql`] = "SELECT 'gone';\n";
      break;
  }
  return { label: `generated #${seed}`, files, sum: { sumOf: stale, edit: sumEdits[rand(sumEdits.length)] } };
}

describe("atlas.sum rules equal Atlas 1.2.3's (testbed/probes/atlas-sum)", () => {
  it(`on ${namedCases.length} named edge cases`, async () => {
    const verdicts = await compare(namedCases);
    expect(Object.keys(verdicts).sort()).toEqual([
      "accepted",
      "added",
      "checksum file format invalid",
      "checksum file not found",
      "checksum mismatch",
      "edited",
      expect.stringMatching(/^panic: runtime error: index out of range/),
      "removed",
      expect.stringMatching(/is a directory$/),
    ]);
  });

  it("on 300 generated directories", async () => {
    const verdicts = await compare(Array.from({ length: 300 }, (_, i) => generated(i + 1)));
    // The generator must reach both sides: Atlas accepting and refusing for each reason.
    const rare = ["accepted", "added", "edited", "removed", "checksum file not found"].filter(
      (v) => !(verdicts[v] >= 10),
    );
    expect(rare).toEqual([]);
  });

  it("on the repository's directory", async () => {
    const repo = path.join(__dirname, "../../migrations");
    const [report] = await runProbe([repo]);
    expect(report.validate).toEqual({ ok: true });
    expect(formatHashFile(loadMigrationDir(repo).hashFile)).toBe(report.sum);
    expect(fs.readFileSync(path.join(repo, "atlas.sum"), "utf8")).toBe(report.sum);
  });
});
