import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/**
 * The program and the migration commands run as JavaScript compiled into bin/ (Pulumi.yaml
 * `main`), not compiled again at every run. scripts/build.sh writes bin/sources.sha256: the
 * SHA-256 of every project source tsc compiled, in `sha256sum` format. The compiled code
 * compares it with the sources before doing anything, so a stale bin/ never runs.
 */

export const BUILD_DIR = "bin";
export const STAMP_FILE = "sources.sha256";
/** Not compiled but shape the output: a change to either makes the build stale too. */
export const BUILD_CONFIG = ["tsconfig.json", "tsconfig.build.json"];
const PROJECT_FILE = "Pulumi.yaml";

export class StaleBuildError extends Error {}

/**
 * The project's root (the folder with Pulumi.yaml) from a module's __dirname, whether the
 * module runs from its source (`runtime/`) or compiled (`bin/runtime/`).
 */
export function projectRoot(moduleDir: string): string {
  for (let dir = moduleDir; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, PROJECT_FILE))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no ${PROJECT_FILE} in ${moduleDir} or above it`);
  }
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** `sha256sum` lines for these files (paths relative to root, sorted, `/`-separated). */
export function formatStamp(root: string, files: readonly string[]): string {
  const rel = [...new Set(files.map((f) => path.relative(root, path.resolve(root, f)).split(path.sep).join("/")))];
  return rel
    .sort()
    .map((f) => `${sha256(fs.readFileSync(path.join(root, f)))}  ${f}\n`)
    .join("");
}

export interface StampEntry {
  readonly hash: string;
  readonly file: string;
}

export function parseStamp(text: string): StampEntry[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
      if (!m) throw new StaleBuildError(`unreadable line in the build stamp: ${JSON.stringify(line)}`);
      return { hash: m[1], file: m[2] };
    });
}

/** The recorded sources whose content differs now (edited, or removed), in stamp order. */
export function changedSources(root: string, stamp: readonly StampEntry[]): string[] {
  return stamp
    .filter(({ hash, file }) => {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(path.join(root, file));
      } catch {
        return true;
      }
      return sha256(bytes) !== hash;
    })
    .map((e) => e.file);
}

/**
 * Throws unless the compiled output under root/bin was built from the sources as they are
 * now. A module running from its TypeScript source (ts-node, jest) has nothing to check.
 */
export function assertBuildCurrent(moduleFile: string): void {
  if (!moduleFile.endsWith(".js")) return;
  const root = projectRoot(path.dirname(moduleFile));
  const stampPath = path.join(root, BUILD_DIR, STAMP_FILE);
  let text: string;
  try {
    text = fs.readFileSync(stampPath, "utf8");
  } catch {
    throw new StaleBuildError(
      `${path.join(BUILD_DIR, STAMP_FILE)} is missing, so ${BUILD_DIR}/ cannot be trusted: run \`npm run build\``,
    );
  }
  const changed = changedSources(root, parseStamp(text));
  if (changed.length > 0) {
    const more = changed.length > 1 ? ` (and ${changed.length - 1} more)` : "";
    throw new StaleBuildError(
      `${BUILD_DIR}/ is stale: ${changed[0]}${more} changed since it was compiled; ` +
        "run `npm run build` (npm test and npm run local build it too)",
    );
  }
}
