/**
 * The test bed itself, on the real local control plane (scripts/cluster.sh up, which
 * scripts/test.sh runs first): Job pods really run through testbed/executor.ts, other pods are
 * made Running/Ready by kwok. Each test works in a fresh namespace and deletes it afterwards
 * (which also proves that the executor and kwok finalize pod deletion).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {
  createNamespace,
  deleteNamespace,
  kubeClient,
  trueCondition,
  type Condition,
  type Container,
  type Job,
  type KubeClient,
  type KubeList,
  type KubeObject,
  type Pod,
  type PodSpec,
} from "../../testbed/kube";
import { NEVER_READY_TAG, rolloutState } from "../../testbed/rollout";

jest.setTimeout(180_000);

// The one Atlas image the test bed has: the release tools/versions.env builds.
const ATLAS_VERSION = /^ATLAS_VERSION=(.*)$/m.exec(
  fs.readFileSync(path.join(__dirname, "../../tools/versions.env"), "utf8"),
)![1];
const ATLAS_IMAGE = `arigaio/atlas:${ATLAS_VERSION}`;
/** The migration Job's hardening (lib/migration/run.ts): non-root 65532, read-only root, no capabilities. */
const HARDENED_POD: Partial<PodSpec> = {
  securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 },
};
const HARDENED_CONTAINER: Pick<Container, "securityContext"> = {
  securityContext: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ["ALL"] },
  },
};
const clusterDir = process.env.CLUSTER_DIR ?? path.resolve(__dirname, "../../.local/cluster");

