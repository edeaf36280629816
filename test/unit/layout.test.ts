import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { importCycles, importGraph } from "../support/importGraph";

/** Every TypeScript file of the repository, as git sees it. */
const ROOT = path.join(__dirname, "..", "..");
const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "*.ts"], { cwd: ROOT, encoding: "utf8" })
  .split("\n")
  .filter((f) => f !== "" && fs.existsSync(path.join(ROOT, f)));
const graph = importGraph(ROOT, files);
const room = (file: string) => (file.includes("/") ? file.split("/")[0] : file);

test("no import circle: data flows one way, config -> spec -> plan -> components -> outputs", () => {
  expect(
    importCycles(
      importGraph(
        ROOT,
        files.filter((f) => !f.startsWith("test/")),
      ),
    ),
  ).toEqual([]);
});

/**
 * Which rooms each room may import. The program (index.ts and what it loads) never imports
 * the test bed, the benchmarks or the tests; lib/ is pure (no Pulumi runtime readers, no
 * components, no commands); the test bed and the benchmarks never import the tests.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  "index.ts": ["lib", "components", "stack", "runtime"],
  runtime: ["runtime", "lib"],
  lib: ["lib"],
  components: ["components", "lib"],
  stack: ["stack", "lib", "components"],
  cli: ["cli", "lib", "runtime"],
  testbed: ["testbed", "lib", "components", "runtime", "stack", "cli"],
  bench: ["bench", "testbed", "lib", "components", "runtime", "stack", "cli"],
  test: ["test", "testbed", "lib", "components", "runtime", "stack", "cli", "bench", "index.ts"],
};

test("each room imports only the rooms it may", () => {
  const wrong = [...graph].flatMap(([from, targets]) =>
    targets.filter((to) => !(MAY_IMPORT[room(from)] ?? []).includes(room(to))).map((to) => `${from} -> ${to}`),
  );
  expect(wrong).toEqual([]);
});

test("the cycle finder sees a circle through three files and a module importing itself", () => {
  const g = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["c.ts"]],
    ["c.ts", ["a.ts", "d.ts"]],
    ["d.ts", []],
    ["e.ts", ["e.ts"]],
  ]);
  expect(importCycles(g)).toEqual([["a.ts", "b.ts", "c.ts"], ["e.ts"]]);
});
