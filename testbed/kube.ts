/**
 * A tiny Kubernetes API client for the local test bed (scripts/cluster.sh), built on Node's
 * https module only: the executor (testbed/executor.ts) and the tests use it.
 *
 * It understands the kubeconfig that scripts/cluster.sh writes: one cluster with a `server`
 * and a CA, one user with a client certificate and key (inline `*-data` or file paths).
 * It is not a general kubeconfig reader (no contexts switching, no exec plugins, no tokens).
 * Why not the official @kubernetes/client-node (measured): docs/testbed.md, "The API client".
 *
 *   const kube = kubeClient();                    // $KUBECONFIG, else $CLUSTER_DIR/kubeconfig
 *   const job = await kube.get<Job>("/apis/batch/v1/namespaces/ns/jobs/migrate");
 *   await kube.waitFor(async () => ..., { timeoutMs: 60_000, what: "the Job to finish" });
 *   kube.close();                                 // drops keep-alive sockets (jest, scripts)
 */
import fs from "node:fs";
import https from "node:https";
import path from "node:path";

// ---- the few API types the test bed needs (fields the code reads; the API has more) -------

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  finalizers?: string[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
}

export interface KeySelector {
  name: string;
  key: string;
  optional?: boolean;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: KeySelector;
    configMapKeyRef?: KeySelector;
    fieldRef?: { fieldPath: string; apiVersion?: string };
  };
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: VolumeMount[];
  terminationMessagePath?: string;
  terminationMessagePolicy?: "File" | "FallbackToLogsOnError";
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  securityContext?: SecurityContext;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string; localhostProfile?: string };
}

export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  supplementalGroups?: number[];
  seccompProfile?: { type: string; localhostProfile?: string };
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  secret?: { secretName: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  emptyDir?: Record<string, unknown>;
  [other: string]: unknown;
}

export interface PodSpec {
  nodeName?: string;
  restartPolicy?: "Always" | "OnFailure" | "Never";
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  serviceAccountName?: string;
  securityContext?: PodSecurityContext;
  hostname?: string;
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: {
    exitCode: number;
    signal?: number;
    reason?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
    containerID?: string;
  };
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

export interface PodStatus {
  phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  reason?: string;
  message?: string;
  startTime?: string;
  conditions?: Condition[];
  containerStatuses?: ContainerStatus[];
}

export interface Pod extends KubeObject {
  spec: PodSpec;
  status?: PodStatus;
}

export interface Job extends KubeObject {
  spec: {
    backoffLimit?: number;
    activeDeadlineSeconds?: number;
    template: { metadata?: ObjectMeta; spec: PodSpec };
    [other: string]: unknown;
  };
  status?: { conditions?: Condition[]; active?: number; succeeded?: number; failed?: number };
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface Secret extends KubeObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  type?: string;
}

// ---- kubeconfig -------------------------------------------------------------------------

export interface KubeConnection {
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** The kubeconfig to use: $KUBECONFIG (first entry), else $CLUSTER_DIR/kubeconfig. */
export function defaultKubeconfigPath(): string {
  const fromEnv = (process.env.KUBECONFIG ?? "").split(path.delimiter).find((p) => p !== "");
  if (fromEnv) return fromEnv;
  if (process.env.CLUSTER_DIR) return path.join(process.env.CLUSTER_DIR, "kubeconfig");
  throw new Error("neither KUBECONFIG nor CLUSTER_DIR is set: source scripts/env.sh and run scripts/cluster.sh up");
}

/** Reads the server, CA and client certificate from a kubeconfig shaped like cluster.sh's. */
export function readKubeconfig(file: string = defaultKubeconfigPath()): KubeConnection {
  if (!fs.existsSync(file)) {
    throw new Error(`kubeconfig ${file} does not exist: is the test bed cluster up (bash scripts/cluster.sh up)?`);
  }
  const text = fs.readFileSync(file, "utf8");
  const dir = path.dirname(file);
  const field = (name: string): string | undefined => {
    const m = new RegExp(`^\\s*${name}:\\s*["']?([^"'\\s]+)["']?\\s*$`, "m").exec(text);
    return m?.[1];
  };
  const material = (name: string): Buffer => {
    const inline = field(`${name}-data`);
    if (inline) return Buffer.from(inline, "base64");
    const ref = field(name);
    if (ref) return fs.readFileSync(path.resolve(dir, ref));
    throw new Error(`kubeconfig ${file}: no ${name} or ${name}-data`);
  };
  const server = field("server");
  if (!server) throw new Error(`kubeconfig ${file}: no server`);
  return {
    server: server.replace(/\/+$/, ""),
    ca: material("certificate-authority"),
    cert: material("client-certificate"),
    key: material("client-key"),
  };
}

// ---- client -----------------------------------------------------------------------------

/** An API answer that was not 2xx. `status` is the HTTP status, `body` the decoded Status. */
export class KubeError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    const msg =
      typeof body === "object" && body !== null && "message" in body
        ? String((body as { message: unknown }).message)
        : String(body);
    super(`${method} ${path}: HTTP ${status}: ${msg}`);
    this.name = "KubeError";
  }
}

