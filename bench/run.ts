/**
 * Benchmarks, side by side in one run on this machine (npm run bench; the test bed must be
 * up, scripts/bench.sh starts it). Prints a markdown table; docs/performance.md quotes it.
 *
 *   1. the migrations:* commands vs Atlas's (check vs `atlas migrate validate`, hash vs
 *      `atlas migrate hash`) as processes, on the repository's directory, 1,000 and 10,000
 *      files; the same work in process as separate rows
 *   2. no-op `pulumi up`: the full stack (compiled, bin/) vs a reference stack wired the
 *      plain way and run the default way (TypeScript compiled at every run)
 *   3. `pulumi preview`: the same two stacks
 *   4. gate latency: Job completion to the new ReplicaSet's creation
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadMigrationDir, writeSumFile } from "../lib/migration/dir";
import { kubeClient, KubeObject } from "../testbed/kube";
import { createDatabase } from "../testbed/pg";
import { TestStack } from "../testbed/stack";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const rows: string[][] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const ROOT = path.join(__dirname, "..");
const COMMAND_RUNS = Number(process.env.BENCH_COMMAND_RUNS ?? 11);

/** A folder of `count` generated migrations, hashed by our code. */
function generatedDir(count: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-sum-"));
  for (let i = 0; i < count; i++) {
    const version = String(20200101000000 + i * 37);
    fs.writeFileSync(
      path.join(dir, `${version}_m${i}.sql`),
      `-- migration ${i}\nCREATE TABLE t${i} (id text PRIMARY KEY, v text);\nCREATE INDEX idx_t${i}_v ON t${i} (v);\n`,
    );
  }
  writeSumFile(dir);
  return dir;
}

/** A copy of the repository's migrations (hash rewrites atlas.sum). */
function repositoryDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-repo-"));
  fs.cpSync(path.join(ROOT, "migrations"), dir, { recursive: true });
  return dir;
}

const ratio = (ours: number[], theirs: number[]) => (median(ours) / median(theirs)).toFixed(2);

/**
 * The migrations:* commands against Atlas's, whole process against whole process (what
 * `npm run migrations:check` runs, `bash scripts/migrations.sh check`, against the atlas
 * binary), alternating, median of COMMAND_RUNS; then the same work in this process.
 */
