/**
 * The test bed's executor: a stand-in kubelet for Job pods, and for nothing else.
 *
 * The local cluster (scripts/cluster.sh) has no kubelet and no container runtime. kwok makes
 * ordinary pods (a Deployment's) look Running and Ready without running anything, and leaves
 * the pods owned by a Job alone (testbed/kwok-stages.yaml). This program gives those Job pods
 * a real life on THIS machine, so that a migration Job really migrates the local PostgreSQL:
 *
 *   - It lists pods every 250 ms (EXECUTOR_POLL_MS) and picks those owned by a Job, with
 *     spec.nodeName set (scheduled) and phase Pending.
 *   - Image mapping: the image's repository selects a local binary (IMAGES below). Only
 *     `arigaio/atlas` (any tag or digest) is mapped, to $TOOLS_BIN/atlas; the container's
 *     command[0] must be the image's entrypoint (`/atlas` or `atlas`), or absent. Any other
 *     image or command ends the pod Failed (reason StartError, exit code 128) with a
 *     termination message that says there is no local binary for it.
 *   - Environment: a minimal base (PATH, HOME and TMPDIR in the pod's work folder, HOSTNAME),
 *     then the container's envFrom and env, resolving `value`, `valueFrom.secretKeyRef`,
 *     `valueFrom.configMapKeyRef` and simple `valueFrom.fieldRef`s, with Kubernetes' `$(VAR)`
 *     expansion in env values, command and args. The offline switches named in
 *     EXECUTOR_PASS_ENV (default ATLAS_NO_UPDATE_NOTIFIER, ATLAS_NO_UPGRADE_SUGGESTIONS) are
 *     passed through from the executor's own environment when set.
 *     A missing Secret/ConfigMap (not optional) keeps the pod Pending with a waiting reason
 *     (CreateContainerConfigError / ContainerCreating), retried every 2 s, like the kubelet.
 *   - Volumes: ConfigMap (honouring `items` key→path, binaryData too), Secret and emptyDir
 *     volumes are materialised under the pod's work folder
 *     ($CLUSTER_DIR/executor/<namespace>_<pod>/volumes/<volume>). Other volume types, when
 *     mounted, fail the pod.
 *   - Mount paths are REWRITTEN, not mounted: there is no container filesystem, so every
 *     occurrence of a volumeMount's mountPath in the command, args, env values and workingDir
 *     is replaced by the folder that holds the volume (honouring subPath). An occurrence counts
 *     only on path boundaries: not preceded and not followed by [A-Za-z0-9._-]. So with a mount
 *     at /migrations, `file:///migrations` and `/migrations/1.sql` are rewritten, while
 *     `/srv/migrations` and `/migrations2` are not. Longer mount paths win. Paths that a
 *     program builds at run time, or relative paths, are not rewritten.
 *   - Termination message as the kubelet does it: the container's terminationMessagePath
 *     (default /dev/termination-log) is mapped (like a mount) onto a file in the work folder;
 *     its last 4096 bytes are the message. If it is empty, the policy is
 *     FallbackToLogsOnError and the exit code is not 0, the message is the tail of the
 *     combined stdout+stderr: the last 80 lines, at most the last 2048 bytes.
 *   - Output: stdout and stderr go, combined, to $CLUSTER_DIR/pod-logs/<namespace>_<pod>.log.
 *   - Status: Running (startTime, container running, Ready) when the process starts; on exit
 *     Succeeded/Failed with containerStatuses[0].state.terminated (exitCode, reason
 *     Completed/Error, startedAt, finishedAt, message). restartPolicy OnFailure restarts a
 *     failed process in the same pod (restartCount, lastState) after 1 s, 2 s, 4 s ... (capped at
 *     10 s; the kubelet starts at 10 s and caps at 5 min).
 *   - Deadlines and deletion: the pod's activeDeadlineSeconds (from its startTime) kills the
 *     process and fails the pod with reason DeadlineExceeded. When the pod gets a
 *     deletionTimestamp (e.g. the Job controller deletes it after the Job's
 *     activeDeadlineSeconds), the process gets SIGTERM, then SIGKILL after the grace period; the
 *     pod is marked terminal and then deleted for good (gracePeriodSeconds=0), since no kubelet
 *     will. Terminated Job pods that get a deletionTimestamp are deleted for good the same way.
 *   - A pod left Running by a previous executor (process lost) is marked Failed.
 *
 * Limits: no containers, no isolation (the process runs as this user, sees this machine's
 * network and files), one container per pod, no init containers, no probes, no resource limits.
 * Only images with a mapped local binary run. It exists for this test bed only; it is not part
 * of the product.
 *
 * Run: bash scripts/node.sh testbed/executor.ts (scripts/cluster.sh starts it and sends its
 * output to $CLUSTER_DIR/logs/executor.log). Needs CLUSTER_DIR and TOOLS_BIN (scripts/env.sh)
 * and KUBECONFIG (else $CLUSTER_DIR/kubeconfig).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  KubeError,
  kubeClient,
  sleep,
  type ConfigMap,
  type Container,
  type ContainerState,
  type ContainerStatus,
  type EnvVar,
  type KeyToPath,
  type KubeClient,
  type Pod,
  type PodStatus,
  type Secret,
} from "./kube";

// ---- configuration (read in main(), so that tests can import the pure helpers) -------------

const POLL_MS = Number(process.env.EXECUTOR_POLL_MS ?? 250);
const CONFIG_RETRY_MS = 2_000;
const KEEP_WORK = process.env.EXECUTOR_KEEP_WORK === "1";
const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PASS_ENV = (process.env.EXECUTOR_PASS_ENV ?? "ATLAS_NO_UPDATE_NOTIFIER,ATLAS_NO_UPGRADE_SUGGESTIONS")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "");
let POD_LOG_DIR = "";
let WORK_ROOT = "";

/** Kubelet limits for termination messages (pkg/kubelet/container). */
const MAX_TERMINATION_MESSAGE_BYTES = 4096;
const MAX_FALLBACK_LOG_LINES = 80;
const MAX_FALLBACK_LOG_BYTES = 2048;
const DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log";