export type PatchType = "merge" | "strategic" | "json" | "apply";

const patchContentTypes: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
  apply: "application/apply-patch+yaml",
};

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Poll interval (default 250 ms). */
  intervalMs?: number;
  /** Said in the timeout error: "timed out after 60 s waiting for <what>". */
  what?: string;
}

export interface KubeClient {
  readonly server: string;
  /** Raw request: resolves with the status and decoded JSON body (or text) for any status. */
  request(
    method: string,
    apiPath: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: unknown }>;
  get<T>(apiPath: string): Promise<T>;
  /** Like get, but undefined on 404. */
  tryGet<T>(apiPath: string): Promise<T | undefined>;
  list<T>(apiPath: string): Promise<KubeList<T>>;
  post<T>(apiPath: string, body: unknown): Promise<T>;
  put<T>(apiPath: string, body: unknown): Promise<T>;
  patch<T>(apiPath: string, body: unknown, type?: PatchType): Promise<T>;
  /** DELETE with optional DeleteOptions; a 404 counts as done (resolves undefined). */
  delete<T = unknown>(apiPath: string, options?: Record<string, unknown>): Promise<T | undefined>;
  /** Polls `check` until it returns something other than undefined/false/null. */
  waitFor<T>(check: () => Promise<T | undefined | false | null>, options?: WaitOptions): Promise<T>;
  /**
   * Records every watch event of a collection (e.g. /apis/batch/v1/namespaces/ns/jobs) from
   * now on, in the API server's order, each with its resourceVersion (the etcd revision of
   * that change). Reconnects from the last version seen if the server ends the watch.
   */
  record<T extends KubeObject>(listPath: string): Promise<WatchRecorder<T>>;
  /**
   * Calls `onEvent` for every watch event of a collection after resourceVersion `from` (a
   * list's), in the API server's order; BOOKMARKs only move `from` on. Reconnects from the
   * last version seen when the server ends the watch. A failure (e.g. 410 Gone once `from` was
   * compacted away) ends the watch and goes to `onError`: list again and watch from there.
   */
  watch<T extends KubeObject>(
    listPath: string,
    from: string,
    onEvent: (event: WatchEvent<T>) => void,
    onError: (error: Error) => void,
  ): Watch;
  /** Closes keep-alive sockets so the process (or jest) can exit. */
  close(): void;
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export interface Watch {
  stop(): void;
}

export interface WatchRecorder<T> extends Watch {
  /** Events so far (BOOKMARKs left out). */
  readonly events: WatchEvent<T>[];
  /** A watch failure (e.g. 410 Gone), if one happened. */
  readonly error: () => Error | undefined;
}

/** An object's resourceVersion as a number: with one etcd, the revision of its last change. */
export function revision(obj: KubeObject): bigint {
  const rv = obj.metadata.resourceVersion;
  if (!rv || !/^\d+$/.test(rv))
    throw new Error(`${obj.kind ?? "object"} ${obj.metadata.name}: no numeric resourceVersion`);
  return BigInt(rv);
}

export function kubeClient(connection: KubeConnection = readKubeconfig()): KubeClient {
  const agent = new https.Agent({
    ca: connection.ca,
    cert: connection.cert,
    key: connection.key,
    keepAlive: true,
    maxSockets: 8,
  });
  const base = new URL(connection.server);

  // A kept-alive connection that the API server closes as idle just as it is reused fails with
  // ECONNRESET ("socket hang up") before the request reached the server: Node's documented case
  // (http.ClientRequest reusedSocket). Such a request is sent once more, on a new connection.
  const send = (
    method: string,
    apiPath: string,
    body: unknown,
    contentType: string,
    retried: boolean,
  ): Promise<{ status: number; body: unknown }> =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const req = https.request(
        {
          agent,
          method,
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: apiPath,
          headers: {
            accept: "application/json",
            ...(payload === undefined
              ? {}
              : { "content-type": contentType, "content-length": Buffer.byteLength(payload) }),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let decoded: unknown = text;
            try {
              decoded = text === "" ? undefined : JSON.parse(text);
            } catch {
              // not JSON (e.g. /readyz): keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: decoded });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${apiPath}: timed out`)));
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (!retried && req.reusedSocket && err.code === "ECONNRESET")
          resolve(send(method, apiPath, body, contentType, true));
        else reject(err);
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  const request = (method: string, apiPath: string, body?: unknown, contentType = "application/json") =>
    send(method, apiPath, body, contentType, false);

  const call = async <T>(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<T> => {
    const res = await request(method, apiPath, body, contentType);
    if (res.status < 200 || res.status > 299) throw new KubeError(method, apiPath, res.status, res.body);
    return res.body as T;
  };

  const client: KubeClient = {
    server: connection.server,
    request,
    get: (p) => call("GET", p),
    tryGet: async <T>(p: string) => {
      try {
        return await call<T>("GET", p);
      } catch (e) {
        if (e instanceof KubeError && e.status === 404) return undefined;
        throw e;
      }
    },
    list: (p) => call("GET", p),
    post: (p, body) => call("POST", p, body),
    put: (p, body) => call("PUT", p, body),
    patch: (p, body, type = "merge") => call("PATCH", p, body, patchContentTypes[type]),
    delete: async <T>(p: string, options?: Record<string, unknown>) => {
      try {
        return await call<T>(
          "DELETE",
          p,
          options === undefined ? undefined : { kind: "DeleteOptions", apiVersion: "v1", ...options },
        );
      } catch (e) {
        if (e instanceof KubeError && e.status === 404) return undefined;
        throw e;
      }
    },
    waitFor: async <T>(check: () => Promise<T | undefined | false | null>, options: WaitOptions = {}) => {
      const timeoutMs = options.timeoutMs ?? 60_000;
      const intervalMs = options.intervalMs ?? 250;
      const deadline = Date.now() + timeoutMs;
      let lastError: unknown;
      for (;;) {
        try {
          const v = await check();
          if (v !== undefined && v !== false && v !== null) return v;
        } catch (e) {
          lastError = e;
        }
        if (Date.now() >= deadline) {
          const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
          throw new Error(
            `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${options.what ?? "a condition"}${why}`,
          );
        }
        await sleep(intervalMs);
      }
    },
    record: async <T extends KubeObject>(listPath: string) => {
      const list = await call<KubeList<T>>("GET", listPath);
      const events: WatchEvent<T>[] = [];
      let failure: Error | undefined;
      const watch = client.watch<T>(
        listPath,
        list.metadata.resourceVersion ?? "0",
        (event) => events.push(event),
        (e) => (failure = e),
      );
      return { events, error: () => failure, stop: watch.stop };
    },
    watch: <T extends KubeObject>(
      listPath: string,
      from: string,
      onEvent: (event: WatchEvent<T>) => void,
      onError: (error: Error) => void,
    ) => {
      let stopped = false;
      let current: ReturnType<typeof https.request> | undefined;
      const sep = listPath.includes("?") ? "&" : "?";
      const stop = () => {
        stopped = true;
        current?.destroy();
      };
      const fail = (e: Error) => {
        if (stopped) return;
        stop();
        onError(e);
      };
      const connect = () => {
        if (stopped) return;
        let buffered = "";
        current = https.request(
          {
            ca: connection.ca,
            cert: connection.cert,
            key: connection.key,
            agent: false,
            method: "GET",
            protocol: base.protocol,
            hostname: base.hostname,
            port: base.port,
            path: `${listPath}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${from}`,
            headers: { accept: "application/json" },
          },
          (res) => {
            if (res.statusCode !== 200) {
              res.resume();
              fail(new Error(`watch ${listPath}: HTTP ${res.statusCode}`));
              return;
            }
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              buffered += chunk;
              let nl: number;
              while (!stopped && (nl = buffered.indexOf("\n")) !== -1) {
                const line = buffered.slice(0, nl).trim();
                buffered = buffered.slice(nl + 1);
                if (line === "") continue;
                const event = JSON.parse(line) as WatchEvent<T>;
                if (event.type === "ERROR") {
                  fail(new Error(`watch ${listPath}: ${JSON.stringify(event.object)}`));
                  return;
                }
                from = event.object.metadata.resourceVersion ?? from;
                if (event.type !== "BOOKMARK") onEvent(event);
              }
            });
            // "close", not "end": a connection dropped mid-stream (the API server killed or
            // restarted) never ends the response, and the watch would be dead without a word.
            res.on("close", () => {
              if (!stopped) setTimeout(connect, 100);
            });
          },
        );
        current.on("error", (e) => fail(new Error(`watch ${listPath}: ${e.message}`)));
        current.end();
      };
      connect();
      return { stop };
    },
    close: () => agent.destroy(),
  };
  return client;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- small helpers for tests ------------------------------------------------------------

/** The condition of `type` with status True, if any. */
export function trueCondition(obj: { status?: { conditions?: Condition[] } }, type: string): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

/** True if a controller owner reference of this kind exists (e.g. a pod owned by a Job). */
export function ownedBy(obj: KubeObject, kind: string): boolean {
  return (obj.metadata.ownerReferences ?? []).some((o) => o.kind === kind);
}

/** Creates a namespace named `<prefix>-<random>` and returns its name. */
export async function createNamespace(kube: KubeClient, prefix: string): Promise<string> {
  const ns = await kube.post<KubeObject>("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { generateName: `${prefix}-`, labels: { "testbed.developers.italia.it/test": "true" } },
  });
  return ns.metadata.name as string;
}

/** Deletes a namespace; with `wait`, until it is gone (its pods finalized by kwok/executor). */
export async function deleteNamespace(kube: KubeClient, name: string, wait = true, timeoutMs = 60_000): Promise<void> {
  await kube.delete(`/api/v1/namespaces/${name}`);
  if (wait) {
    await kube.waitFor(async () => (await kube.tryGet(`/api/v1/namespaces/${name}`)) === undefined, {
      timeoutMs,
      what: `namespace ${name} to be deleted`,
    });
  }
}
