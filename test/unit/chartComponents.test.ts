import * as pulumi from "@pulumi/pulumi";
import { argsFromConfig } from "../support/apiArgs";
import { migrationDir, migrationFile } from "../support/migrationFiles";
import { recordResources, Registered, valueOf } from "../support/pulumiMocks";
import { DevelopersItaliaApi } from "../../components/developersItaliaApi";

/**
 * The chart's objects (issue 11), decided by config and checked with Pulumi mocks: which
 * resources exist per key, their names and parents, and the wiring between them.
 */

const registered: Registered[] = recordResources();
const DSN = "host=db port=5432 dbname=api user=app password=s3cret sslmode=disable";
const dir = migrationDir([migrationFile("20250909000000", "CREATE TABLE a (id text);")]);

/** The component built from settings the way index.ts builds it. */
async function deploy(values: Record<string, unknown>, withDsn = true) {
  registered.length = 0;
  const all: Record<string, unknown> = { ...(withDsn ? { databaseDsn: DSN } : {}), ...values };
  const api = new DevelopersItaliaApi("dia", await argsFromConfig(all, dir, "dia"));
  await valueOf(pulumi.all([api.deployment.urn, api.service.urn, api.migration.job.urn, api.serviceUrl]));
  await new Promise((r) => setImmediate(r));
  return api;
}
const named = (name: string) => {
  const found = registered.filter((r) => r.name === name);
  expect(found).toHaveLength(1);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return found[0] as Registered & { inputs: any };
};
const has = (name: string) => registered.some((r) => r.name === name);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const podSpec = () => named("dia-api").inputs.spec.template.spec as any;

const EVERYTHING = {
  autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 6, targetMemoryUtilizationPercentage: 75 },
  ingress: {
    enabled: true,
    className: "nginx",
    annotations: { "cert-manager.io/cluster-issuer": "letsencrypt" },
    hosts: [{ host: "api.example.org", paths: [{ path: "/", pathType: "Prefix" }] }],
    tls: [{ secretName: "api-tls", hosts: ["api.example.org"] }],
  },
  serviceMonitor: { enabled: true, additionalLabels: { release: "prom" }, interval: "30s" },
  networkPolicy: {
    enabled: true,
    ingressFrom: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }],
    database: { cidrs: ["10.1.2.3/32"], port: 5433 },
  },
};

describe("chart objects: present or absent per key", () => {
  it("by default: a ClusterIP Service on 80, the API's own ServiceAccount and a PDB; nothing opt-in", async () => {
    await deploy({});
    for (const name of ["dia-hpa", "dia-ingress", "dia-metrics", "dia-api-netpol", "dia-migrate-netpol"]) {
      expect(has(name)).toBe(false);
    }
    expect(named("dia-svc").inputs.spec).toMatchObject({
      type: "ClusterIP",
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    });
    expect(named("dia-pdb").inputs.spec).toEqual({
      selector: {
        matchLabels: { "app.kubernetes.io/name": "developers-italia-api", "app.kubernetes.io/instance": "dia" },
      },
      maxUnavailable: 1,
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    });
    expect(named("dia-api").inputs.spec.replicas).toBe(2);
  });

  it("with every option on: each object is a child of the component, named after it", async () => {
    await deploy(EVERYTHING);
    const chartObjects = registered
      .filter((r) =>
        [
          "dia-hpa",
          "dia-pdb",
          "dia-ingress",
          "dia-metrics",
          "dia-api-netpol",
          "dia-migrate-netpol",
          "dia-api-sa",
        ].includes(r.name),
      )
      .map((r) => [r.type, r.name, r.parent])
      .sort();
    expect(chartObjects).toEqual(
      [
        ["kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "dia-hpa", "dia"],
        ["kubernetes:policy/v1:PodDisruptionBudget", "dia-pdb", "dia"],
        ["kubernetes:networking.k8s.io/v1:Ingress", "dia-ingress", "dia"],
        ["kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "dia-metrics", "dia"],
        ["kubernetes:networking.k8s.io/v1:NetworkPolicy", "dia-api-netpol", "dia"],
        ["kubernetes:networking.k8s.io/v1:NetworkPolicy", "dia-migrate-netpol", "dia"],
        ["kubernetes:core/v1:ServiceAccount", "dia-api-sa", "dia"],
      ].sort(),
    );
  });
});

describe("the HPA and replicas", () => {
  it("leaves replicas out of the Deployment, so Pulumi never owns the count the HPA sets", async () => {
    await deploy(EVERYTHING);
    expect("replicas" in named("dia-api").inputs.spec).toBe(false);
    const hpa = named("dia-hpa").inputs.spec;
    expect(hpa).toEqual({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "dia-api-x1y2z3" },
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [
        { type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 75 } } },
      ],
    });
    expect(named("dia-hpa").dependsOn).toContain("dia-api");
  });

  it("without autoscaling, the fixed count is applied and there is no HPA", async () => {
    await deploy({ replicas: "3" });
    expect(named("dia-api").inputs.spec.replicas).toBe(3);
    expect(has("dia-hpa")).toBe(false);
  });

  it("with replicas 0, the Deployment runs no pods and there is no budget", async () => {
    await deploy({ replicas: "0", podDisruptionBudget: { enabled: true } });
    expect(named("dia-api").inputs.spec.replicas).toBe(0);
    expect(has("dia-pdb")).toBe(false);
    expect(has("dia-hpa")).toBe(false);
  });
});