async function benchMigrationCommands(): Promise<void> {
  const atlas = path.join(process.env.TOOLS_BIN ?? "", "atlas");
  const ourCommand = (dir: string, command: string) => () =>
    execFileSync("bash", [path.join(ROOT, "scripts/migrations.sh"), command], {
      env: { ...process.env, MIGRATIONS_DIR: dir },
      stdio: "ignore",
    });
  const atlasCommand = (dir: string, command: string) => () =>
    execFileSync(atlas, ["migrate", command, "--dir", `file://${dir}`], { stdio: "ignore" });
  const repo = repositoryDir();
  const sets: Array<[string, string]> = [
    [`the repository's directory (${fs.readdirSync(repo).filter((n) => n.endsWith(".sql")).length} files)`, repo],
    ["1,000 files", generatedDir(1_000)],
    ["10,000 files", generatedDir(10_000)],
  ];
  const inProcess: string[][] = [];
  for (const [label, dir] of sets) {
    for (const [ours, theirs] of [
      ["check", "validate"],
      ["hash", "hash"],
    ]) {
      const times = { ours: [] as number[], theirs: [] as number[], inProcess: [] as number[] };
      for (let r = 0; r < COMMAND_RUNS; r++) {
        times.theirs.push(await timed(atlasCommand(dir, theirs)));
        times.ours.push(await timed(ourCommand(dir, ours)));
        times.inProcess.push(await timed(() => (ours === "check" ? loadMigrationDir(dir) : writeSumFile(dir))));
      }
      rows.push([
        `\`migrations:${ours}\` vs \`atlas migrate ${theirs}\`, ${label}, process vs process`,
        `${seconds(median(times.ours))} s`,
        `${seconds(median(times.theirs))} s`,
        ratio(times.ours, times.theirs),
        "≤ 3.00",
      ]);
      inProcess.push([
        `${ours === "check" ? "verify (`loadMigrationDir`)" : "hash (`writeSumFile`)"}, ${label}, in this process vs the \`atlas migrate ${theirs}\` process`,
        `${seconds(median(times.inProcess))} s`,
        `${seconds(median(times.theirs))} s`,
        ratio(times.inProcess, times.theirs),
        "",
      ]);
    }
    // Same bytes, or the timing means nothing: ours wrote atlas.sum last; Atlas writes it again.
    const text = fs.readFileSync(path.join(dir, "atlas.sum"), "utf8");
    execFileSync(atlas, ["migrate", "hash", "--dir", `file://${dir}`]);
    if (text !== fs.readFileSync(path.join(dir, "atlas.sum"), "utf8"))
      throw new Error(`our atlas.sum differs from Atlas's (${label})`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  rows.push(...inProcess);
  // What a user types, npm's own start-up included (no Atlas equivalent).
  const npm: number[] = [];
  for (let r = 0; r < 5; r++)
    npm.push(
      await timed(() => execFileSync("npm", ["run", "--silent", "migrations:check"], { cwd: ROOT, stdio: "ignore" })),
    );
  rows.push(["`npm run migrations:check` (npm's start-up included)", `${seconds(median(npm))} s`, "", "", ""]);
}

async function benchPulumi(): Promise<void> {
  const kube = kubeClient();
  const [dbFull, dbRef] = [await createDatabase("bench_full"), await createDatabase("bench_ref")];
  const full = await TestStack.create("full", { namespace: "bench-full", replicas: "2" }, dbFull.url);
  const ref = await TestStack.create(
    "reference",
    { namespace: "bench-ref", replicas: "2" },
    dbRef.url,
    // Run the default way: Pulumi compiles and type-checks it at every run.
    { program: path.join(__dirname, "reference.ts") },
  );
  try {
    for (const s of [full, ref]) {
      const up = await s.up();
      if (up.code !== 0) throw new Error(`first up of ${s.name} failed:\n${up.output}`);
    }
    const migrationPods = async () =>
      (
        await kube.list<KubeObject>(
          "/api/v1/namespaces/bench-full/pods?labelSelector=app.kubernetes.io/component%3Dmigration",
        )
      ).items.length;
    const podsBefore = await migrationPods();
    const upTimes = { full: [] as number[], ref: [] as number[] };
    const previewTimes = { full: [] as number[], ref: [] as number[] };
    for (let r = 0; r < RUNS; r++) {
      upTimes.ref.push(await timed(() => ref.up()));
      upTimes.full.push(await timed(() => full.up()));
      previewTimes.ref.push(await timed(() => ref.preview()));
      previewTimes.full.push(await timed(() => full.preview()));
    }
    const podsStarted = (await migrationPods()) - podsBefore;
    rows.push([
      "no-op `pulumi up`, full stack vs reference stack",
      `${seconds(median(upTimes.full))} s`,
      `${seconds(median(upTimes.ref))} s`,
      (median(upTimes.full) / median(upTimes.ref)).toFixed(2),
      "≤ 0.90",
    ]);
    rows.push(["migration pods started by the no-op `up`s", String(podsStarted), "", "", "0"]);
    rows.push([
      "`pulumi preview`, full stack vs reference stack",
      `${seconds(median(previewTimes.full))} s`,
      `${seconds(median(previewTimes.ref))} s`,
      (median(previewTimes.full) / median(previewTimes.ref)).toFixed(2),
      "≤ 0.90",
    ]);

    // Gate latency, observed from outside by polling the API server every 50 ms.
    full.writeMigration("20990101000000_bench.sql", "CREATE TABLE bench_latency (id text);\n");
    const seenRs = new Set(
      (await kube.list<KubeObject>("/apis/apps/v1/namespaces/bench-full/replicasets")).items.map((r) => r.metadata.uid),
    );
    const seenJobs = new Set(
      (await kube.list<KubeObject>("/apis/batch/v1/namespaces/bench-full/jobs")).items.map((j) => j.metadata.uid),
    );
    let jobDone: number | undefined;
    let rsNew: number | undefined;
    let polling = true;
    const poll = (async () => {
      while (polling && (jobDone === undefined || rsNew === undefined)) {
        const now = Date.now();
        const jobs = await kube.list<KubeObject & { status?: { succeeded?: number } }>(
          "/apis/batch/v1/namespaces/bench-full/jobs",
        );
        const succeeded = jobs.items.filter((j) => !seenJobs.has(j.metadata.uid) && (j.status?.succeeded ?? 0) > 0);
        if (jobDone === undefined && succeeded.length > 0) jobDone = now;
        const rss = await kube.list<KubeObject>("/apis/apps/v1/namespaces/bench-full/replicasets");
        if (rsNew === undefined && rss.items.some((r) => !seenRs.has(r.metadata.uid))) rsNew = now;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const up = await full.up();
    polling = false;
    await poll;
    if (up.code !== 0) throw new Error(`up with a new migration failed:\n${up.output}`);
    rows.push([
      "gate latency: Job complete → new ReplicaSet created (polled every 50 ms)",
      jobDone && rsNew ? `${seconds(rsNew - jobDone)} s` : "not observed",
      "",
      "",
      "≤ 2 s",
    ]);
  } finally {
    await full.destroy();
    await ref.destroy();
    await dbFull.drop();
    await dbRef.drop();
    kube.close();
  }
}

async function main() {
  await benchMigrationCommands();
  if (process.argv.includes("--commands-only")) return;
  await benchPulumi();
}

main()
  .then(() => {
    const table = [
      `Benchmarks (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, median of ${RUNS} for pulumi, ${COMMAND_RUNS} for the commands)`,
      "",
      "| measure | ours | reference | ratio | target |",
      "| --- | --- | --- | --- | --- |",
      ...rows.map((r) => `| ${r.join(" | ")} |`),
    ].join("\n");
    console.log(table);
    fs.mkdirSync(path.join(__dirname, "results"), { recursive: true });
    fs.writeFileSync(path.join(__dirname, "results", "latest.md"), `${table}\n`);
  })
  .catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