/**
 * Image repository → local binary. `entrypoints` are the command[0] values that mean "the
 * image's binary"; an absent command means the image's entrypoint (the first one).
 */
let IMAGES: Record<string, { binary: string; entrypoints: string[] }> = {};

export function imageBinaries(toolsBin: string): Record<string, { binary: string; entrypoints: string[] }> {
  return { "arigaio/atlas": { binary: path.join(toolsBin, "atlas"), entrypoints: ["/atlas", "atlas"] } };
}

function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`[executor] ${name} is not set: start me through scripts/cluster.sh (or source scripts/env.sh)`);
    process.exit(2);
  }
  return v;
}

// ---- logging ------------------------------------------------------------------------------

function log(pod: Pod | string, message: string): void {
  const who = typeof pod === "string" ? pod : `${pod.metadata.namespace}/${pod.metadata.name}`;
  console.log(`[executor ${new Date().toISOString().slice(11, 23)}] ${who}: ${message}`);
}

// ---- pure helpers (exported for tests) ------------------------------------------------------

/** `docker.io/arigaio/atlas:0.13.1@sha256:...` → `arigaio/atlas`. */
export function imageRepository(image: string): string {
  let ref = image.split("@")[0];
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon > lastSlash) ref = ref.slice(0, colon);
  const parts = ref.split("/");
  // A first component with a dot or colon, or "localhost", is a registry host.
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost")) {
    if (parts[0] === "docker.io" || parts[0] === "index.docker.io" || parts[0] === "registry-1.docker.io") {
      parts.shift();
    } else {
      return parts.join("/");
    }
  }
  if (parts[0] === "library" && parts.length > 1) parts.shift();
  return parts.join("/");
}

/** Kubernetes' `$(VAR)` expansion: `$$` → `$`, unknown `$(VAR)` stays as written. */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== "$" || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close === -1) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += lookup(name) ?? `$(${name})`;
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