function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: source scripts/env.sh`);
  return v;
}

let kube: KubeClient;
let ns: string;

const namespaces: string[] = [];

beforeAll(() => {
  kube = kubeClient();
});
// Namespaces are deleted after each test and awaited together at the end: every pod in them
// must be finalized (Job pods by the executor, others by kwok) for the namespace to go.
afterAll(async () => {
  try {
    await Promise.all(namespaces.map((n) => deleteNamespace(kube, n, true, 90_000)));
  } finally {
    kube.close();
  }
});

beforeEach(async () => {
  ns = await createNamespace(kube, "testbed");
  namespaces.push(ns);
});
afterEach(async () => {
  await deleteNamespace(kube, ns, false);
});

// ---- helpers ------------------------------------------------------------------------------

function job(
  name: string,
  container: Omit<Container, "name" | "image"> & { image?: string },
  spec: Partial<Job["spec"]> = {},
  podSpec: Partial<PodSpec> = {},
): Job {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name },
    spec: {
      backoffLimit: 0,
      ...spec,
      template: {
        spec: {
          restartPolicy: "Never",
          terminationGracePeriodSeconds: 5,
          ...podSpec,
          containers: [
            {
              name: "main",
              image: ATLAS_IMAGE,
              ...container,
              // As the product's Job does: no update check (offline, read-only HOME).
              env: [{ name: "ATLAS_NO_UPDATE_NOTIFIER", value: "1" }, ...(container.env ?? [])],
            },
          ],
        },
      },
    },
  };
}

type JobEnd = { job: Job; condition: "Complete" | "Failed" };

async function runJob(body: Job, timeoutMs = 90_000): Promise<JobEnd> {
  const name = body.metadata.name as string;
  await kube.post(`/apis/batch/v1/namespaces/${ns}/jobs`, body);
  return kube.waitFor(
    async () => {
      const j = await kube.get<Job>(`/apis/batch/v1/namespaces/${ns}/jobs/${name}`);
      if (trueCondition(j, "Complete")) return { job: j, condition: "Complete" as const };
      if (trueCondition(j, "Failed")) return { job: j, condition: "Failed" as const };
      return undefined;
    },
    { timeoutMs, what: `Job ${ns}/${name} to finish` },
  );
}

async function jobPods(jobName: string): Promise<Pod[]> {
  const list = await kube.list<Pod>(
    `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`batch.kubernetes.io/job-name=${jobName}`)}`,
  );
  return list.items;
}

/** The Job's single pod, once it is terminal. */
async function terminalPod(jobName: string): Promise<Pod> {
  return kube.waitFor(
    async () => {
      const pods = await jobPods(jobName);
      return pods.find((p) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed");
    },
    { timeoutMs: 30_000, what: `a terminal pod of Job ${jobName}` },
  );
}

function podLog(pod: Pod): string {
  return fs.readFileSync(
    path.join(clusterDir, "pod-logs", `${pod.metadata.namespace}_${pod.metadata.name}.log`),
    "utf8",
  );
}

function failedReason(j: Job): string | undefined {
  return j.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True")?.reason;
}

/**
 * A TCP server on 127.0.0.1 that records what clients send and never answers; with `hangUp`
 * it closes each connection after the first bytes (a PostgreSQL client then fails at once).
 */
async function silentServer(
  hangUp = false,
): Promise<{ port: number; received: () => Buffer; closed: Promise<void>; close: () => void }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let onClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      if (hangUp) socket.destroy();
    });
    socket.on("close", () => {
      sockets.delete(socket);
      onClosed();
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(chunks),
    closed,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

// ---- tests --------------------------------------------------------------------------------

test("a Job running atlas version completes", async () => {
  const end = await runJob(job("atlas-version", { command: ["/atlas", "version"] }));
  expect(end.condition).toBe("Complete");
  const pod = await terminalPod("atlas-version");
  expect(pod.status?.phase).toBe("Succeeded");
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  expect(terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
  expect(terminated?.startedAt).toBeTruthy();
  expect(terminated?.finishedAt).toBeTruthy();
  expect(podLog(pod)).toMatch(/atlas .*version/i);
});

test("a failing atlas Job ends Failed (BackoffLimitExceeded) with atlas's error as the termination message", async () => {
  const end = await runJob(
    job(
      "atlas-fails",
      {
        command: [
          "/atlas",
          "migrate",
          "apply",
          "--url",
          "postgres://nobody@127.0.0.1:1/x?sslmode=disable",
          "--dir",
          "file:///migrations",
        ],
        terminationMessagePolicy: "FallbackToLogsOnError",
        volumeMounts: [{ name: "migrations", mountPath: "/migrations" }],
      },
      {},
      {
        volumes: [{ name: "migrations", emptyDir: {} }],
      },
    ),
  );
  expect(end.condition).toBe("Failed");
  expect(failedReason(end.job)).toBe("BackoffLimitExceeded");
  const pod = await terminalPod("atlas-fails");
  expect(pod.status?.phase).toBe("Failed");
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  expect(terminated?.exitCode).not.toBe(0);
  expect(terminated?.reason).toBe("Error");
  expect(terminated?.message).toMatch(/connection refused/);
  expect(podLog(pod)).toContain(terminated?.message?.trim());
});

test("env from a Secret and a ConfigMap, $(VAR) expansion and a ConfigMap volume with items reach the process", async () => {
  // atlas migrate apply reads the folder named by an env var (ConfigMap), checks atlas.sum
  // against the migration file (both placed by items key→path), then connects to the URL from
  // a Secret: the server sees the user and database from that Secret and hangs up.
  const sql = "CREATE TABLE t (id int);\n";
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "testbed-sum-"));
  fs.writeFileSync(path.join(scratch, "20240101000000_init.sql"), sql);
  execFileSync(path.join(requireEnv("TOOLS_BIN"), "atlas"), ["migrate", "hash", "--dir", `file://${scratch}`], {
    env: { ...process.env, ATLAS_NO_UPDATE_NOTIFIER: "1" },
  });
  const sum = fs.readFileSync(path.join(scratch, "atlas.sum"), "utf8");
  fs.rmSync(scratch, { recursive: true, force: true });

  const server = await silentServer(true);
  try {
    await kube.post(`/api/v1/namespaces/${ns}/configmaps`, {
      metadata: { name: "migrations" },
      data: { init: sql, sum, dir: "file:///migrations" },
    });
    await kube.post(`/api/v1/namespaces/${ns}/secrets`, {
      metadata: { name: "db" },
      stringData: { url: `postgres://secret-user@127.0.0.1:${server.port}/secret-db?sslmode=disable` },
    });
    const end = await runJob(
      job(
        "atlas-env",
        {
          command: ["/atlas", "migrate", "apply", "--dir", "$(MIGRATIONS_DIR)", "--url", "$(DATABASE_URL)"],
          env: [
            { name: "MIGRATIONS_DIR", valueFrom: { configMapKeyRef: { name: "migrations", key: "dir" } } },
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "db", key: "url" } } },
          ],
          terminationMessagePolicy: "FallbackToLogsOnError",
          volumeMounts: [{ name: "migrations", mountPath: "/migrations", readOnly: true }],
        },
        {},
        {
          volumes: [
            {
              name: "migrations",
              configMap: {
                name: "migrations",
                items: [
                  { key: "init", path: "20240101000000_init.sql" },
                  { key: "sum", path: "atlas.sum" },
                ],
              },
            },
          ],
        },
      ),
    );
    expect(end.condition).toBe("Failed");
    const startup = server.received().toString("latin1");
    expect(startup).toContain("secret-user");
    expect(startup).toContain("secret-db");
    const pod = await terminalPod("atlas-env");
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.message).not.toMatch(/checksum|no such file/);
  } finally {
    server.close();
  }
});

