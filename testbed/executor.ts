/**
 * The test bed's executor: a stand-in kubelet for Job pods, and for nothing else.
 *
 * The local cluster (scripts/cluster.sh) has no kubelet and no container runtime. kwok makes
 * ordinary pods (a Deployment's) look Running and Ready without running anything, and leaves
 * the pods owned by a Job alone (testbed/kwok-stages.yaml). This program runs those Job pods
 * on THIS machine as containers, so that a migration Job really migrates the local PostgreSQL
 * under the same rules as in a cluster. Its parts:
 *
 *   - testbed/images.ts   the image table: which image references exist (exact tag/digest),
 *                         and how each image is laid out (files, user, entrypoint, env);
 *   - testbed/volumes.ts  env (envFrom, env, $(VAR)) and volumes (configMap, secret,
 *                         emptyDir) as the kubelet assembles them;
 *   - testbed/sandbox.ts  the container: bubblewrap with the image's root filesystem, volumes at
 *                         their mount paths, the securityContext's user, groups, capabilities;
 *   - testbed/status.ts   the pod status it writes;
 *   - this file           the pod lifecycle: pick up scheduled Pending Job pods (watch the
 *                         pods that carry the Job controller's label, list them again on each
 *                         change, when a retry falls due, and every 10 s, EXECUTOR_RESYNC_MS),
 *                         pull / configure / start, report, stop on deadline or deletion,
 *                         finalize deletion.
 *
 * The kubelet's order is kept: volumes (a missing ConfigMap/Secret keeps the pod in
 * ContainerCreating), image pull (an image not in the table: ErrImagePull, then
 * ImagePullBackOff with the kubelet's back-off, pod Pending), container config (env,
 * runAsNonRoot: CreateContainerConfigError, pod Pending), then start (an executable that is not
 * in the image: StartError, exit code 128, pod Failed).
 *
 * Output: stdout and stderr go, combined, to $CLUSTER_DIR/pod-logs/<namespace>_<pod>.log.
 * Status: Running when the process starts; on exit Succeeded/Failed with the terminated state
 * (exitCode, reason Completed/Error, termination message). restartPolicy OnFailure restarts in
 * the same pod after 1 s, 2 s, 4 s ... (capped at 10 s; the kubelet starts at 10 s). The pod's
 * activeDeadlineSeconds stops it (DeadlineExceeded). A pod that gets a deletionTimestamp has its
 * container sent SIGTERM, then SIGKILL after the grace period, and is then deleted for good
 * (gracePeriodSeconds=0), since no kubelet will. A pod left Running by a previous executor is
 * marked Failed.
 *
 * Run: bash scripts/node.sh testbed/executor.ts (scripts/cluster.sh starts it, as root, with
 * its output in $CLUSTER_DIR/logs/executor.log). Needs CLUSTER_DIR and TOOLS_BIN
 * (scripts/env.sh) and KUBECONFIG (else $CLUSTER_DIR/kubeconfig).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { imageTable, type LocalImage } from "./images";
import {
  KubeError,
  kubeClient,
  sleep,
  type ConfigMap,
  type ContainerState,
  type KubeClient,
  type Pod,
  type PodStatus,
  type Secret,
  type Watch,
} from "./kube";
import { prepareContainer, reachableByAnyone, type PreparedContainer } from "./sandbox";
import {
  MAX_TERMINATION_MESSAGE_BYTES,
  containerStatus as buildContainerStatus,
  podConditions,
  terminationMessage,
} from "./status";
import { StartProblem, type FetchData } from "./volumes";

/** With no change to a Job pod and no retry due, the pods are listed again after this long. */
const RESYNC_MS = Number(process.env.EXECUTOR_RESYNC_MS ?? 10_000);
/** While the API server cannot be reached or a watch fails, it is tried again after this long. */
const UNREACHABLE_RETRY_MS = 1_000;
const CONFIG_RETRY_MS = 2_000;
/** The kubelet's image pull back-off: 10 s doubling, at most 300 s. */
const PULL_BACKOFF_MS = { first: 10_000, max: 300_000 };
const KEEP_WORK = process.env.EXECUTOR_KEEP_WORK === "1";
let POD_LOG_DIR = "";
let WORK_ROOT = "";
let STAGE_DIR = "";
let IMAGES: LocalImage[] = [];