export interface PathMapping {
  /** The path inside the (imaginary) container, e.g. /migrations. */
  from: string;
  /** The folder or file on this machine. */
  to: string;
}

/** Rewrites container paths into host paths on path boundaries (see the file comment). */
export function rewritePaths(value: string, mappings: PathMapping[]): string {
  const usable = mappings.filter((m) => m.from !== "/" && m.from !== "").sort((a, b) => b.from.length - a.from.length);
  if (usable.length === 0) return value;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`(?<![A-Za-z0-9._-])(${usable.map((m) => escape(m.from)).join("|")})(?![A-Za-z0-9._-])`, "g");
  return value.replace(re, (match: string) => usable.find((m) => m.from === match)?.to ?? match);
}

/** The kubelet's FallbackToLogsOnError message: the last 80 lines, at most 2048 bytes. */
export function logTail(output: Buffer): string {
  let text = output;
  // Last 80 lines (a trailing newline does not start a line).
  let end = text.length;
  if (end > 0 && text[end - 1] === 0x0a) end--;
  let lines = 0;
  let start = end;
  while (start > 0) {
    if (text[start - 1] === 0x0a) {
      lines++;
      if (lines >= MAX_FALLBACK_LOG_LINES) break;
    }
    start--;
  }
  text = text.subarray(start);
  if (text.length > MAX_FALLBACK_LOG_BYTES) text = text.subarray(text.length - MAX_FALLBACK_LOG_BYTES);
  return text.toString("utf8");
}

// ---- the executor -------------------------------------------------------------------------

/** A problem that keeps the container from starting. `retry`: wait and try again (Pending). */
class StartProblem extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

interface Prepared {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  terminationLog: string;
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
  child?: ChildProcess;
  prepared?: Prepared;
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

function isJobPod(pod: Pod): boolean {
  return (pod.metadata.ownerReferences ?? []).some((o) => o.kind === "Job" && o.apiVersion.startsWith("batch/"));
}

function containerID(run: Run): string {
  return `testbed://${run.child?.pid ?? 0}`;
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

async function fetchData(
  pod: Pod,
  kind: "ConfigMap" | "Secret",
  name: string,
): Promise<Record<string, Buffer> | undefined> {
  const ns = pod.metadata.namespace as string;
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
}

function fieldRefValue(pod: Pod, fieldPath: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return (m[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]] ?? "";
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata.name ?? "";
    case "metadata.namespace":
      return pod.metadata.namespace ?? "";
    case "metadata.uid":
      return pod.metadata.uid ?? "";
    case "spec.nodeName":
      return pod.spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec.serviceAccountName ?? "";
    case "status.hostIP":
    case "status.podIP":
      return "127.0.0.1";
    default:
      throw new StartProblem(
        `fieldRef ${fieldPath} is not supported by the test-bed executor`,
        "CreateContainerConfigError",
        false,
      );
  }
}

async function resolveEnv(pod: Pod, c: Container): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  const cache = new Map<string, Record<string, Buffer> | undefined>();
  const lookup = async (kind: "ConfigMap" | "Secret", name: string) => {
    const k = `${kind}/${name}`;
    if (!cache.has(k)) cache.set(k, await fetchData(pod, kind, name));
    return cache.get(k);
  };
  const ns = pod.metadata.namespace;
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const kind = from.configMapRef ? "ConfigMap" : "Secret";
    const data = await lookup(kind, ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new StartProblem(`${kind.toLowerCase()} "${ref.name}" not found`, "CreateContainerConfigError", true);
    }
    for (const [k, v] of Object.entries(data)) env[(from.prefix ?? "") + k] = v.toString("utf8");
  }
  const keyRef = async (
    kind: "ConfigMap" | "Secret",
    v: EnvVar,
    sel: { name: string; key: string; optional?: boolean },
  ) => {
    const data = await lookup(kind, sel.name);
    if (!data) {
      if (sel.optional) return undefined;
      throw new StartProblem(`${kind.toLowerCase()} "${sel.name}" not found`, "CreateContainerConfigError", true);
    }
    const value = data[sel.key];
    if (value === undefined) {
      if (sel.optional) return undefined;
      throw new StartProblem(
        `couldn't find key ${sel.key} in ${kind} ${ns}/${sel.name} (env ${v.name})`,
        "CreateContainerConfigError",
        true,
      );
    }
    return value.toString("utf8");
  };
  for (const v of c.env ?? []) {
    let value: string | undefined;
    if (v.valueFrom?.secretKeyRef) value = await keyRef("Secret", v, v.valueFrom.secretKeyRef);
    else if (v.valueFrom?.configMapKeyRef) value = await keyRef("ConfigMap", v, v.valueFrom.configMapKeyRef);
    else if (v.valueFrom?.fieldRef) value = fieldRefValue(pod, v.valueFrom.fieldRef.fieldPath);
    else if (v.valueFrom)
      throw new StartProblem(
        `env ${v.name}: this valueFrom is not supported by the test-bed executor`,
        "CreateContainerConfigError",
        false,
      );
    else value = expandVars(v.value ?? "", (name) => env[name]);
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}

