import { spawnSync } from "child_process";
import * as path from "path";
import type { ReviewedStatement } from "./guard";

/**
 * squawk (npm @squawk-cli/linux-x64, pinned in package.json) as a second opinion on the statements Atlas
 * will send. It knows PostgreSQL's lock and rewrite rules well; it is blind to data loss
 * through DML and function bodies, to what Atlas sends versus what PostgreSQL reads, and to a
 * table created earlier in the same run (it flags an index on it). So lib/migration/risk.ts
 * classifies every statement itself and adds squawk's verdict (SQUAWK_RULES there): a rule
 * confirms the finding of its class on that statement, or adds one where ours saw nothing.
 */

export interface SquawkViolation {
  readonly rule: string;
  /** Index in the statements given. */
  readonly statement: number;
  readonly message: string;
}

/** The oldest PostgreSQL this program supports (README): squawk's version rules assume no newer server. */
export const SQUAWK_PG_VERSION = "14.0";

/**
 * squawk's binary, from its platform package (what squawk-cli's wrapper would pick). Only
 * @squawk-cli/linux-x64 is a dependency: the registry this project installs from serves no
 * other platform's, and squawk-cli itself lists them all, so its lock file could not be
 * installed. On another platform the guard stops and says so.
 */
export function squawkBinary(platform: string = process.platform, arch: string = process.arch): string {
  const pkg = `@squawk-cli/${platform}-${arch}`;
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "bin", "squawk");
  } catch {
    throw new Error(
      `squawk, which the guard runs on every pending migration, is not installed for ${platform}-${arch} (no ${pkg}): ` +
        "the project depends on @squawk-cli/linux-x64 only; run the preview on linux-x64 (CI, the deploy), or install " +
        `${pkg} at the version of @squawk-cli/linux-x64 in package.json`,
    );
  }
}

/**
 * Lints exactly `statements` (the pieces Atlas sends, not the file: comments between them,
 * where `-- squawk-ignore` would hide a rule, are not given). Each statement is placed on its
 * own line of the file, so squawk's lines are the file's. Synchronous; reads no config file
 * (`--config /dev/null` stops its search of the working directory and its parents) and no
 * network (linting never uploads; `upload-to-github` is a subcommand we never call), with an
 * environment of PATH only.
 */
export function squawkViolations(statements: readonly ReviewedStatement[]): SquawkViolation[] {
  if (statements.length === 0) return [];
  let text = "";
  let line = 1;
  /** Where each statement starts and ends in `text`: [line, column] pairs, 0-based as squawk reports. */
  const spans: Array<{ from: [number, number]; to: [number, number] }> = [];
  const position = (): [number, number] => [line - 1, text.length - (text.lastIndexOf("\n") + 1)];
  for (const s of statements) {
    if (line < s.line) {
      text += "\n".repeat(s.line - line);
      line = s.line;
    } else if (text) {
      text += " ";
    }
    const from = position();
    text += `${s.source};`;
    line += s.source.split("\n").length - 1;
    spans.push({ from, to: position() });
  }
  const result = spawnSync(
    squawkBinary(),
    [
      "--reporter",
      "json",
      "--config",
      "/dev/null",
      "--pg-version",
      SQUAWK_PG_VERSION,
      "--stdin-filepath",
      "migration.sql",
    ],
    { input: `${text}\n`, encoding: "utf8", env: { PATH: process.env.PATH ?? "" }, maxBuffer: 64 * 1024 * 1024 },
  );
  // 0: nothing found, 1: violations; anything else is squawk failing.
  if (result.error || (result.status !== 0 && result.status !== 1)) {
    throw new Error(
      `squawk failed: ${result.error?.message ?? `exit ${result.status}: ${result.stderr.trim()}`}; ` +
        "reinstall the dependencies with `npm ci` (its binary comes from @squawk-cli/linux-x64)",
    );
  }
  const reported = JSON.parse(result.stdout || "[]") as Array<{
    rule_name: string;
    line: number;
    column: number;
    message: string;
  }>;
  const before = (a: [number, number], b: [number, number]) => a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]);
  return reported.map((v) => {
    const at: [number, number] = [v.line, v.column];
    let statement = spans.findIndex((span) => before(span.from, at) && before(at, span.to));
    // A position past a statement's end (squawk sometimes points at the next token): the last one started.
    if (statement < 0) statement = Math.max(0, spans.filter((span) => before(span.from, at)).length - 1);
    return { rule: v.rule_name, statement, message: v.message };
  });
}
