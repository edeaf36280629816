/**
 * The build's stamp (see runtime/buildStamp.ts), used by scripts/build.sh.
 *
 *   buildStamp.js write <outDir> < tsc --listFiles output   record what tsc compiled
 *   buildStamp.js check                                      exit 1 when bin/ is stale
 */
import * as fs from "fs";
import * as path from "path";
import { assertBuildCurrent, BUILD_CONFIG, formatStamp, projectRoot, STAMP_FILE } from "../runtime/buildStamp";

const root = projectRoot(__dirname);

function write(outDir: string): void {
  const compiled = fs
    .readFileSync(0, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((f) => f !== "" && !path.relative(root, f).startsWith("..") && !f.includes("/node_modules/"));
  if (compiled.length === 0) throw new Error("tsc listed no project source: nothing to stamp");
  fs.writeFileSync(path.join(outDir, STAMP_FILE), formatStamp(root, [...compiled, ...BUILD_CONFIG]));
}

try {
  const [command, arg] = process.argv.slice(2);
  if (command === "write" && arg) write(arg);
  else if (command === "check") assertBuildCurrent(__filename);
  else {
    console.error("usage: buildStamp.js write <outDir> | check");
    process.exit(2);
  }
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
