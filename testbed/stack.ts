import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDocument, YAMLMap } from "yaml";
import { writeSumFile } from "../lib/migration/dir";
import { run } from "./run";

/**
 * A throw-away copy of this Pulumi project with its own file backend and stack, driven
 * through the real `pulumi` CLI (engine, language host, Kubernetes provider) against the
 * local cluster. Each instance has its own migrations folder to edit.
 */

const ROOT = path.join(__dirname, "..");
/** Pulumi.yaml's name: the namespace of the stack's config keys. */
const PROJECT = /^name: *(\S+)$/m.exec(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"))![1];
// bin/: the compiled program that Pulumi.yaml's `main` runs (scripts/build.sh), with the
// sources its stamp was made from.
/** The folders the program is compiled from (tsconfig.build.json's include). */
export const PROGRAM_DIRS = (
  JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8")) as { include: string[] }
).include
  .filter((p) => p.endsWith("/**/*.ts"))
  .map((p) => p.split("/")[0]);
const PROJECT_FILES = [
  "index.ts",
  "Pulumi.yaml",
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
  ...PROGRAM_DIRS,
  "scripts",
  "bin",
  "migrations",
];

/** The Atlas image the test bed runs: the release tools/versions.env builds (ATLAS_VERSION).
 * The program's default is a newer release that cannot be built here. */
export function testbedAtlasImage(): string {
  const versions = fs.readFileSync(path.join(ROOT, "tools", "versions.env"), "utf8");
  const version = /^ATLAS_VERSION=(\S+)$/m.exec(versions)?.[1];
  if (!version) throw new Error("tools/versions.env has no ATLAS_VERSION line");
  return `arigaio/atlas:${version}`;
}

/** A program's imports of lib/ and components/ from test/support or bench/, made relative to
 * the project root (index.ts) or bin/ (bin/index.js), which hold both. */
function rootRelativeImports(text: string): string {
  return text.replace(new RegExp(`from "(?:\\.\\./)+(${PROGRAM_DIRS.join("|")})/`, "g"), 'from "./$1/');
}

// How the state marks an encrypted value: @pulumi/pulumi's runtime/rpc specialSigKey and
// specialSecretSig (not imported: that loads the SDK's whole runtime into every test file).
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** The state's encrypted values as `pulumi stack output` shows them. */
function hideSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hideSecrets);
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  if (object[SIG_KEY] === SECRET_SIG) return "[secret]";
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, hideSecrets(v)]));
}

export interface StackOptions {
  /** Another program than index.ts (bench/reference.ts), run as TypeScript by Pulumi. */
  readonly program?: string;
  /** Another program than index.ts, run compiled as index.ts is: transpiled into bin/index.js
   * (tsc in npm test type-checks it), next to the compiled lib/ and components/ it imports. */
  readonly compiledProgram?: string;
  /** A backend directory shared with other stacks (promotion reads another stack's outputs). */
  readonly backendDir?: string;
}

/** One resource of a stack's state (the file backend's checkpoint). */
export interface StateResource {
  readonly urn: string;
  readonly type: string;
  readonly outputs?: Record<string, unknown>;
  readonly initErrors?: string[];
}

export interface CommandResult {
  readonly code: number;
  readonly output: string;
}

export class TestStack {
  readonly dir: string;
  readonly migrationsDir: string;
  private readonly env: Record<string, string>;

