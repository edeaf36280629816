import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { importCycles, importGraph } from "../support/importGraph";

/** The program's own TypeScript (everything but the tests), as git sees it. */
const ROOT = path.join(__dirname, "..", "..");
const sources = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "*.ts"], { cwd: ROOT, encoding: "utf8" })
  .split("\n")
  .filter((f) => f !== "" && !f.startsWith("test/") && fs.existsSync(path.join(ROOT, f)));

test("no import circle: data flows one way, config -> spec -> plan -> components", () => {
  expect(importCycles(importGraph(ROOT, sources))).toEqual([]);
});

test("the cycle finder sees a circle through three files and a module importing itself", () => {
  const graph = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["c.ts"]],
    ["c.ts", ["a.ts", "d.ts"]],
    ["d.ts", []],
    ["e.ts", ["e.ts"]],
  ]);
  expect(importCycles(graph)).toEqual([["a.ts", "b.ts", "c.ts"], ["e.ts"]]);
});
