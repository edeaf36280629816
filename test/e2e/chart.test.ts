import * as fs from "fs";
import * as path from "path";
import { KubeClient, kubeClient, KubeObject } from "../../testbed/kube";
import { standInIngressController } from "../../testbed/ingressController";
import { run } from "../../testbed/run";
import { createDatabase, TestDatabase } from "../../testbed/pg";
import { TestStack } from "../../testbed/stack";

/**
 * The chart's replacement on real parts (issue 11): a stack with every chart option on,
 * applied by the real Pulumi engine and Kubernetes provider to the test bed's API server,
 * whose real HPA controller (kube-controller-manager) scales the Deployment. The migration
 * gate still orders the rollout after the Job.
 */

jest.setTimeout(15 * 60_000);

const NS = `e2e-chart-${process.pid}`;
const PRIORITY_CLASS = `e2e-chart-${process.pid}`;
const CRD_FILE = path.join(__dirname, "../../testbed/servicemonitor-crd.yaml");
const CRD_NAME = "servicemonitors.monitoring.coreos.com";
const FIELD_MANAGER = "e2e-other-autoscaler";

interface ManagedFields {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1?: { "f:spec"?: Record<string, unknown> };
}
interface Deployment extends KubeObject {
  metadata: KubeObject["metadata"] & { managedFields?: ManagedFields[] };
  spec: {
    replicas: number;
    template: {
      metadata: { annotations?: Record<string, string>; labels?: Record<string, string> };
      spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> };
    };
  };
  status?: { readyReplicas?: number };
}
interface JobObject extends KubeObject {
  status?: { completionTime?: string; succeeded?: number };
}

let kube: KubeClient;
let db: TestDatabase;
let stack: TestStack;
let stopIngressController: (() => void) | undefined;

const list = async <T>(apiPath: string) => (await kube.list<T>(apiPath)).items;
const deployment = async () => (await list<Deployment>(`/apis/apps/v1/namespaces/${NS}/deployments`))[0];
const byCreation = <T extends KubeObject>(items: T[]) =>
  items.sort((a, b) => a.metadata.creationTimestamp!.localeCompare(b.metadata.creationTimestamp!));
const env = () =>
  Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<string, string>;

/** Structured config goes straight into the stack file, typed, as `pulumi config set --path` would store it. */
function setObjectConfig(values: Record<string, unknown>) {
  const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
  const keys = Object.keys(values).map((k) => `  developers-italia-api:${k}:`);
  const text = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => !keys.some((k) => line.startsWith(k)))
    .join("\n");
  const lines = Object.entries(values).map(([k, v]) => `  developers-italia-api:${k}: ${JSON.stringify(v)}`);
  expect(text).toMatch(/^config:$/m);
  fs.writeFileSync(file, text.replace(/^config:$/m, ["config:", ...lines].join("\n")));
}

beforeAll(async () => {
  kube = kubeClient();
  db = await createDatabase("e2echart");
  const u = new URL(db.url);
  await kube.post("/apis/scheduling.k8s.io/v1/priorityclasses", {
    apiVersion: "scheduling.k8s.io/v1",
    kind: "PriorityClass",
    metadata: { name: PRIORITY_CLASS },
    value: 1000,
  });
  stack = await TestStack.create(
    "chart",
    {
      namespace: NS,
      imageTag: "v1.4.0",
      migrationDeadlineSeconds: "60",
      environment: "test",
      priorityClassName: PRIORITY_CLASS,
    },
    db.url,
  );
  setObjectConfig({
    autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 6, targetCPUUtilizationPercentage: 60 },
    ingress: {
      enabled: true,
      className: "nginx",
      annotations: { "nginx.ingress.kubernetes.io/proxy-body-size": "1m" },
      hosts: [{ host: "api.example.test", paths: [{ path: "/", pathType: "Prefix" }] }],
      tls: [{ secretName: "api-tls", hosts: ["api.example.test"] }],
    },
    serviceMonitor: {
      enabled: true,
      additionalLabels: { release: "prometheus" },
      interval: "30s",
      scrapeTimeout: "10s",
    },
    service: { type: "NodePort", port: 8080, annotations: { "e2e/service": "yes" } },
    serviceAccount: {
      create: true,
      annotations: { "iam.gke.io/gcp-service-account": "api@project.iam.gserviceaccount.com" },
    },
    imagePullPolicy: "IfNotPresent",
    imagePullSecrets: ["registry-pull"],
    nodeSelector: { "kubernetes.io/os": "linux" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "api", effect: "NoSchedule" }],
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, preference: { matchExpressions: [{ key: "type", operator: "In", values: ["kwok"] }] } },
        ],
      },
    },
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway" },
    ],
    deploymentAnnotations: { "e2e/deployment": "yes" },
    podAnnotations: { "e2e/pod": "first" },
    labels: { "e2e/team": "dati" },
    extraVolumes: [{ name: "scratch", emptyDir: { sizeLimit: "16Mi" } }],
    extraVolumeMounts: [{ name: "scratch", mountPath: "/scratch" }],
    networkPolicy: {
      enabled: true,
      ingressFrom: [
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
      ],
      database: { cidrs: [`${u.hostname}/32`], port: Number(u.port) },
    },
  });
});