function writeItems(
  dir: string,
  data: Record<string, Buffer>,
  items: KeyToPath[] | undefined,
  defaultMode: number | undefined,
  what: string,
): void {
  const entries: { key: string; path: string; mode?: number }[] =
    items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of entries) {
    const value = data[item.key];
    if (value === undefined) throw new StartProblem(`${what}: no key ${item.key}`, "ContainerCreating", true);
    if (path.isAbsolute(item.path) || item.path.split("/").includes("..")) {
      throw new StartProblem(`${what}: invalid item path ${item.path}`, "ContainerCreating", false);
    }
    const file = path.join(dir, item.path);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, value, { mode: item.mode ?? defaultMode ?? 0o644 });
  }
}

/** Materialises the mounted volumes; returns container path → host path mappings. */
async function materialiseVolumes(pod: Pod, c: Container, workDir: string): Promise<PathMapping[]> {
  const mappings: PathMapping[] = [];
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const done = new Map<string, string>();
  for (const mount of c.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume)
      throw new StartProblem(`volumeMount ${mount.name}: no such volume`, "CreateContainerConfigError", false);
    let dir = done.get(volume.name);
    if (dir === undefined) {
      dir = path.join(workDir, "volumes", volume.name);
      fs.mkdirSync(dir, { recursive: true });
      const what = `volume ${volume.name}`;
      if (volume.configMap) {
        const data = await fetchData(pod, "ConfigMap", volume.configMap.name);
        if (!data && !volume.configMap.optional) {
          throw new StartProblem(
            `MountVolume.SetUp failed for ${what}: configmap "${volume.configMap.name}" not found`,
            "ContainerCreating",
            true,
          );
        }
        if (data) writeItems(dir, data, volume.configMap.items, volume.configMap.defaultMode, what);
      } else if (volume.secret) {
        const data = await fetchData(pod, "Secret", volume.secret.secretName);
        if (!data && !volume.secret.optional) {
          throw new StartProblem(
            `MountVolume.SetUp failed for ${what}: secret "${volume.secret.secretName}" not found`,
            "ContainerCreating",
            true,
          );
        }
        if (data) writeItems(dir, data, volume.secret.items, volume.secret.defaultMode ?? 0o644, what);
      } else if (!volume.emptyDir) {
        const type =
          Object.keys(volume)
            .filter((k) => k !== "name")
            .join(",") || "unknown";
        throw new StartProblem(
          `${what}: volume type ${type} is not supported by the test-bed executor (only configMap, secret, emptyDir)`,
          "StartError",
          false,
        );
      }
      done.set(volume.name, dir);
    }
    const hostPath = mount.subPath ? path.join(dir, mount.subPath) : dir;
    mappings.push({ from: mount.mountPath.replace(/\/+$/, "") || "/", to: hostPath });
  }
  return mappings;
}