describe("exposure", () => {
  it("routes every Ingress path to the Service's http port, with TLS per host set", async () => {
    await deploy(EVERYTHING);
    const ingress = named("dia-ingress").inputs;
    expect(ingress.metadata.annotations).toEqual({ "cert-manager.io/cluster-issuer": "letsencrypt" });
    expect(ingress.spec).toEqual({
      ingressClassName: "nginx",
      tls: [{ secretName: "api-tls", hosts: ["api.example.org"] }],
      rules: [
        {
          host: "api.example.org",
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: "dia-svc-x1y2z3", port: { name: "http" } } },
              },
            ],
          },
        },
      ],
    });
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["a Secret of its own", { secretName: "api-tls" }, { secretName: "api-tls" }],
    ["the controller's default certificate", {}, {}],
  ])("takes ingress.tls with %s", async (_, given, applied) => {
    const host = "api.example.org";
    await deploy({ ingress: { enabled: true, hosts: [{ host }], tls: [{ ...given, hosts: [host] }] } });
    expect(named("dia-ingress").inputs.spec.tls).toEqual([{ ...applied, hosts: [host] }]);
  });

  it("reads the ServiceMonitor CRD before creating one, so a missing CRD fails on a lookup named after it", async () => {
    await deploy(EVERYTHING);
    const crd = named("dia-metrics-crd-servicemonitors.monitoring.coreos.com");
    expect(crd.type).toBe("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition");
    const monitor = named("dia-metrics");
    expect(monitor.dependsOn).toEqual(
      expect.arrayContaining(["dia-metrics-crd-servicemonitors.monitoring.coreos.com"]),
    );
    expect(monitor.inputs.metadata.labels.release).toBe("prom");
    expect(monitor.inputs.spec).toEqual({
      selector: {
        matchLabels: { "app.kubernetes.io/name": "developers-italia-api", "app.kubernetes.io/instance": "dia" },
      },
      namespaceSelector: { matchNames: ["developers-italia"] },
      endpoints: [{ port: "http", path: "/metrics", interval: "30s" }],
    });
  });

  it("exports the Service's in-cluster URL, with the port when it is not 80", async () => {
    expect(await valueOf((await deploy({})).serviceUrl)).toBe(
      "http://dia-svc-x1y2z3.developers-italia.svc.cluster.local",
    );
    const api = await deploy({ service: { type: "LoadBalancer", port: 8080 } });
    expect(await valueOf(api.serviceUrl)).toBe("http://dia-svc-x1y2z3.developers-italia.svc.cluster.local:8080");
    expect(named("dia-svc").inputs.spec.type).toBe("LoadBalancer");
  });
});

