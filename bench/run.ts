/**
 * Benchmarks, side by side in one run on this machine (npm run bench; the test bed must be
 * up, scripts/bench.sh starts it). Prints a markdown table; README.md quotes it.
 *
 *   1. atlas.sum of 10,000 generated migration files: ours vs `atlas migrate hash`
 *   2. no-op `pulumi up`: the full stack vs a reference stack wired the plain way
 *   3. `pulumi preview`: the same two stacks
 *   4. gate latency: Job completion to the new ReplicaSet's creation
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { computeHashFile, formatHashFile } from "../lib/atlasSum";
import { loadMigrationDir } from "../lib/migrationDir";
import { kubeClient, KubeObject } from "../testbed/kube";
import { createDatabase } from "../test/support/pg";
import { TestStack } from "../test/support/stack";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const rows: string[][] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function benchSum(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-sum-"));
  for (let i = 0; i < 10_000; i++) {
    const version = String(20200101000000 + i * 37);
    fs.writeFileSync(
      path.join(dir, `${version}_m${i}.sql`),
      `-- migration ${i}\nCREATE TABLE t${i} (id text PRIMARY KEY, v text);\nCREATE INDEX idx_t${i}_v ON t${i} (v);\n`,
    );
  }
  const atlas = path.join(process.env.TOOLS_BIN ?? "", "atlas");
  const theirs: number[] = [];
  const ours: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    theirs.push(await timed(() => execFileSync(atlas, ["migrate", "hash", "--dir", `file://${dir}`])));
    ours.push(await timed(() => loadMigrationDir(dir)));
  }
  // Same bytes, or the timing means nothing.
  const names = fs.readdirSync(dir).filter((n) => n.endsWith(".sql"));
  const text = formatHashFile(
    computeHashFile(names.map((name) => ({ name, bytes: fs.readFileSync(path.join(dir, name)) }))),
  );
  if (text !== fs.readFileSync(path.join(dir, "atlas.sum"), "utf8"))
    throw new Error("our atlas.sum differs from Atlas's");
  fs.rmSync(dir, { recursive: true, force: true });
  rows.push([
    "verify atlas.sum, 10,000 files (read + hash + compare) vs `atlas migrate hash`",
    `${seconds(median(ours))} s`,
    `${seconds(median(theirs))} s`,
    (median(ours) / median(theirs)).toFixed(2),
    "≤ 1.00",
  ]);
}

async function benchPulumi(): Promise<void> {
  const kube = kubeClient();
  const [dbFull, dbRef] = [await createDatabase("bench_full"), await createDatabase("bench_ref")];
  const full = await TestStack.create("full", { namespace: "bench-full", replicas: "2" }, dbFull.url);
  const ref = await TestStack.create(
    "reference",
    { namespace: "bench-ref", replicas: "2" },
    dbRef.url,
    path.join(__dirname, "reference.ts"),
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
      "≤ 1.15",
    ]);
    rows.push(["migration pods started by the no-op `up`s", String(podsStarted), "", "", "0"]);
    rows.push([
      "`pulumi preview`, full stack vs reference stack",
      `${seconds(median(previewTimes.full))} s`,
      `${seconds(median(previewTimes.ref))} s`,
      (median(previewTimes.full) / median(previewTimes.ref)).toFixed(2),
      "≤ 1.20",
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
  await benchSum();
  if (process.argv.includes("--sum-only")) return;
  await benchPulumi();
}

main()
  .then(() => {
    const table = [
      `Benchmarks (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, median of ${RUNS})`,
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