test("a pod whose Secret is missing waits (CreateContainerConfigError) and runs once it exists", async () => {
  await kube.post(
    `/apis/batch/v1/namespaces/${ns}/jobs`,
    job("needs-secret", {
      command: ["/atlas", "version"],
      env: [{ name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "late", key: "url" } } }],
    }),
  );
  const waiting = await kube.waitFor(
    async () => {
      const pods = await jobPods("needs-secret");
      return pods.map((p) => p.status?.containerStatuses?.[0]?.state?.waiting).find((w) => w !== undefined);
    },
    { timeoutMs: 30_000, what: "the pod to report why it waits" },
  );
  expect(waiting).toMatchObject({
    reason: "CreateContainerConfigError",
    message: expect.stringContaining('secret "late" not found'),
  });
  expect((await jobPods("needs-secret"))[0].status?.phase).toBe("Pending");
  await kube.post(`/api/v1/namespaces/${ns}/secrets`, {
    metadata: { name: "late" },
    stringData: { url: "postgres://x" },
  });
  const end = await kube.waitFor(
    async () => {
      const j = await kube.get<Job>(`/apis/batch/v1/namespaces/${ns}/jobs/needs-secret`);
      return trueCondition(j, "Complete") ?? trueCondition(j, "Failed");
    },
    { timeoutMs: 30_000, what: "the Job to finish" },
  );
  expect(end.type).toBe("Complete");
});

/** Waiting reasons the Job's pod reported, in order, and its phases, until the Job ended (polled). */
async function waitingReasonsUntilDone(
  jobName: string,
  timeoutMs = 60_000,
): Promise<{ reasons: string[]; messages: string[]; phases: Set<string>; end: Job }> {
  const reasons: string[] = [];
  const messages: string[] = [];
  const phases = new Set<string>();
  const end = await kube.waitFor(
    async () => {
      for (const p of await jobPods(jobName)) {
        phases.add(p.status?.phase ?? "Pending");
        const w = p.status?.containerStatuses?.[0]?.state?.waiting;
        if (w?.reason && reasons[reasons.length - 1] !== w.reason) {
          reasons.push(w.reason);
          messages.push(w.message ?? "");
        }
      }
      const j = await kube.get<Job>(`/apis/batch/v1/namespaces/${ns}/jobs/${jobName}`);
      return trueCondition(j, "Failed") || trueCondition(j, "Complete") ? j : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `Job ${jobName} to end` },
  );
  return { reasons, messages, phases, end };
}

