import { KubeClient, kubeClient, KubeObject } from "../../testbed/kube";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";
import { CommandResult, TestStack } from "../../testbed/stack";

/**
 * useExistingSecret on real parts (issue 27): the database URL lives in a Secret managed
 * elsewhere, which the program never reads. When that Secret or its key is missing, or it
 * holds the chart's key=value DSN, the migration Job must fail at once with the cause (the
 * Secret and the key, never the value), not hang until its deadline; once the Secret is put
 * right, the next `up` runs with no cleanup.
 */

jest.setTimeout(10 * 60_000);

const NS = `e2e-existing-${process.pid}`;
const SECRET = "api-db";

let kube: KubeClient;
let db: TestDatabase;
let stack: TestStack;

interface JobObject extends KubeObject {
  status?: { conditions?: Array<{ type: string; status: string; reason?: string }> };
}

async function jobFailureReason(): Promise<string | undefined> {
  const jobs = await kube.list<JobObject>(`/apis/batch/v1/namespaces/${NS}/jobs`);
  const failed = jobs.items.flatMap((j) => j.status?.conditions ?? []).find((c) => c.type === "Failed");
  return failed?.reason;
}

async function putSecret(data: Record<string, string>): Promise<void> {
  await kube.delete(`/api/v1/namespaces/${NS}/secrets/${SECRET}`);
  await kube.post(`/api/v1/namespaces/${NS}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: SECRET },
    type: "Opaque",
    stringData: data,
  });
}

function failedWith(result: CommandResult, text: string): void {
  expect(result.code).not.toBe(0);
  expect(result.output).toContain(text);
  expect(result.output).not.toContain("s3cret");
}

beforeAll(async () => {
  kube = kubeClient();
  db = await createDatabase("e2eexisting");
  await kube.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  stack = await TestStack.create(
    "existing",
    {
      namespace: NS,
      createNamespace: "false",
      replicas: "1",
      useExistingSecret: SECRET,
      // The Job's deadline is long: a failure must come from the Job's own check, not from it.
      migrationDeadlineSeconds: "600",
    },
    "unused",
  );
  stack.removeConfig("databaseDsn");
});

afterAll(async () => {
  stack?.remove();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  await db?.drop();
  kube?.close();
});

it("a missing Secret fails the Job at once, naming the Secret and the key", async () => {
  const up = await stack.up();
  failedWith(up, `no database URL: Secret ${SECRET}, key databaseDSN, is missing or empty`);
  expect(await jobFailureReason()).toBe("BackoffLimitExceeded");
});

it("the chart's key=value DSN fails the Job at once, without printing it", async () => {
  const u = new URL(db.url);
  await putSecret({
    databaseDSN: `host=${u.hostname} user=${u.username} password=s3cret dbname=${db.name} port=${u.port}`,
  });
  const up = await stack.up();
  failedWith(up, `no database URL: Secret ${SECRET}, key databaseDSN, does not hold a postgres:// URL`);
  expect(await jobFailureReason()).toBe("BackoffLimitExceeded");
});

it("once the Secret holds a URL, the next up migrates with no cleanup", async () => {
  await putSecret({ databaseDSN: db.url });
  const up = await stack.up();
  if (up.code !== 0) throw new Error(up.output);
  const revisions = await query<{ version: string }>(
    db.url,
    "SELECT version FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
  );
  expect(revisions).toHaveLength(5);
  expect(await jobFailureReason()).toBeUndefined();
});
