import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  assertBuildCurrent,
  changedSources,
  formatStamp,
  parseStamp,
  projectRoot,
  StaleBuildError,
} from "../../runtime/buildStamp";

/** A tiny project: Pulumi.yaml, two sources, and a bin/ stamped from them. */
function project(): { root: string; entry: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "build-stamp-"));
  fs.writeFileSync(path.join(root, "Pulumi.yaml"), "name: p\n");
  fs.mkdirSync(path.join(root, "lib"));
  fs.writeFileSync(path.join(root, "index.ts"), 'export = () => "a";\n');
  fs.writeFileSync(path.join(root, "lib", "x.ts"), "export const x = 1;\n");
  fs.mkdirSync(path.join(root, "bin", "lib"), { recursive: true });
  fs.writeFileSync(path.join(root, "bin", "index.js"), "");
  fs.writeFileSync(path.join(root, "bin", "sources.sha256"), formatStamp(root, ["lib/x.ts", "index.ts"]));
  return { root, entry: path.join(root, "bin", "index.js") };
}

describe("build stamp: the compiled program never runs stale", () => {
  const roots: string[] = [];
  const make = () => {
    const p = project();
    roots.push(p.root);
    return p;
  };
  afterAll(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

  it("writes exactly what sha256sum prints, sorted, relative to the root", () => {
    const { root } = make();
    const stamp = fs.readFileSync(path.join(root, "bin", "sources.sha256"), "utf8");
    expect(stamp).toBe(execFileSync("sha256sum", ["index.ts", "lib/x.ts"], { cwd: root, encoding: "utf8" }));
    expect(parseStamp(stamp).map((e) => e.file)).toEqual(["index.ts", "lib/x.ts"]);
  });

  it("passes when the sources are the ones compiled", () => {
    const { entry } = make();
    expect(() => assertBuildCurrent(entry)).not.toThrow();
    expect(() => assertBuildCurrent(path.join(path.dirname(entry), "lib", "deep.js"))).not.toThrow();
  });

  it("fails naming the edited source and the command that fixes it", () => {
    const { root, entry } = make();
    fs.appendFileSync(path.join(root, "lib", "x.ts"), "export const y = 2;\n");
    expect(() => assertBuildCurrent(entry)).toThrow(StaleBuildError);
    expect(() => assertBuildCurrent(entry)).toThrow(
      "bin/ is stale: lib/x.ts changed since it was compiled; run `npm run build` (npm test and npm run local build it too)",
    );
  });

  it("fails when a compiled source was removed, counting every change", () => {
    const { root, entry } = make();
    fs.rmSync(path.join(root, "lib", "x.ts"));
    fs.writeFileSync(path.join(root, "index.ts"), "export = 1;\n");
    expect(changedSources(root, parseStamp(fs.readFileSync(path.join(root, "bin", "sources.sha256"), "utf8")))).toEqual(
      ["index.ts", "lib/x.ts"],
    );
    expect(() => assertBuildCurrent(entry)).toThrow(
      "bin/ is stale: index.ts (and 1 more) changed since it was compiled",
    );
  });

  it("fails when the stamp is missing or unreadable", () => {
    const { root, entry } = make();
    fs.writeFileSync(path.join(root, "bin", "sources.sha256"), "not a stamp\n");
    expect(() => assertBuildCurrent(entry)).toThrow('unreadable line in the build stamp: "not a stamp"');
    fs.rmSync(path.join(root, "bin", "sources.sha256"));
    expect(() => assertBuildCurrent(entry)).toThrow(
      "bin/sources.sha256 is missing, so bin/ cannot be trusted: run `npm run build`",
    );
  });

  it("has nothing to check when running from the TypeScript source", () => {
    const { root } = make();
    fs.rmSync(path.join(root, "bin"), { recursive: true });
    expect(() => assertBuildCurrent(path.join(root, "index.ts"))).not.toThrow();
  });

  it("finds the project root from the source and from the compiled folders", () => {
    const { root } = make();
    expect(projectRoot(root)).toBe(root);
    expect(projectRoot(path.join(root, "bin"))).toBe(root);
    expect(projectRoot(path.join(root, "bin", "lib"))).toBe(root);
    expect(() => projectRoot(os.tmpdir())).toThrow(`no Pulumi.yaml in ${os.tmpdir()} or above it`);
  });
});
