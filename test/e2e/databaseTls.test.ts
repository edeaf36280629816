import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { kubeClient, KubeClient, KubeObject } from "../../testbed/kube";
import { Ca, certDir, makeCa, makeServerCert } from "../support/certs";
import { TestStack } from "../support/stack";
import { startTlsPostgres, TlsPostgres } from "../support/tlsPostgres";

/**
 * databaseCaCert on real parts: the real Pulumi CLI and Kubernetes provider, the migration
 * pod really running Atlas (test bed executor), a PostgreSQL with TLS on whose CA only the
 * stack's config knows. sslmode=verify-full can only succeed in the Job when the bundle is
 * mounted where the URL's sslrootcert points.
 */

jest.setTimeout(15 * 60_000);

interface PodTemplateOwner extends KubeObject {
  spec: {
    template: {
      spec: {
        volumes?: Array<{ name: string; configMap?: { name: string } }>;
        containers: Array<{ volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
      };
    };
  };
}

const NS = `e2e-tls-${process.pid}`;
const DB = "tls_e2e";
const { dir, cleanup } = certDir();
let ca: Ca;
let wrongCa: Ca;
let pg: TlsPostgres;
let kube: KubeClient;
let stack: TestStack;

async function adminQuery(sql: string): Promise<Array<Record<string, unknown>>> {
  const client = new Client({
    host: "127.0.0.1",
    port: pg.port,
    user: "postgres",
    password: pg.password,
    database: sql.startsWith("CREATE DATABASE") ? "postgres" : DB,
    ssl: { rejectUnauthorized: false },
  });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  ca = makeCa(dir, "db-ca");
  wrongCa = makeCa(dir, "other-ca");
  pg = await startTlsPostgres(makeServerCert(dir, ca, "server", "postgres-test", "IP:127.0.0.1"));
  await adminQuery(`CREATE DATABASE ${DB}`);
  kube = kubeClient();
  const dsn = `host=127.0.0.1 port=${pg.port} dbname=${DB} user=postgres password='${pg.password}' sslmode=verify-full`;
  stack = await TestStack.create(
    "tls",
    { namespace: NS, replicas: "1", migrationDeadlineSeconds: "60", environment: "test", migrationPreflight: "online" },
    dsn,
  );
});

afterAll(async () => {
  await stack?.destroy();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  kube?.close();
  await pg?.stop();
  cleanup();
});

describe("databaseCaCert, end to end", () => {
  it("a wrong CA: the online preview refuses over verify-full, before anything exists", async () => {
    await stack.setConfig("databaseCaCert", wrongCa.certPem);
    const preview = await stack.preview();
    expect(preview.code).not.toBe(0);
    expect(preview.output).toContain(
      `cannot connect to the database at 127.0.0.1:${pg.port}/${DB} (sslmode=verify-full, CA bundle from databaseCaCert)`,
    );
    expect(preview.output).not.toContain(pg.password);
    expect(await kube.tryGet(`/api/v1/namespaces/${NS}`)).toBeUndefined();
  });

  it("the right CA: the preview reads the database, the Job applies over verify-full with the mounted bundle", async () => {
    await stack.setConfig("databaseCaCert", ca.certPem);
    const preview = await stack.preview();
    expect(preview.code).toBe(0);
    expect(preview.output).toContain(`preflight online; read from the database at 127.0.0.1:${pg.port}/${DB}`);

    const up = await stack.up();
    expect(up.code).toBe(0);
    expect(up.output).not.toContain(pg.password);
    const files = fs.readdirSync(path.join(stack.migrationsDir)).filter((f) => f.endsWith(".sql"));
    const revisions = await adminQuery("SELECT version FROM atlas_schema_revisions.atlas_schema_revisions");
    expect(revisions).toHaveLength(files.length);

    // One ConfigMap, mounted read-only at the same path in both pods.
    const [job] = (await kube.list<PodTemplateOwner>(`/apis/batch/v1/namespaces/${NS}/jobs`)).items;
    const [api] = (await kube.list<PodTemplateOwner>(`/apis/apps/v1/namespaces/${NS}/deployments`)).items;
    const caConfigMaps = new Set<string>();
    for (const owner of [job, api]) {
      const pod = owner.spec.template.spec;
      const volume = pod.volumes?.find((v) => v.name === "database-ca");
      caConfigMaps.add(volume?.configMap?.name ?? "none");
      expect(pod.containers[0].volumeMounts).toContainEqual({
        name: "database-ca",
        mountPath: "/etc/developers-italia/database-ca",
        readOnly: true,
      });
    }
    expect(caConfigMaps.size).toBe(1);
    expect([...caConfigMaps][0]).toMatch(/^developers-italia-api-db-ca-/);
  });
});