describe("the pod: scheduling, identity, metadata, volumes", () => {
  it("carries every scheduling and pull setting, spreading the API's own pods by default", async () => {
    await deploy({
      imagePullPolicy: "Always",
      imagePullSecrets: ["ghcr"],
      nodeSelector: { "kubernetes.io/os": "linux" },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "api", effect: "NoSchedule" }],
      affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
      ],
      priorityClassName: "api-high",
    });
    const pod = podSpec();
    expect(pod.containers[0].imagePullPolicy).toBe("Always");
    expect(pod.imagePullSecrets).toEqual([{ name: "ghcr" }]);
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(pod.tolerations).toEqual([{ key: "dedicated", operator: "Equal", value: "api", effect: "NoSchedule" }]);
    expect(pod.affinity).toEqual({ nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } });
    expect(pod.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: {
          matchLabels: { "app.kubernetes.io/name": "developers-italia-api", "app.kubernetes.io/instance": "dia" },
        },
      },
    ]);
    expect(pod.priorityClassName).toBe("api-high");
    // The migration Job pulls with the same secrets.
    expect(named("dia-migrate-job").inputs.spec.template.spec.imagePullSecrets).toEqual([{ name: "ghcr" }]);
  });

  it.each([["IfNotPresent"], ["Always"], ["Never"]])(
    "pulls the API and the migration Job's images with imagePullPolicy %s",
    async (imagePullPolicy) => {
      await deploy({ imagePullPolicy });
      expect(podSpec().containers[0].imagePullPolicy).toBe(imagePullPolicy);
      expect(named("dia-migrate-job").inputs.spec.template.spec.containers[0].imagePullPolicy).toBe(imagePullPolicy);
    },
  );

  it("runs the API as its own ServiceAccount, distinct from the migration's, with its annotations", async () => {
    await deploy({
      serviceAccount: { annotations: { "iam.gke.io/gcp-service-account": "api@p.iam.gserviceaccount.com" } },
    });
    const sa = named("dia-api-sa");
    expect(sa.inputs.metadata.annotations).toEqual({
      "iam.gke.io/gcp-service-account": "api@p.iam.gserviceaccount.com",
    });
    expect(sa.inputs.automountServiceAccountToken).toBe(false);
    expect(podSpec().serviceAccountName).toBe("dia-api-sa-x1y2z3");
    expect(named("dia-migrate-job").inputs.spec.template.spec.serviceAccountName).toBe("dia-migrate-sa-x1y2z3");
  });

  it("uses an existing ServiceAccount by name without creating one", async () => {
    await deploy({ serviceAccount: { create: false, name: "api-identity" } });
    expect(has("dia-api-sa")).toBe(false);
    expect(podSpec().serviceAccountName).toBe("api-identity");
  });

  it("puts deployment and pod annotations and extra labels where they belong, the gate's annotations intact", async () => {
    const api = await deploy({
      deploymentAnnotations: { "reloader.stakater.com/auto": "true" },
      podAnnotations: { "prometheus.io/scrape": "true" },
      labels: { team: "dati" },
    });
    const d = named("dia-api").inputs;
    expect(d.metadata.annotations).toEqual({ "reloader.stakater.com/auto": "true" });
    expect(d.metadata.labels.team).toBe("dati");
    expect(d.spec.template.metadata.labels.team).toBe("dati");
    expect(d.spec.template.metadata.annotations).toEqual({
      "prometheus.io/scrape": "true",
      "deploy.developers.italia.it/migration-job": "dia-migrate-job-x1y2z3",
      "deploy.developers.italia.it/migration-key": api.migration.key,
    });
    expect(d.spec.selector.matchLabels).toEqual({
      "app.kubernetes.io/name": "developers-italia-api",
      "app.kubernetes.io/instance": "dia",
    });
    // No timestamp annotation (the chart wrote the render time).
    expect(JSON.stringify(d)).not.toMatch(/timestamp/i);
    expect(named("dia-svc").inputs.metadata.labels.team).toBe("dati");
  });

  it("mounts extra volumes into the API container only", async () => {
    await deploy({
      extraVolumes: [{ name: "ca", configMap: { name: "corp-ca" } }],
      extraVolumeMounts: [{ name: "ca", mountPath: "/etc/ssl/corp", readOnly: true }],
    });
    expect(podSpec().volumes).toEqual([{ name: "ca", configMap: { name: "corp-ca" } }]);
    expect(podSpec().containers[0].volumeMounts).toEqual([{ name: "ca", mountPath: "/etc/ssl/corp", readOnly: true }]);
    expect(JSON.stringify(named("dia-migrate-job").inputs)).not.toContain("corp-ca");
  });
});

describe("useExistingSecret", () => {
  it("creates no Secret; the API and the Job read the chart's keys from the existing one", async () => {
    await deploy({ useExistingSecret: "api-db" }, false);
    expect(registered.filter((r) => r.type === "kubernetes:core/v1:Secret")).toEqual([]);
    expect(podSpec().containers[0].env.filter((e: { valueFrom?: unknown }) => e.valueFrom)).toEqual([
      { name: "DATABASE_DSN", valueFrom: { secretKeyRef: { name: "api-db", key: "databaseDSN" } } },
      { name: "PASETO_KEY", valueFrom: { secretKeyRef: { name: "api-db", key: "pasetoKey", optional: true } } },
    ]);
    const job = named("dia-migrate-job");
    // Optional, so that a missing Secret or key fails the Job at once, through atlas.hcl's check.
    expect(job.inputs.spec.template.spec.containers[0].env[0]).toEqual({
      name: "DATABASE_URL",
      valueFrom: { secretKeyRef: { name: "api-db", key: "databaseDSN", optional: true } },
    });
    expect(job.dependsOn).not.toContain("dia-migrate-db");
    const hcl = named("dia-migrate-files").inputs.data["atlas.hcl"] as string;
    expect(hcl).toContain("no database URL: Secret api-db, key databaseDSN, is missing or empty");
    expect(hcl).toContain("does not hold a postgres:// URL");
  });
});