function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`[executor] ${name} is not set: start me through scripts/cluster.sh (or source scripts/env.sh)`);
    process.exit(2);
  }
  return v;
}

function log(pod: Pod | string, message: string): void {
  const who = typeof pod === "string" ? pod : `${pod.metadata.namespace}/${pod.metadata.name}`;
  console.log(`[executor ${new Date().toISOString().slice(11, 23)}] ${who}: ${message}`);
}

interface Run {
  pod: Pod;
  state: "waiting" | "running" | "restarting" | "done";
  workDir: string;
  logFile: string;
  /** Byte offset of the current attempt's output in logFile. */
  logOffset: number;
  retryAt: number;
  lastWaiting?: string;
  pullFailures: number;
  child?: ChildProcess;
  prepared?: PreparedContainer;
  startTime?: string;
  startedAt?: string;
  restartCount: number;
  lastState?: ContainerState;
  /** Why we are killing the process, if we are. */
  stopping?: { reason: "DeadlineExceeded" | "Deleted" | "Shutdown"; killTimer?: NodeJS.Timeout };
  deadlineTimer?: NodeJS.Timeout;
  /** Status patches for this pod, in order. */
  queue: Promise<void>;
  deleteIssued: boolean;
}

const runs = new Map<string, Run>();
let kube: KubeClient;
let shuttingDown = false;

function podPath(pod: Pod): string {
  return `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`;
}

/** The label the Job controller puts on every pod it creates (Kubernetes 1.27+). */
const JOB_POD_LABEL = "batch.kubernetes.io/controller-uid";
/** Only the pods the Job controller made: a Deployment's pods, which kwok runs, are most pods. */
const JOB_PODS = `/api/v1/pods?labelSelector=${encodeURIComponent(JOB_POD_LABEL)}`;

function isJobPod(pod: Pod): boolean {
  return (pod.metadata.ownerReferences ?? []).some((o) => o.kind === "Job" && o.apiVersion.startsWith("batch/"));
}

function containerID(run: Run): string {
  return `testbed://${run.child?.pid ?? 0}`;
}

function containerStatus(run: Run, state: ContainerState, ready: boolean) {
  return buildContainerStatus(
    run.pod.spec.containers[0],
    state,
    ready,
    run.restartCount,
    run.child ? containerID(run) : undefined,
    run.lastState,
  );
}