function logExists(jobName: string): boolean {
  return fs.readdirSync(path.join(clusterDir, "pod-logs")).some((f) => f.startsWith(`${ns}_${jobName}-`));
}

test("an image the test bed does not have (another tag, another image) stays Pending in ErrImagePull / ImagePullBackOff until the deadline", async () => {
  for (const [name, image] of [
    ["other-tag", "arigaio/atlas:0.99.0"],
    ["other-image", "busybox:1.36"],
  ]) {
    await kube.post(
      `/apis/batch/v1/namespaces/${ns}/jobs`,
      job(name, { image, command: ["/atlas", "version"] }, { activeDeadlineSeconds: 6 }),
    );
  }
  const outcomes = await Promise.all([waitingReasonsUntilDone("other-tag"), waitingReasonsUntilDone("other-image")]);
  for (const [{ reasons, messages, phases, end }, name, canonical] of [
    [outcomes[0], "other-tag", "docker.io/arigaio/atlas:0.99.0"],
    [outcomes[1], "other-image", "docker.io/library/busybox:1.36"],
  ] as const) {
    expect(reasons.slice(0, 2)).toEqual(["ErrImagePull", "ImagePullBackOff"]);
    expect(messages[0]).toContain(`failed to pull and unpack image "${canonical}"`);
    expect(messages[1]).toMatch(/^Back-off pulling image /);
    expect([...phases]).toEqual(["Pending"]);
    expect(failedReason(end)).toBe("DeadlineExceeded");
    expect(logExists(name)).toBe(false);
  }
});

test("runAsNonRoot with an image whose user is root and no runAsUser: CreateContainerConfigError, nothing runs", async () => {
  await kube.post(
    `/apis/batch/v1/namespaces/${ns}/jobs`,
    job(
      "root-image",
      { command: ["/atlas", "version"] },
      { activeDeadlineSeconds: 6 },
      {
        securityContext: { runAsNonRoot: true },
      },
    ),
  );
  const { reasons, messages, phases, end } = await waitingReasonsUntilDone("root-image");
  expect(reasons).toEqual(["CreateContainerConfigError"]);
  expect([...phases]).toEqual(["Pending"]);
  expect(messages[0]).toMatch(/^container has runAsNonRoot and image will run as root \(pod: ".*", container: main\)$/);
  expect(failedReason(end)).toBe("DeadlineExceeded");
  expect(logExists("root-image")).toBe(false);
});