describe("NetworkPolicies", () => {
  it("lets the API serve only the listed peers and reach only the database, DNS and public HTTPS", async () => {
    await deploy(EVERYTHING);
    const api = named("dia-api-netpol").inputs.spec;
    expect(api.podSelector).toEqual({
      matchLabels: { "app.kubernetes.io/name": "developers-italia-api", "app.kubernetes.io/instance": "dia" },
    });
    expect(api.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(api.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }],
        ports: [{ protocol: "TCP", port: 3000 }],
      },
    ]);
    expect(api.egress[0]).toEqual({
      to: [{ ipBlock: { cidr: "10.1.2.3/32" } }],
      ports: [{ protocol: "TCP", port: 5433 }],
    });
    expect(api.egress[1].ports).toEqual([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
    expect(api.egress[2].ports).toEqual([{ protocol: "TCP", port: 443 }]);
    expect(api.egress[2].to[0].ipBlock).toEqual({
      cidr: "0.0.0.0/0",
      except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"],
    });
  });

  it.each<[string, string[], string[], string[]]>([
    ["nothing extra", [], [], []],
    ["a carrier-grade NAT range", ["100.64.0.0/10"], ["100.64.0.0/10"], []],
    ["an IPv6 range", ["2001:db8::/32"], [], ["2001:db8::/32"]],
    ["a range already blocked, once", ["10.0.0.0/8"], [], []],
  ])("webhookExceptCidrs adds to the private ranges, never replaces them: %s", async (_, extra, v4, v6) => {
    await deploy({ networkPolicy: { ...EVERYTHING.networkPolicy, webhookExceptCidrs: extra } });
    const [public4, public6] = named("dia-api-netpol").inputs.spec.egress[2].to;
    expect(public4.ipBlock).toEqual({
      cidr: "0.0.0.0/0",
      except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8", ...v4],
    });
    expect(public6.ipBlock).toEqual({ cidr: "::/0", except: ["fc00::/7", "fe80::/10", "::1/128", ...v6] });
  });

  it("gives the migration Job its own policy: no ingress, the database and DNS only", async () => {
    await deploy(EVERYTHING);
    const job = named("dia-migrate-netpol").inputs.spec;
    expect(job.podSelector).toEqual({
      matchLabels: { "app.kubernetes.io/name": "developers-italia-api", "app.kubernetes.io/component": "migration" },
    });
    // The selector matches the Job's pod template, and not the API's pods.
    const template = named("dia-migrate-job").inputs.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(job.podSelector.matchLabels)) expect(template[k]).toBe(v);
    expect(named("dia-api").inputs.spec.template.metadata.labels["app.kubernetes.io/component"]).toBeUndefined();
    expect(job.ingress).toEqual([]);
    expect(job.egress).toHaveLength(2);
    expect(job.egress[0].ports).toEqual([{ protocol: "TCP", port: 5433 }]);
  });
});

describe("the instance label", () => {
  it("is in every object's labels and in every selector, so two stacks in one namespace stay apart", async () => {
    const selectors = async (instance: string) => {
      await deploy({ instance, networkPolicy: EVERYTHING.networkPolicy });
      return {
        deployment: named("dia-api").inputs.spec.selector.matchLabels,
        template: named("dia-api").inputs.spec.template.metadata.labels["app.kubernetes.io/instance"],
        service: named("dia-svc").inputs.spec.selector,
        pdb: named("dia-pdb").inputs.spec.selector.matchLabels,
        netpol: named("dia-api-netpol").inputs.spec.podSelector.matchLabels,
      };
    };
    const prod = { "app.kubernetes.io/name": "developers-italia-api", "app.kubernetes.io/instance": "prod" };
    expect(await selectors("prod")).toEqual({
      deployment: prod,
      template: "prod",
      service: prod,
      pdb: prod,
      netpol: prod,
    });
    const staging = { ...prod, "app.kubernetes.io/instance": "staging" };
    expect(await selectors("staging")).toMatchObject({ deployment: staging, service: staging, pdb: staging });
  }, 20_000);
});