async function prepare(run: Run): Promise<Prepared> {
  const pod = run.pod;
  if (pod.spec.containers.length !== 1 || (pod.spec.initContainers ?? []).length > 0) {
    throw new StartProblem(
      "the test-bed executor runs pods with exactly one container and no init containers",
      "StartError",
      false,
    );
  }
  const c = pod.spec.containers[0];
  const image = c.image ?? "";
  const mapped = IMAGES[imageRepository(image)];
  if (!mapped) {
    throw new StartProblem(
      `no local binary for image ${image}: the test-bed executor maps only ${Object.keys(IMAGES).join(", ")} (testbed/executor.ts)`,
      "StartError",
      false,
    );
  }
  const command = c.command && c.command.length > 0 ? c.command : [mapped.entrypoints[0]];
  if (!mapped.entrypoints.includes(command[0])) {
    throw new StartProblem(
      `no local binary for command ${command[0]} in image ${image}: the test-bed executor runs only ${mapped.entrypoints.join(" or ")}`,
      "StartError",
      false,
    );
  }
  if (!fs.existsSync(mapped.binary)) {
    throw new StartProblem(
      `no local binary for image ${image}: ${mapped.binary} is missing (tools/build.sh builds it)`,
      "StartError",
      false,
    );
  }

  fs.rmSync(run.workDir, { recursive: true, force: true });
  for (const d of ["home", "tmp"]) fs.mkdirSync(path.join(run.workDir, d), { recursive: true });
  const terminationLog = path.join(run.workDir, "termination-log");
  fs.writeFileSync(terminationLog, "");

  const mappings = await materialiseVolumes(pod, c, run.workDir);
  mappings.push({ from: c.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH, to: terminationLog });

  const containerEnv = await resolveEnv(pod, c);
  const rewrite = (s: string) => rewritePaths(s, mappings);
  const env: Record<string, string> = {
    PATH: BASE_PATH,
    HOME: path.join(run.workDir, "home"),
    TMPDIR: path.join(run.workDir, "tmp"),
    HOSTNAME: pod.metadata.name ?? "",
  };
  for (const name of PASS_ENV) if (process.env[name] !== undefined) env[name] = process.env[name] as string;
  for (const [k, v] of Object.entries(containerEnv)) env[k] = rewrite(v);

  const expand = (s: string) => rewrite(expandVars(s, (name) => containerEnv[name]));
  const args = [...command.slice(1), ...(c.args ?? [])].map(expand);
  const cwd = c.workingDir ? rewrite(c.workingDir) : run.workDir;
  if (!fs.existsSync(cwd))
    throw new StartProblem(`workingDir ${c.workingDir} does not exist on this machine`, "StartError", false);
  return { file: mapped.binary, args, env, cwd, terminationLog };
}

function containerStatus(run: Run, state: ContainerState, ready: boolean): ContainerStatus {
  const c = run.pod.spec.containers[0];
  return {
    name: c.name,
    image: c.image ?? "",
    imageID: "",
    containerID: run.child ? containerID(run) : undefined,
    ready,
    started: state.running !== undefined,
    restartCount: run.restartCount,
    state,
    ...(run.lastState ? { lastState: run.lastState } : {}),
  };
}

function conditions(ready: boolean, reason?: string) {
  const now = new Date().toISOString();
  const status = ready ? ("True" as const) : ("False" as const);
  return [
    { type: "PodReadyToStartContainers", status: "True" as const, lastTransitionTime: now },
    { type: "Initialized", status: "True" as const, lastTransitionTime: now },
    { type: "ContainersReady", status, lastTransitionTime: now, ...(reason ? { reason } : {}) },
    { type: "Ready", status, lastTransitionTime: now, ...(reason ? { reason } : {}) },
  ];
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
      conditions: conditions(false, "PodFailed"),
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
  let prepared: Prepared;
  try {
    prepared = await prepare(run);
  } catch (e) {
    if (!(e instanceof StartProblem)) throw e;
    if (e.retry) {
      run.state = "waiting";
      run.retryAt = Date.now() + CONFIG_RETRY_MS;
      if (run.lastWaiting !== e.message) {
        run.lastWaiting = e.message;
        log(run.pod, `waiting: ${e.reason}: ${e.message}`);
        patchStatus(
          run,
          { containerStatuses: [containerStatus(run, { waiting: { reason: e.reason, message: e.message } }, false)] },
          "reporting waiting",
        );
      }
      return;
    }
    failWithoutRunning(run, e.reason, e.message);
    return;
  }
  if (run.pod.metadata.deletionTimestamp || shuttingDown) return;
  launch(run, prepared);
}