describe("the root filesystem, the uid and volumes are the container's", () => {
  // `atlas migrate hash --dir file://D` writes D/atlas.sum: a write at a path of our choosing.
  const hashInto = (dir: string): Omit<Container, "name" | "image"> => ({
    command: ["/atlas", "migrate", "hash", "--dir", `file://${dir}`],
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: [{ name: "scratch", mountPath: "/scratch" }],
  });
  const scratch: Partial<PodSpec> = { volumes: [{ name: "scratch", emptyDir: {} }] };

  test("hardened (non-root, read-only root): writing into the emptyDir works", async () => {
    const end = await runJob(
      job("write-emptydir", { ...hashInto("/scratch"), ...HARDENED_CONTAINER }, {}, { ...HARDENED_POD, ...scratch }),
    );
    expect(end.condition).toBe("Complete");
  });

  test("hardened: writing outside the emptyDir fails with a read-only file system", async () => {
    const end = await runJob(
      job("write-root", { ...hashInto("/etc"), ...HARDENED_CONTAINER }, {}, { ...HARDENED_POD, ...scratch }),
    );
    expect(end.condition).toBe("Failed");
    const pod = await terminalPod("write-root");
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.message).toMatch(
      /\/etc\/atlas\.sum: read-only file system/,
    );
  });

  test("a writable root as uid 65532: the image's /etc is root's, so the write is denied", async () => {
    const end = await runJob(
      job("write-as-65532", hashInto("/etc"), {}, { securityContext: { runAsUser: 65532 }, ...scratch }),
    );
    expect(end.condition).toBe("Failed");
    const pod = await terminalPod("write-as-65532");
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.message).toMatch(
      /\/etc\/atlas\.sum: permission denied/,
    );
  });

  test("a writable root as the image's user (root): the write lands in the pod's own layer, not on this machine", async () => {
    const end = await runJob(job("write-as-root", hashInto("/etc"), {}, scratch));
    expect(end.condition).toBe("Complete");
    expect(fs.existsSync("/etc/atlas.sum")).toBe(false);
  });

  test("a Secret volume with items (nested path) is read at its mount path by a hardened container", async () => {
    const server = await silentServer(true);
    try {
      await kube.post(`/api/v1/namespaces/${ns}/secrets`, {
        metadata: { name: "atlas-config" },
        stringData: {
          hcl: `env "t" {\n  url = "postgres://volume-user@127.0.0.1:${server.port}/volume-db?sslmode=disable"\n}\n`,
        },
      });
      const end = await runJob(
        job(
          "secret-volume",
          {
            command: [
              "/atlas",
              "migrate",
              "apply",
              "--config",
              "file:///etc/atlas-config/conf/atlas.hcl",
              "--env",
              "t",
              "--dir",
              "file:///scratch",
            ],
            terminationMessagePolicy: "FallbackToLogsOnError",
            env: [{ name: "HOME", value: "/scratch" }],
            volumeMounts: [
              { name: "config", mountPath: "/etc/atlas-config", readOnly: true },
              { name: "scratch", mountPath: "/scratch" },
            ],
            ...HARDENED_CONTAINER,
          },
          {},
          {
            ...HARDENED_POD,
            volumes: [
              {
                name: "config",
                secret: { secretName: "atlas-config", items: [{ key: "hcl", path: "conf/atlas.hcl" }] },
              },
              { name: "scratch", emptyDir: {} },
            ],
          },
        ),
      );
      expect(end.condition).toBe("Failed");
      const startup = server.received().toString("latin1");
      expect(startup).toContain("volume-user");
      expect(startup).toContain("volume-db");
    } finally {
      server.close();
    }
  });
});

test("the Job's activeDeadlineSeconds stops a hanging pod, which then disappears", async () => {
  // An empty migration folder: atlas connects at once, to a server that never answers.
  const server = await silentServer();
  try {
    const end = await runJob(
      job(
        "atlas-hangs",
        {
          command: [
            "/atlas",
            "migrate",
            "apply",
            "--dir",
            "file:///m",
            "--url",
            `postgres://u@127.0.0.1:${server.port}/d?sslmode=disable`,
          ],
          volumeMounts: [{ name: "m", mountPath: "/m" }],
        },
        { activeDeadlineSeconds: 5 },
        { volumes: [{ name: "m", emptyDir: {} }] },
      ),
    );
    expect(end.condition).toBe("Failed");
    expect(failedReason(end.job)).toBe("DeadlineExceeded");
    expect(server.received().length).toBeGreaterThan(0);
    // The executor stops the process (the server sees the connection close) and deletes the pod.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("timeout"), 30_000)));
    const outcome = await Promise.race([server.closed.then(() => "closed"), timeout]);
    clearTimeout(timer);
    expect(outcome).toBe("closed");
    await kube.waitFor(async () => (await jobPods("atlas-hangs")).length === 0, {
      timeoutMs: 30_000,
      what: "the pod to be deleted",
    });
  } finally {
    server.close();
  }
});