  private constructor(
    readonly name: string,
    { program, backendDir }: StackOptions,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "dia-stack-"));
    for (const f of PROJECT_FILES) fs.cpSync(path.join(ROOT, f), path.join(this.dir, f), { recursive: true });
    // Another program over the same project files (the benchmarks' reference stack), run
    // the default way: index.ts compiled by Pulumi's TypeScript support at every run.
    if (program) {
      fs.writeFileSync(path.join(this.dir, "index.ts"), rootRelativeImports(fs.readFileSync(program, "utf8")));
      const project = fs
        .readFileSync(path.join(this.dir, "Pulumi.yaml"), "utf8")
        .replace(/^main: .*\n/m, "")
        .replace(/^ +nodeargs: .*\n/m, "")
        .replace("typescript: false", "typescript: true");
      fs.writeFileSync(path.join(this.dir, "Pulumi.yaml"), project);
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(this.dir, "node_modules"));
    this.migrationsDir = path.join(this.dir, "migrations");
    fs.mkdirSync(path.join(this.dir, ".state"));
    const pass = (k: string) => process.env[k] ?? "";
    this.env = {
      PATH: pass("PATH"),
      HOME: pass("HOME"),
      KUBECONFIG: pass("KUBECONFIG"),
      PULUMI_HOME: pass("PULUMI_HOME"),
      // Stacks that reference each other (promotion) share one backend.
      PULUMI_BACKEND_URL: `file://${backendDir ?? path.join(this.dir, ".state")}`,
      PULUMI_CONFIG_PASSPHRASE: "e2e-only",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      ATLAS_NO_UPDATE_NOTIFIER: "1",
    };
  }

  /** A new stack with the given plain config and secret databaseDsn. Its atlasImage is the
   * test bed's Atlas unless the config names another. */
  static async create(
    name: string,
    config: Record<string, string>,
    databaseDsn: string,
    options: StackOptions = {},
  ): Promise<TestStack> {
    const stack = new TestStack(name, options);
    if (options.compiledProgram) await stack.compileProgram(options.compiledProgram);
    await stack.must("stack", "init", name);
    for (const [key, value] of Object.entries({ atlasImage: testbedAtlasImage(), ...config }))
      await stack.setConfig(key, value);
    await stack.setConfig("databaseDsn", databaseDsn, true);
    return stack;
  }

  /** `program` in place of the compiled index.ts from now on (TypeScript loads only for the
   * stacks that need it: it costs every test file that imports this module a second otherwise). */
  async compileProgram(program: string): Promise<void> {
    const ts = await import("typescript");
    const { outputText } = ts.transpileModule(rootRelativeImports(fs.readFileSync(program, "utf8")), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    fs.writeFileSync(path.join(this.dir, "bin", "index.js"), outputText);
  }

  pulumi(...args: string[]): Promise<CommandResult> {
    return run("pulumi", [...args, "--non-interactive", "--color", "never"], this.env, this.dir);
  }

  /** Any command in this stack's environment (backend, passphrase), with extra variables. */
  command(cmd: string, args: string[], extraEnv: Record<string, string> = {}, cwd = this.dir): Promise<CommandResult> {
    return run(cmd, args, { ...this.env, ...extraEnv }, cwd);
  }

  private async must(...args: string[]): Promise<string> {
    const result = await this.pulumi(...args);
    if (result.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed (${result.code}):\n${result.output}`);
    return result.output;
  }

  /**
   * A plain value is written into the stack's config file (Pulumi.<stack>.yaml), as an
   * operator edits it: the program reads the same file either way, and each `pulumi config set`
   * would cost a CLI start (0.5 s of CPU here). A secret goes through the CLI, which encrypts it
   * with the stack's passphrase, and through stdin, never argv.
   */
  async setConfig(key: string, value: string, secret = false): Promise<void> {
    if (!secret) return this.editConfig((config) => config.setIn([this.configKey(key)], value));
    const { spawn } = await import("child_process");
    await new Promise<void>((resolve, reject) => {
      const args = ["config", "set", key, "--secret", "--non-interactive"];
      const child = spawn("pulumi", args, { env: this.env, cwd: this.dir, stdio: ["pipe", "ignore", "pipe"] });
      let err = "";
      child.stderr.on("data", (b: Buffer) => (err += b.toString()));
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`pulumi config set ${key}: ${err}`))));
      child.stdin.end(value);
    });
  }

  /** Removes a plain or secret value from the stack's config file. */
  removeConfig(key: string): void {
    this.editConfig((config) => {
      if (!config.deleteIn([this.configKey(key)])) throw new Error(`config ${key} is not set in stack ${this.name}`);
    });
  }

  private configKey(key: string): string {
    return `${PROJECT}:${key}`;
  }

  /** Edits the `config` map of Pulumi.<stack>.yaml (written by `pulumi stack init`), keeping the rest. */
  private editConfig(edit: (config: YAMLMap) => void): void {
    const file = path.join(this.dir, `Pulumi.${this.name}.yaml`);
    const doc = parseDocument(fs.readFileSync(file, "utf8"));
    if (!doc.has("config")) doc.set("config", doc.createNode({}));
    edit(doc.get("config") as YAMLMap);
    fs.writeFileSync(file, doc.toString());
  }

  preview(...args: string[]): Promise<CommandResult> {
    return this.pulumi("preview", "--diff", ...args);
  }

  up(...args: string[]): Promise<CommandResult> {
    return this.pulumi("up", "--yes", "--skip-preview", ...args);
  }

  /**
   * Steps of `pulumi preview --json`, as op, type and name, and for a step the provider diffed,
   * the property paths it changes (`changed`: the keys of its detailedDiff; none for an update
   * the engine makes only to await a resource again, its initErrors).
   */
  async previewSteps(): Promise<Array<{ op: string; type: string; name: string; changed?: string[] }>> {
    const result = await this.pulumi("preview", "--json");
    if (result.code !== 0) throw new Error(`pulumi preview --json failed:\n${result.output}`);
    const json = JSON.parse(result.output.slice(result.output.indexOf("{"))) as {
      steps?: Array<{ op: string; urn: string; detailedDiff?: Record<string, unknown> | null }>;
    };
    return (json.steps ?? []).map((s) => {
      const parts = s.urn.split("::");
      const step = { op: s.op, type: parts[2].split("$").pop() ?? "", name: parts[3] };
      return s.detailedDiff ? { ...step, changed: Object.keys(s.detailedDiff).sort() } : step;
    });
  }

  /**
   * The stack's outputs as its state records them: the file backend's checkpoint, which
   * `pulumi stack output --json` prints (a secret as "[secret]", as there). Read directly: each
   * CLI start is 0.5 s of CPU here, and the suites read outputs 15 times.
   */
  async outputs(): Promise<Record<string, unknown>> {
    const stack = (await this.resources()).find((r) => r.type === "pulumi:pulumi:Stack");
    return hideSecrets(stack?.outputs ?? {}) as Record<string, unknown>;
  }

  /**
   * The resources the state records, read as outputs() is: each with its outputs (secrets
   * still encrypted) and, for one whose last create or update did not finish initializing (a
   * Deployment whose rollout failed), the engine's initErrors, which make the next `up` update
   * it again even when nothing changed.
   */
  async resources(): Promise<StateResource[]> {
    const backend = this.env.PULUMI_BACKEND_URL.replace(/^file:\/\//, "");
    const file = path.join(backend, ".pulumi", "stacks", PROJECT, `${this.name}.json`);
    const { checkpoint } = JSON.parse(await fs.promises.readFile(file, "utf8")) as {
      checkpoint: { latest?: { resources?: StateResource[] } };
    };
    return checkpoint.latest?.resources ?? [];
  }

  /**
   * Every file the file backend holds (checkpoints, their backups and history), as text: what
   * "no secret in the state" is checked against, as someone who can read the state would see it.
   * Read directly, as outputs() is, and more than `pulumi stack export` prints (the latest
   * checkpoint only).
   */
  async stateFiles(): Promise<string> {
    const backend = this.env.PULUMI_BACKEND_URL.replace(/^file:\/\//, "");
    const files = (await fs.promises.readdir(backend, { recursive: true, withFileTypes: true })).filter((f) =>
      f.isFile(),
    );
    const texts = await Promise.all(files.map((f) => fs.promises.readFile(path.join(f.parentPath, f.name), "utf8")));
    if (!texts.some((t) => t.includes('"checkpoint"'))) throw new Error(`no checkpoint under ${backend}`);
    return texts.join("\n");
  }

  /** `name` may be in a folder of migrations/ (contract/...): that folder is re-hashed. */
  writeMigration(name: string, text: string, rehash = true): void {
    const file = path.join(this.migrationsDir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    if (rehash) writeSumFile(path.dirname(file));
  }

  rehash(): void {
    writeSumFile(this.migrationsDir);
  }

  /**
   * Deletes this copy of the project and its backend, not what its stack created: each test
   * deletes its own namespace (and any cluster-wide object), which the cluster finishes on its
   * own, where `pulumi destroy` would wait on every deletion. A shared backend (`backendDir`)
   * belongs to the test that made it.
   */
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** `pulumi destroy`, waiting on every deletion, then remove(): for a namespace whose name is
   * used again right away (the benchmarks'). The namespace itself stays (the program never
   * deletes one), emptied of the stack's objects. */
  async destroy(): Promise<void> {
    await this.must("destroy", "--yes", "--skip-preview");
    this.remove();
  }
}
