import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configMapData, configMapItems, migrationPodSpec, SECRET_KEY } from "../lib/migration/run";

/**
 * The benchmarks' reference: the same Kubernetes objects as the real program, wired the
 * plain way: a raw Job with dependsOn, no integrity check, no plan, no preflight, no
 * destructive-change guard, no components. Copied over index.ts by bench/run.ts.
 */
const config = new pulumi.Config();
const ns = config.require("namespace");
const url = config.requireSecret("databaseDsn");
// At run time this file is the stack's index.ts, next to migrations/.
const dir = path.join(__dirname, "migrations");
const names = fs
  .readdirSync(dir)
  .filter((n) => n.endsWith(".sql"))
  .sort();
const files = names.map((name) => ({
  name,
  version: name.slice(0, 14),
  description: "",
  text: fs.readFileSync(path.join(dir, name), "utf8"),
  bytes: Buffer.alloc(0),
}));
const sumText = fs.readFileSync(path.join(dir, "atlas.sum"), "utf8");
const input = {
  atlasImage: "arigaio/atlas:0.13.1",
  atlasLockTimeout: "10s",
  postgresLockTimeout: "5s",
  deadlineSeconds: 300,
  sumTotal: "",
};

const namespace = new k8s.core.v1.Namespace("ns", { metadata: { name: ns } });
const meta = { namespace: namespace.metadata.name };
const sa = new k8s.core.v1.ServiceAccount("sa", { metadata: meta, automountServiceAccountToken: false });
const secret = new k8s.core.v1.Secret("db", { metadata: meta, stringData: { [SECRET_KEY]: url } });
const data = configMapData({ path: dir, files, hashFile: { total: "", entries: [] } }, sumText);
const cm = new k8s.core.v1.ConfigMap("files", { metadata: meta, immutable: true, data });
const job = new k8s.batch.v1.Job(
  "job",
  {
    metadata: { ...meta, annotations: { "pulumi.com/replaceUnready": "true" } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: 300,
      template: migrationPodSpec(
        input,
        { serviceAccount: sa.metadata.name, secret: secret.metadata.name, configMap: cm.metadata.name },
        configMapItems(data),
        "reference",
        "IfNotPresent",
      ),
    },
  },
  { dependsOn: [sa, secret, cm] },
);
const env = new k8s.core.v1.Secret("env", { metadata: meta, stringData: { DATABASE_DSN: url } });
const labels = { app: "reference" };
new k8s.apps.v1.Deployment(
  "api",
  {
    metadata: meta,
    spec: {
      replicas: Number(config.get("replicas") ?? "2"),
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "api",
              image: `ghcr.io/italia/developers-italia-api:${config.get("imageTag") ?? "v1.4.0"}`,
              ports: [{ name: "http", containerPort: 3000 }],
              env: [
                { name: "DATABASE_DSN", valueFrom: { secretKeyRef: { name: env.metadata.name, key: "DATABASE_DSN" } } },
              ],
              readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
            },
          ],
        },
      },
    },
  },
  { dependsOn: [job] },
);
new k8s.core.v1.Service("svc", {
  metadata: meta,
  spec: { selector: labels, ports: [{ port: 80, targetPort: "http" }] },
});