function enqueue(run: Run, what: string, work: () => Promise<unknown>): void {
  run.queue = run.queue.then(async () => {
    try {
      await work();
    } catch (e) {
      if (e instanceof KubeError && (e.status === 404 || e.status === 409)) return; // pod gone / changed
      log(run.pod, `${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

function patchStatus(run: Run, status: PodStatus, what: string): void {
  enqueue(run, what, () =>
    kube.patch(`${podPath(run.pod)}/status`, { metadata: { uid: run.pod.metadata.uid }, status }, "strategic"),
  );
}

function fetcher(pod: Pod): FetchData {
  const ns = pod.metadata.namespace as string;
  return async (kind, name) => {
    if (kind === "ConfigMap") {
      const cm = await kube.tryGet<ConfigMap>(`/api/v1/namespaces/${ns}/configmaps/${name}`);
      if (!cm) return undefined;
      const out: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(v, "utf8");
      for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, "base64");
      return out;
    }
    const secret = await kube.tryGet<Secret>(`/api/v1/namespaces/${ns}/secrets/${name}`);
    if (!secret) return undefined;
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, "base64");
    return out;
  };
}

/** An image the table does not have: ErrImagePull now, ImagePullBackOff until the next try. */
function reportPullFailure(run: Run, image: string, error: string): void {
  const backoff = Math.min(PULL_BACKOFF_MS.max, PULL_BACKOFF_MS.first * 2 ** run.pullFailures);
  run.pullFailures++;
  run.state = "waiting";
  run.retryAt = Date.now() + backoff;
  if (run.pullFailures === 1) log(run.pod, `image pull failed: ${error}`);
  const waiting = (reason: string, message: string) =>
    patchStatus(
      run,
      { phase: "Pending", containerStatuses: [containerStatus(run, { waiting: { reason, message } }, false)] },
      `reporting ${reason}`,
    );
  waiting("ErrImagePull", `rpc error: code = NotFound desc = ${error}`);
  setTimeout(() => {
    if (run.state === "waiting" && !run.pod.metadata.deletionTimestamp && !shuttingDown) {
      waiting("ImagePullBackOff", `Back-off pulling image "${image}"`);
    }
  }, 1000);
}

async function prepare(run: Run): Promise<PreparedContainer | "pull-failed"> {
  const prepared = await prepareContainer(run.pod, run.workDir, fetcher(run.pod), IMAGES, STAGE_DIR);
  if ("pullError" in prepared) {
    reportPullFailure(run, run.pod.spec.containers[0].image ?? "", prepared.pullError);
    return "pull-failed";
  }
  return prepared;
}

/** Marks the pod terminal without having run anything (or after losing the process). */
function failWithoutRunning(run: Run, reason: string, message: string): void {
  const now = new Date().toISOString();
  run.state = "done";
  log(run.pod, `failed: ${reason}: ${message}`);
  const c = run.pod.spec.containers[0];
  patchStatus(
    run,
    {
      phase: "Failed",
      startTime: run.pod.status?.startTime ?? now,
      conditions: podConditions(false, "PodFailed"),
      containerStatuses: c
        ? [
            containerStatus(
              run,
              {
                terminated: {
                  exitCode: 128,
                  reason,
                  message: message.slice(0, MAX_TERMINATION_MESSAGE_BYTES),
                  startedAt: run.pod.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? now,
                  finishedAt: now,
                },
              },
              false,
            ),
          ]
        : [],
    },
    "marking Failed",
  );
}

async function tryStart(run: Run): Promise<void> {
  let prepared: PreparedContainer | "pull-failed";
  try {
    prepared = await prepare(run);
  } catch (e) {
    if (!(e instanceof StartProblem)) throw e;
    // The kubelet keeps a pod Pending while volumes or the container config cannot be made
    // (ContainerCreating, CreateContainerConfigError), and retries.
    if (e.retry || e.reason === "CreateContainerConfigError" || e.reason === "CreateContainerError") {
      run.state = "waiting";
      run.retryAt = Date.now() + CONFIG_RETRY_MS;
      if (run.lastWaiting !== e.message) {
        run.lastWaiting = e.message;
        log(run.pod, `waiting: ${e.reason}: ${e.message}`);
        patchStatus(
          run,
          {
            phase: "Pending",
            containerStatuses: [containerStatus(run, { waiting: { reason: e.reason, message: e.message } }, false)],
          },
          "reporting waiting",
        );
      }
      return;
    }
    failWithoutRunning(run, e.reason, e.message);
    return;
  }
  if (prepared === "pull-failed") return;
  if (run.pod.metadata.deletionTimestamp || shuttingDown) return;
  launch(run, prepared);
}

function launch(run: Run, prepared: PreparedContainer): void {
  const pod = run.pod;
  fs.mkdirSync(POD_LOG_DIR, { recursive: true });
  fs.writeFileSync(prepared.terminationLog, "");
  const fd = fs.openSync(run.logFile, "a");
  run.logOffset = fs.fstatSync(fd).size;
  run.prepared = prepared;
  const now = new Date().toISOString();
  run.startTime ??= pod.status?.startTime ?? now;
  run.startedAt = now;
  run.state = "running";
  let child: ChildProcess;
  try {
    // Its own process group: a stop signals the container's processes, not the executor.
    child = spawn(prepared.file, prepared.args, {
      cwd: "/",
      env: prepared.env,
      stdio: ["ignore", fd, fd],
      detached: true,
    });
  } finally {
    fs.closeSync(fd);
  }
  run.child = child;
  let spawnError: Error | undefined;
  let exited = false;
  const exit = (code: number | null, signal: NodeJS.Signals | null) => {
    if (exited) return;
    exited = true;
    onExit(run, code, signal, spawnError);
  };
  child.on("error", (err) => {
    spawnError = err;
    if (child.pid === undefined) exit(null, null); // never started: no "close" will follow
  });
  child.on("close", exit);
  log(pod, `started pid ${child.pid ?? "?"}: ${prepared.argv.join(" ")}`);
  patchStatus(
    run,
    {
      phase: "Running",
      startTime: run.startTime,
      conditions: podConditions(true),
      containerStatuses: [containerStatus(run, { running: { startedAt: now } }, true)],
    },
    "reporting Running",
  );
  const deadline = pod.spec.activeDeadlineSeconds;
  if (deadline !== undefined && run.deadlineTimer === undefined) {
    const remaining = Date.parse(run.startTime) + deadline * 1000 - Date.now();
    run.deadlineTimer = setTimeout(
      () => {
        if (run.state === "running" || run.state === "restarting") {
          log(pod, `activeDeadlineSeconds (${deadline}) exceeded: stopping`);
          stop(run, "DeadlineExceeded", pod.spec.terminationGracePeriodSeconds ?? 30);
        }
      },
      Math.max(0, remaining),
    );
  }
}

function signalContainer(run: Run, signal: NodeJS.Signals): void {
  const pid = run.child?.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    run.child?.kill(signal);
  }
}

/** SIGTERM now, SIGKILL after graceSeconds. */
function stop(run: Run, reason: "DeadlineExceeded" | "Deleted" | "Shutdown", graceSeconds: number): void {
  if (run.stopping) return;
  run.stopping = { reason };
  if (run.state === "restarting" || !run.child || run.child.exitCode !== null || run.child.signalCode !== null) {
    // Nothing is running (between restarts): settle now with the last exit.
    finish(run, run.lastState?.terminated);
    return;
  }
  signalContainer(run, "SIGTERM");
  run.stopping.killTimer = setTimeout(() => {
    log(run.pod, `grace period (${graceSeconds} s) over: SIGKILL`);
    signalContainer(run, "SIGKILL");
  }, graceSeconds * 1000);
}

function onExit(run: Run, code: number | null, signal: NodeJS.Signals | null, spawnError: Error | undefined): void {
  const finishedAt = new Date().toISOString();
  const exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 128);
  if (run.stopping?.killTimer) clearTimeout(run.stopping.killTimer);
  const c = run.pod.spec.containers[0];
  const message = spawnError
    ? `failed to start the sandbox (${run.prepared?.file}): ${spawnError.message}`
    : terminationMessage(c, exitCode, run.prepared?.terminationLog ?? "", run.logFile, run.logOffset);
  const terminated = {
    exitCode,
    ...(signal ? { signal: os.constants.signals[signal] } : {}),
    reason: spawnError ? "StartError" : exitCode === 0 ? "Completed" : "Error",
    startedAt: run.startedAt,
    finishedAt,
    containerID: containerID(run),
    ...(message !== "" ? { message } : {}),
  };
  log(
    run.pod,
    `exited with code ${exitCode}${signal ? ` (${signal})` : ""}${run.stopping ? ` after stop (${run.stopping.reason})` : ""}`,
  );

  if (!run.stopping && exitCode !== 0 && run.pod.spec.restartPolicy === "OnFailure" && !shuttingDown) {
    run.lastState = { terminated };
    run.state = "restarting";
    const backoff = Math.min(10_000, 1000 * 2 ** run.restartCount);
    run.restartCount++;
    patchStatus(
      run,
      {
        phase: "Running",
        conditions: podConditions(false, "ContainersNotReady"),
        containerStatuses: [
          containerStatus(
            run,
            {
              waiting: {
                reason: "CrashLoopBackOff",
                message: `back-off ${backoff / 1000}s restarting failed container`,
              },
            },
            false,
          ),
        ],
      },
      "reporting CrashLoopBackOff",
    );
    log(run.pod, `restart ${run.restartCount} in ${backoff / 1000} s (restartPolicy OnFailure)`);
    setTimeout(() => {
      if (run.state !== "restarting" || run.stopping || shuttingDown) return;
      if (run.prepared) launch(run, run.prepared);
    }, backoff);
    return;
  }
  finish(run, terminated);
}

/** Reports the terminal status, then cleans up (and deletes the pod if it is being deleted). */
function finish(run: Run, terminated: ContainerState["terminated"] | undefined): void {
  if (run.state === "done") return;
  run.state = "done";
  if (run.deadlineTimer) clearTimeout(run.deadlineTimer);
  const now = new Date().toISOString();
  const term = terminated ?? { exitCode: 137, reason: "Error", startedAt: run.startedAt ?? now, finishedAt: now };
  const deadline = run.stopping?.reason === "DeadlineExceeded";
  if (!shuttingDown) {
    patchStatus(
      run,
      {
        phase: term.exitCode === 0 && !deadline ? "Succeeded" : "Failed",
        ...(deadline
          ? { reason: "DeadlineExceeded", message: "Pod was active on the node longer than the specified deadline" }
          : {}),
        startTime: run.startTime ?? now,
        conditions: podConditions(false, "PodCompleted"),
        containerStatuses: [containerStatus(run, { terminated: term }, false)],
      },
      "reporting termination",
    );
    if (run.stopping?.reason === "Deleted") enqueue(run, "deleting", () => finalizeDeletion(run));
  }
  if (!KEEP_WORK) enqueue(run, "cleaning up", async () => fs.rmSync(run.workDir, { recursive: true, force: true }));
}

async function finalizeDeletion(run: Run): Promise<void> {
  if (run.deleteIssued) return;
  run.deleteIssued = true;
  log(run.pod, "deleting for good (gracePeriodSeconds=0)");
  await kube.delete(podPath(run.pod), { gracePeriodSeconds: 0, preconditions: { uid: run.pod.metadata.uid } });
}

function newRun(pod: Pod): Run {
  const base = `${pod.metadata.namespace}_${pod.metadata.name}`;
  return {
    pod,
    state: "waiting",
    workDir: path.join(WORK_ROOT, base),
    logFile: path.join(POD_LOG_DIR, `${base}.log`),
    logOffset: 0,
    retryAt: 0,
    pullFailures: 0,
    restartCount: 0,
    queue: Promise.resolve(),
    deleteIssued: false,
  };
}

async function handle(pod: Pod): Promise<void> {
  const uid = pod.metadata.uid as string;
  let run = runs.get(uid);
  if (run) run.pod = pod;

  if (pod.metadata.deletionTimestamp) {
    if (run && (run.state === "running" || run.state === "restarting")) {
      if (!run.stopping) {
        const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
        log(pod, `being deleted: stopping (grace ${grace} s)`);
        stop(run, "Deleted", grace);
      }
      return;
    }
    if (pod.metadata.deletionGracePeriodSeconds === 0) return; // deleted for good, waiting for finalizers
    if (!run) {
      run = newRun(pod);
      runs.set(uid, run);
    }
    run.state = "done";
    if (!KEEP_WORK) fs.rmSync(run.workDir, { recursive: true, force: true });
    enqueue(run, "deleting", () => finalizeDeletion(run as Run));
    return;
  }

  if (!pod.spec.nodeName) return;
  const phase = pod.status?.phase ?? "Pending";
  if (!run) {
    if (phase === "Running") {
      run = newRun(pod);
      runs.set(uid, run);
      failWithoutRunning(run, "ContainerStatusUnknown", "the test-bed executor restarted and lost this pod's process");
      return;
    }
    if (phase !== "Pending") return;
    run = newRun(pod);
    runs.set(uid, run);
  }
  if (run.state === "waiting" && Date.now() >= run.retryAt && phase === "Pending") {
    run.retryAt = Number.MAX_SAFE_INTEGER; // until tryStart decides
    await tryStart(run);
  }
}

/** Lists the Job pods and acts on each; returns the list's resourceVersion, to watch from. */
async function tick(): Promise<string> {
  const list = await kube.list<Pod>(`${JOB_PODS}&resourceVersion=0`);
  const seen = new Set<string>();
  for (const pod of list.items) {
    if (!isJobPod(pod) || !pod.metadata.uid) continue;
    seen.add(pod.metadata.uid);
    try {
      await handle(pod);
    } catch (e) {
      log(pod, `error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }
  for (const [uid, run] of runs) {
    if (seen.has(uid)) continue;
    if (run.state === "running" || run.state === "restarting") {
      // Deleted behind our back (force delete): nobody to report to, just stop.
      if (!run.stopping) {
        log(run.pod, "pod is gone: stopping its process");
        run.deleteIssued = true;
        stop(run, "Deleted", 2);
      }
      continue;
    }
    runs.delete(uid);
  }
  return list.metadata.resourceVersion ?? "0";
}

/**
 * How long the loop may sleep after a list: until the first retry of a waiting pod falls due
 * (a volume or config problem, an image pull back-off), at most `resyncMs`, at least 50 ms.
 */
export function sleepMs(retryAts: number[], now: number, resyncMs: number): number {
  return Math.max(50, Math.min(resyncMs, ...retryAts.map((at) => at - now)));
}

/** Resolves after `ms`, or as soon as wake() is called (at once if it was called since reset). */
function wakeable(): { sleep(ms: number): Promise<void>; wake(): void; reset(): void } {
  let woken = false;
  let resolveSleep: (() => void) | undefined;
  return {
    sleep: (ms) =>
      woken
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(done, ms);
            function done(): void {
              clearTimeout(timer);
              resolveSleep = undefined;
              resolve();
            }
            resolveSleep = done;
          }),
    wake: () => {
      woken = true;
      resolveSleep?.();
    },
    reset: () => (woken = false),
  };
}

async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log("executor", `${signal}: stopping ${[...runs.values()].filter((r) => r.state === "running").length} process(es)`);
  for (const run of runs.values()) if (run.state === "running" || run.state === "restarting") stop(run, "Shutdown", 5);
  const deadline = Date.now() + 7_000;
  while (
    Date.now() < deadline &&
    [...runs.values()].some((r) => r.child && r.child.exitCode === null && r.child.signalCode === null)
  ) {
    await sleep(100);
  }
  kube.close();
  process.exit(0);
}