function launch(run: Run, prepared: Prepared): void {
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
    child = spawn(prepared.file, prepared.args, { cwd: prepared.cwd, env: prepared.env, stdio: ["ignore", fd, fd] });
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
  log(pod, `started pid ${child.pid ?? "?"}: ${path.basename(prepared.file)} ${prepared.args.join(" ")}`);
  patchStatus(
    run,
    {
      phase: "Running",
      startTime: run.startTime,
      conditions: conditions(true),
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

/** SIGTERM now, SIGKILL after graceSeconds. */
function stop(run: Run, reason: "DeadlineExceeded" | "Deleted" | "Shutdown", graceSeconds: number): void {
  if (run.stopping) return;
  run.stopping = { reason };
  if (run.state === "restarting" || !run.child || run.child.exitCode !== null || run.child.signalCode !== null) {
    // Nothing is running (between restarts): settle now with the last exit.
    finish(run, run.lastState?.terminated);
    return;
  }
  run.child.kill("SIGTERM");
  run.stopping.killTimer = setTimeout(() => {
    log(run.pod, `grace period (${graceSeconds} s) over: SIGKILL`);
    run.child?.kill("SIGKILL");
  }, graceSeconds * 1000);
}

function onExit(run: Run, code: number | null, signal: NodeJS.Signals | null, spawnError: Error | undefined): void {
  const finishedAt = new Date().toISOString();
  const exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 128);
  if (run.stopping?.killTimer) clearTimeout(run.stopping.killTimer);
  let message = "";
  try {
    message = readTail(run.prepared?.terminationLog ?? "", 0, MAX_TERMINATION_MESSAGE_BYTES).toString("utf8");
  } catch {
    // no termination log
  }
  const c = run.pod.spec.containers[0];
  if (spawnError) message = `failed to start ${run.prepared?.file}: ${spawnError.message}`;
  else if (message === "" && exitCode !== 0 && c.terminationMessagePolicy === "FallbackToLogsOnError") {
    message = logTail(readTail(run.logFile, run.logOffset, 1024 * 1024));
  }
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
        conditions: conditions(false, "ContainersNotReady"),
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
        conditions: conditions(false, "PodCompleted"),
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

function readTail(file: string, from: number, max: number): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const start = Math.max(from, size - max);
    const buf = Buffer.alloc(Math.max(0, size - start));
    fs.readSync(fd, buf, 0, buf.length, start);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
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
      run.state = "done";
      runs.set(uid, run);
    }
    run.state = "done";
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

async function tick(): Promise<void> {
  const list = await kube.list<Pod>("/api/v1/pods?resourceVersion=0");
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
  IMAGES = imageBinaries(requiredEnv("TOOLS_BIN"));
  POD_LOG_DIR = path.join(clusterDir, "pod-logs");
  WORK_ROOT = path.join(clusterDir, "executor");
  kube = kubeClient();
  fs.mkdirSync(POD_LOG_DIR, { recursive: true });
  fs.mkdirSync(WORK_ROOT, { recursive: true });
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  log(
    "executor",
    `watching Job pods on ${kube.server} every ${POLL_MS} ms; images: ${Object.entries(IMAGES)
      .map(([k, v]) => `${k} → ${v.binary}`)
      .join(", ")}`,
  );
  let lastError = "";
  while (!shuttingDown) {
    try {
      await tick();
      if (lastError !== "") log("executor", "API reachable again");
      lastError = "";
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (msg !== lastError) log("executor", `listing pods failed: ${msg}`);
      lastError = msg;
    }
    await sleep(POLL_MS);
  }
}

if (require.main === module) {
  void main();
}