test("a Deployment's pod becomes Running and Ready through kwok", async () => {
  await kube.post(`/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }] }] },
      },
    },
  });
  const pod = await kube.waitFor(
    async () => {
      const pods = await kube.list<Pod>(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);
      return pods.items.find((p) => p.status?.phase === "Running" && trueCondition(p, "Ready"));
    },
    { timeoutMs: 60_000, what: "the Deployment's pod to be Running and Ready" },
  );
  expect(pod.spec.nodeName).toBe("kwok-node-0");
  // The node stays Ready only while kwok renews its Lease (else its pods lose Ready after ~50 s).
  const lease = await kube.get<KubeObject & { spec?: { renewTime?: string } }>(
    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/kwok-node-0",
  );
  expect(Date.now() - Date.parse(lease.spec?.renewTime ?? "1970-01-01T00:00:00Z")).toBeLessThan(30_000);
  const deployment = await kube.waitFor(
    async () => {
      const d = await kube.get<KubeObject & { status?: { availableReplicas?: number } }>(
        `/apis/apps/v1/namespaces/${ns}/deployments/web`,
      );
      return d.status?.availableReplicas === 1 ? d : undefined;
    },
    { timeoutMs: 60_000, what: "the Deployment to be available" },
  );
  expect(deployment.status?.availableReplicas).toBe(1);
  const all: KubeList<Pod> = await kube.list<Pod>(`/api/v1/namespaces/${ns}/pods`);
  expect(all.items).toHaveLength(1);
});

test(`a pod whose image is tagged ${NEVER_READY_TAG} runs and never becomes Ready; the rollout's deadline passes, other pods stay Ready`, async () => {
  const deployment = (name: string, image: string) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas: 1,
      // The controller's own verdict that the pod never became available.
      progressDeadlineSeconds: 5,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image }] } },
    },
  });
  await kube.post(`/apis/apps/v1/namespaces/${ns}/deployments`, deployment("broken", `example/api:${NEVER_READY_TAG}`));
  await kube.post(`/apis/apps/v1/namespaces/${ns}/deployments`, deployment("good", "example/api:v1"));
  type DeploymentStatus = KubeObject & { status?: { conditions?: Condition[]; readyReplicas?: number } };
  const progressing = (name: string) =>
    kube.waitFor(
      async () => {
        const d = await kube.get<DeploymentStatus>(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`);
        const c = d.status?.conditions?.find((c) => c.type === "Progressing");
        return c?.reason === "ProgressDeadlineExceeded" || c?.reason === "NewReplicaSetAvailable" ? c : undefined;
      },
      { timeoutMs: 60_000, what: `Deployment ${name} to finish or give up its rollout` },
    );
  expect(await progressing("broken")).toMatchObject({ status: "False", reason: "ProgressDeadlineExceeded" });
  expect(await progressing("good")).toMatchObject({ status: "True", reason: "NewReplicaSetAvailable" });

  const [pod] = (await kube.list<Pod>(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dbroken`)).items;
  expect(pod.status?.phase).toBe("Running");
  const conditions = Object.fromEntries((pod.status?.conditions ?? []).map((c) => [c.type, c]));
  expect(conditions.Ready).toMatchObject({
    status: "False",
    reason: "ContainersNotReady",
    message: "containers with unready status: [broken]",
  });
  expect(conditions.ContainersReady).toMatchObject({ status: "False", reason: "ContainersNotReady" });
  expect(pod.status?.containerStatuses).toEqual([
    expect.objectContaining({ name: "broken", ready: false, started: true, state: { running: expect.anything() } }),
  ]);
  // The helper the e2e suite reads a rollout with sees the same.
  const byImage = Object.fromEntries((await rolloutState(kube, ns)).map((rs) => [rs.image, rs.pods]));
  expect(byImage).toEqual({
    [`example/api:${NEVER_READY_TAG}`]: [{ name: pod.metadata.name, phase: "Running", ready: false }],
    "example/api:v1": [expect.objectContaining({ phase: "Running", ready: true })],
  });
});