async function main(): Promise<void> {
  const clusterDir = requiredEnv("CLUSTER_DIR");
  const root = path.resolve(__dirname, "..");
  IMAGES = imageTable(requiredEnv("TOOLS_BIN"), path.join(root, "tools", "versions.env"));
  POD_LOG_DIR = path.join(clusterDir, "pod-logs");
  // Pods' layers and volumes must be reachable by a non-root container's uid: a checkout
  // under a private folder (e.g. /root) gets them in a world-traversable temporary folder.
  let sandboxRoot = clusterDir;
  if (!reachableByAnyone(path.join(clusterDir, "x"))) {
    const hash = createHash("sha256").update(clusterDir).digest("hex").slice(0, 12);
    sandboxRoot = path.join(os.tmpdir(), `developers-italia-testbed-${hash}`);
    fs.mkdirSync(sandboxRoot, { recursive: true, mode: 0o755 });
    fs.chmodSync(sandboxRoot, 0o755);
    log("executor", `${clusterDir} is not reachable by other users: pods' files go to ${sandboxRoot}`);
  }
  WORK_ROOT = path.join(sandboxRoot, "executor");
  STAGE_DIR = path.join(sandboxRoot, "images");
  kube = kubeClient();
  for (const d of [POD_LOG_DIR, WORK_ROOT]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  log(
    "executor",
    `watching Job pods on ${kube.server} (listed again every ${RESYNC_MS} ms without a change); images: ${IMAGES.flatMap(
      (i) => i.tags.map((t) => `${i.repository}:${t} (${i.files[0]?.source})`),
    ).join(", ")}`,
  );
  // Every change to a Job pod wakes the loop, which lists them all again and acts on each: the
  // watch only says when, the list says what (as a kubelet's informer resyncs).
  const changes = wakeable();
  let watch: Watch | undefined;
  let lastError = "";
  while (!shuttingDown) {
    changes.reset();
    let pause: number;
    try {
      const version = await tick();
      watch ??= kube.watch<Pod>(JOB_PODS, version, changes.wake, (e) => {
        // A second after, never at once: a watch the server keeps refusing must not turn
        // the loop into a list as fast as the API server answers.
        log("executor", `${e.message}: listing and watching again in ${UNREACHABLE_RETRY_MS} ms`);
        watch = undefined;
        setTimeout(changes.wake, UNREACHABLE_RETRY_MS);
      });
      if (lastError !== "") log("executor", "API reachable again");
      lastError = "";
      const retries = [...runs.values()].filter((r) => r.state === "waiting").map((r) => r.retryAt);
      pause = sleepMs(retries, Date.now(), RESYNC_MS);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (msg !== lastError) log("executor", `listing pods failed: ${msg}`);
      lastError = msg;
      pause = UNREACHABLE_RETRY_MS;
    }
    await changes.sleep(pause);
  }
  watch?.stop();
}

if (require.main === module) {
  void main();
}