afterAll(async () => {
  stopIngressController?.();
  stack?.remove();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  await kube?.delete(`/apis/scheduling.k8s.io/v1/priorityclasses/${PRIORITY_CLASS}`);
  await kube?.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
  await db?.drop();
  kube?.close();
});

describe("a drop-in replacement for the Helm chart, end to end", () => {
  it("without the ServiceMonitor CRD, preview fails naming the CRD, before anything exists", async () => {
    await kube.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
    await kube.waitFor(
      async () =>
        (await kube.tryGet(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`)) === undefined,
      {
        what: "the CRD to be gone",
      },
    );
    const preview = await stack.preview();
    expect(preview.code).not.toBe(0);
    expect(preview.output).toContain(`developers-italia-api-metrics-crd-${CRD_NAME}`);
    expect(preview.output).toMatch(
      new RegExp(`${CRD_NAME.replace(/\./g, "\\.")}.{0,40}(does not exist|not found)`, "i"),
    );
    expect(await kube.tryGet(`/api/v1/namespaces/${NS}`)).toBeUndefined();
  });

  it("with every option on, the real API server accepts every object and the Job gates the rollout", async () => {
    const apply = await run("kubectl", ["apply", "-f", CRD_FILE], env());
    expect(apply.code).toBe(0);
    await kube.waitFor(
      async () =>
        (
          await kube.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
            `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`,
          )
        ).status?.conditions?.some((c) => c.type === "Established" && c.status === "True"),
      { what: "the ServiceMonitor CRD to be established" },
    );
    stopIngressController = standInIngressController(kube, NS);

    const up = await stack.up();
    expect(up.code).toBe(0);

    const [job] = await list<JobObject>(`/apis/batch/v1/namespaces/${NS}/jobs`);
    expect(job.status?.succeeded).toBe(1);
    const [rs] = byCreation(await list<KubeObject>(`/apis/apps/v1/namespaces/${NS}/replicasets`));
    expect(Date.parse(job.status!.completionTime!)).toBeLessThanOrEqual(Date.parse(rs.metadata.creationTimestamp!));

    const [hpa] = await list<KubeObject & { spec: Record<string, unknown> }>(
      `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`,
    );
    const d = await deployment();
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: d.metadata.name },
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [
        { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } },
      ],
    });
    const [pdb] = await list<KubeObject & { spec: Record<string, unknown> }>(
      `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets`,
    );
    expect(pdb.spec).toMatchObject({ maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow" });
    const policies = await list<KubeObject & { spec: { podSelector: { matchLabels: Record<string, string> } } }>(
      `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
    );
    expect(policies.map((p) => p.spec.podSelector.matchLabels["app.kubernetes.io/component"] ?? "api").sort()).toEqual([
      "api",
      "migration",
    ]);
    const [ingress] = await list<KubeObject & { spec: { ingressClassName: string } }>(
      `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`,
    );
    expect(ingress.spec.ingressClassName).toBe("nginx");
    const [monitor] = await list<KubeObject>(`/apis/monitoring.coreos.com/v1/namespaces/${NS}/servicemonitors`);
    expect(monitor.metadata.labels?.release).toBe("prometheus");
    const [svc] = await list<KubeObject & { spec: { type: string; ports: Array<{ port: number }> } }>(
      `/api/v1/namespaces/${NS}/services`,
    );
    expect(svc.spec.type).toBe("NodePort");
    expect(svc.spec.ports[0].port).toBe(8080);

    // The API runs as its own ServiceAccount, with the pod settings of the chart.
    const pod = d.spec.template.spec;
    const accounts = await list<KubeObject>(`/api/v1/namespaces/${NS}/serviceaccounts`);
    const apiAccount = accounts.find((a) => a.metadata.name === pod.serviceAccountName)!;
    expect(apiAccount.metadata.annotations?.["iam.gke.io/gcp-service-account"]).toBe(
      "api@project.iam.gserviceaccount.com",
    );
    const jobAccount = (job as unknown as { spec: { template: { spec: { serviceAccountName: string } } } }).spec
      .template.spec.serviceAccountName;
    expect(jobAccount).not.toBe(pod.serviceAccountName);
    expect(pod.priorityClassName).toBe(PRIORITY_CLASS);
    expect(pod.imagePullSecrets).toEqual([{ name: "registry-pull" }]);
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(pod.volumes).toEqual([{ name: "scratch", emptyDir: { sizeLimit: "16Mi" } }]);
    expect(d.metadata.annotations?.["e2e/deployment"]).toBe("yes");
    expect(d.metadata.labels?.["e2e/team"]).toBe("dati");

    const outputs = await stack.outputs();
    expect(outputs.serviceUrl).toBe(`http://${svc.metadata.name}.${NS}.svc.cluster.local:8080`);
    expect(outputs.readyReplicas).toBeGreaterThanOrEqual(1);
  });

  it("the Deployment's replicas belong to the HPA: Pulumi's field manager never owns them", async () => {
    // The real HPA controller raises the count to minReplicas (it needs no metrics for that).
    const scaled = await kube.waitFor(
      async () => {
        const d = await deployment();
        return d.spec.replicas === 2 ? d : undefined;
      },
      { timeoutMs: 90_000, what: "the HPA to scale the Deployment to minReplicas" },
    );
    const owners = (scaled.metadata.managedFields ?? []).filter(
      (m) => m.fieldsV1?.["f:spec"]?.["f:replicas"] !== undefined,
    );
    expect(owners.map((m) => m.manager)).not.toContainEqual(expect.stringMatching(/^pulumi/));
    // The 2 is the HPA's doing (the API server defaulted the omitted field to 1): its controller
    // records the rescale. No managedFields entry shows it: the API server does not track a
    // `/scale` write while nobody owns `.spec.replicas` (kubernetes/kubernetes#131892).
    const hpa = await kube.waitFor(
      async () => {
        const [h] = await list<KubeObject & { status?: { lastScaleTime?: string; desiredReplicas?: number } }>(
          `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`,
        );
        return h.status?.lastScaleTime ? h : undefined;
      },
      { timeoutMs: 30_000, what: "the HPA to record its rescale" },
    );
    expect(hpa.status?.desiredReplicas).toBe(2);
  });

  it("a later up, with a new migration and a pod change, keeps the scale another manager set, and still gates", async () => {
    // Another autoscaler (or an operator's `kubectl scale`) moves the count within the HPA's range.
    const d = await deployment();
    await kube.patch(
      `/apis/apps/v1/namespaces/${NS}/deployments/${d.metadata.name}/scale?fieldManager=${FIELD_MANAGER}`,
      { spec: { replicas: 4 } },
      "merge",
    );
    await kube.waitFor(async () => (await deployment()).spec.replicas === 4, { what: "the scale to apply" });

    stack.writeMigration("20270301000000_chart_e2e.sql", "ALTER TABLE software ADD COLUMN chart_e2e text;\n");
    setObjectConfig({ podAnnotations: { "e2e/pod": "second" } });
    const before = await list<KubeObject>(`/apis/apps/v1/namespaces/${NS}/replicasets`);
    const up = await stack.up();
    expect(up.code).toBe(0);
    expect(up.output).not.toMatch(/conflict/i);

    const after = await deployment();
    expect(after.spec.template.metadata.annotations?.["e2e/pod"]).toBe("second");
    expect(after.spec.replicas).toBe(4);
    // Still 4 a little later: nothing fights over it.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await deployment()).spec.replicas).toBe(4);

    // The gate: the new Job completed before the new ReplicaSet existed.
    const newJob = byCreation(await list<JobObject>(`/apis/batch/v1/namespaces/${NS}/jobs`)).pop()!;
    const newRs = (await list<KubeObject>(`/apis/apps/v1/namespaces/${NS}/replicasets`)).filter(
      (rs) => !before.some((b) => b.metadata.uid === rs.metadata.uid),
    );
    expect(newRs).toHaveLength(1);
    expect(Date.parse(newJob.status!.completionTime!)).toBeLessThanOrEqual(
      Date.parse(newRs[0].metadata.creationTimestamp!),
    );
    expect(after.spec.template.metadata.annotations?.["deploy.developers.italia.it/migration-job"]).toBe(
      newJob.metadata.name,
    );
  });
});
