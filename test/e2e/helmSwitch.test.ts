import * as fs from "fs";
import * as path from "path";
import { runGormOracle } from "../../testbed/gormOracle";
import { standInIngressController } from "../../testbed/ingressController";
import { KubeClient, kubeClient, KubeObject } from "../../testbed/kube";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";
import { CommandResult, TestStack } from "../../testbed/stack";
import { expectedApiSchema, readSchema } from "../support/schema";

/**
 * Switching from the Helm chart as its users do it (issue 27, docs/helm-chart.md): what a
 * release of chart v0.6.0 creates (written from reading the chart: names, labels, the Secret's
 * keys and its key=value DSN), on a database the v1.3.0 API built with GORM AutoMigrate, with
 * rows in it. Then the guide's steps through the real CLI; the secret-copy commands are read
 * from the guide itself and run as written. The release's pods must never be touched.
 */

jest.setTimeout(15 * 60_000);

const NS = `e2e-switch-${process.pid}`;
const RELEASE = "api";
const CHART_NAME = `${RELEASE}-developers-italia-api`;
const V3 = "20260508000000";
const V4 = "20260525000000";
const GUIDE = path.join(__dirname, "../../docs/helm-chart.md");

let kube: KubeClient;
let db: TestDatabase;
let stack: TestStack;
let stopIngressController: (() => void) | undefined;
// The useExistingSecret path: its own namespace, database and stack.
const SECRET_NS = `${NS}-secret`;
const USER_SECRET = "api-database";
let secretDb: TestDatabase | undefined;
let secretStack: TestStack | undefined;

function succeeded(result: CommandResult): string {
  if (result.code !== 0) throw new Error(`exit ${result.code}:\n${result.output}`);
  return result.output;
}

/** The guide's `sh` blocks in a step (2: secrets, 3: the baseline), in order. */
function guideBlocks(step: 2 | 3 = 2): string[] {
  const text = fs.readFileSync(GUIDE, "utf8");
  const starts: Record<number, string> = { 2: "2. **Secrets.**", 3: "3. **Baseline.**", 4: "4. **Run alongside.**" };
  const part = text.slice(text.indexOf(starts[step]), text.indexOf(starts[step + 1]));
  return [...part.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].replace(/^ {3}/gm, ""));
}

/**
 * A guide block run as a user runs it, in the stack's folder, with the release and namespace
 * (and any other placeholder in `fill`) filled in.
 */
function runGuide(
  block: string,
  prelude = "",
  on: TestStack = stack,
  fill: Record<string, string> = {},
): Promise<CommandResult> {
  let script = `set -euo pipefail\n${prelude}${block}`;
  for (const [placeholder, value] of Object.entries({ "<release>": RELEASE, "<namespace>": NS, ...fill }))
    script = script.replaceAll(placeholder, value);
  return on.command("bash", ["-c", script], { KUBECONFIG: process.env.KUBECONFIG ?? "" });
}

const chartLabels = {
  "helm.sh/chart": "developers-italia-api-0.6.0",
  "app.kubernetes.io/name": "developers-italia-api",
  "app.kubernetes.io/instance": RELEASE,
  "app.kubernetes.io/version": "v1.3.0",
  "app.kubernetes.io/managed-by": "Helm",
};
const chartSelector = { "app.kubernetes.io/name": "developers-italia-api", "app.kubernetes.io/instance": RELEASE };

/** What `helm install api` of chart v0.6.0 leaves in the namespace (the objects the program meets). */
async function installChartRelease(dsn: string): Promise<void> {
  const metadata = { name: CHART_NAME, labels: chartLabels };
  const core = `/api/v1/namespaces/${NS}`;
  const post = (collection: string, body: Record<string, unknown>) => kube.post<KubeObject>(collection, body);
  await post(`${core}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata,
    type: "Opaque",
    data: {
      databaseDSN: Buffer.from(dsn).toString("base64"),
      pasetoKey: Buffer.from(Buffer.alloc(32, 3).toString("base64")).toString("base64"),
    },
  });
  await post(`${core}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata });
  await post(`/apis/apps/v1/namespaces/${NS}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata,
    spec: {
      replicas: 1,
      selector: { matchLabels: chartSelector },
      template: {
        metadata: { labels: chartSelector },
        spec: {
          serviceAccountName: CHART_NAME,
          containers: [
            {
              name: "developers-italia-api",
              image: "ghcr.io/italia/developers-italia-api:v1.3.0",
              ports: [{ name: "http", containerPort: 3000, protocol: "TCP" }],
              env: [
                { name: "DATABASE_DSN", valueFrom: { secretKeyRef: { name: CHART_NAME, key: "databaseDSN" } } },
                { name: "PASETO_KEY", valueFrom: { secretKeyRef: { name: CHART_NAME, key: "pasetoKey" } } },
              ],
            },
          ],
        },
      },
    },
  });
  await post(`${core}/services`, {
    apiVersion: "v1",
    kind: "Service",
    metadata,
    spec: { type: "ClusterIP", ports: [{ port: 80, targetPort: "http", name: "http" }], selector: chartSelector },
  });
  await post(`/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`, {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata,
    spec: {
      rules: [
        {
          host: "api.example.org",
          http: {
            paths: [
              {
                path: "/",
                pathType: "ImplementationSpecific",
                backend: { service: { name: CHART_NAME, port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  });
}

/** The release's pods and Deployment as they are: their uids and the Deployment's generation. */
async function releaseState() {
  const selector = encodeURIComponent(`app.kubernetes.io/instance=${RELEASE}`);
  const pods = await kube.list<KubeObject>(`/api/v1/namespaces/${NS}/pods?labelSelector=${selector}`);
  const deployment = await kube.get<KubeObject & { metadata: { generation?: number } }>(
    `/apis/apps/v1/namespaces/${NS}/deployments/${CHART_NAME}`,
  );
  return {
    pods: pods.items.map((p) => p.metadata.uid).sort(),
    deployment: [deployment.metadata.uid, deployment.metadata.generation],
  };
}

beforeAll(async () => {
  kube = kubeClient();
  db = await createDatabase("e2eswitch");
  // The v1.3.0 API's startup on an empty database, then a few rows of the user's.
  await runGormOracle(db.url, "v1.3.0");
  await query(
    db.url,
    `INSERT INTO publishers (id, description, email, active) VALUES
       ('p1', 'Comune di Roma', 'it@example.org', true), ('p2', 'Regione Lazio', NULL, false)`,
  );
  await kube.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  const u = new URL(db.url);
  // The chart's own format (templates/secret.yaml): host, user, password, dbname, port; no sslmode.
  const dsn = `host=${u.hostname} user=${decodeURIComponent(u.username)} password=${decodeURIComponent(u.password)} dbname=${db.name} port=${u.port}`;
  await installChartRelease(dsn);
  // The stack starts with a placeholder DSN: step 2 copies the release's.
  stack = await TestStack.create(
    "switch",
    {
      namespace: NS,
      createNamespace: "false",
      replicas: "1",
      migrationDeadlineSeconds: "120",
    },
    "postgres://placeholder@127.0.0.1:1/none?sslmode=disable",
  );
  await kube.waitFor(async () => (await releaseState()).pods.length === 1, { what: "the release's pod" });
});

afterAll(async () => {
  stopIngressController?.();
  stack?.remove();
  secretStack?.remove();
  await kube?.delete(`/api/v1/namespaces/${NS}`);
  await kube?.delete(`/api/v1/namespaces/${SECRET_NS}`);
  await db?.drop();
  await secretDb?.drop();
  kube?.close();
});

it("follows docs/helm-chart.md from a chart v0.6.0 release to the program, without touching the release", async () => {
  const release = await releaseState();
  const [copy, withoutTls] = guideBlocks();
  expect(copy).toContain("pulumi config set --secret databaseDsn");
  expect(withoutTls).toContain("sslmode=disable");

  // 2. Secrets, exactly as the guide gives them. The chart's DSN has no sslmode: read as
  //    require, which the test bed's PostgreSQL (no TLS) refuses, and the preview says so.
  succeeded(await runGuide(copy));
  await stack.setConfig("migrationPreflight", "online");
  await stack.setConfig("migrationBaseline", V3);
  const noTls = await stack.preview();
  expect(noTls.code).not.toBe(0);
  expect(noTls.output).toContain("sslmode=require");
  succeeded(await runGuide(withoutTls, "release=<release> ns=<namespace>\nsecret=$release-developers-italia-api\n"));

  // 3. The baseline: another release's is refused with the right one named; the right one plans.
  await stack.setConfig("migrationBaseline", V4);
  const wrong = await stack.preview();
  expect(wrong.code).not.toBe(0);
  expect(wrong.output).toContain("it lacks column catalogs.analysis, index idx_catalogs_analysis_gin");
  expect(wrong.output).toContain(`The database has the schema of ${V3}: pulumi config set migrationBaseline ${V3}`);
  await stack.setConfig("migrationBaseline", V3);
  expect(succeeded(await stack.preview())).toContain(`baseline: ${V3} (will be recorded, not run)`);

  // 4. Run alongside: the Job migrates; the release's Deployment and pods are as they were.
  succeeded(await stack.up());
  const revisions = await query<{ version: string; type: string }>(
    db.url,
    "SELECT version, type::text AS type FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
  );
  expect(revisions.map((r) => [r.version, r.type])).toEqual([
    [V3, "1"],
    [V4, "2"],
    ["20260612000000", "2"],
  ]);
  expect(await readSchema(db.url)).toEqual(expectedApiSchema);
  expect(await query(db.url, "SELECT id, description FROM publishers ORDER BY id")).toEqual([
    { id: "p1", description: "Comune di Roma" },
    { id: "p2", description: "Regione Lazio" },
  ]);
  expect(await releaseState()).toEqual(release);
  // Our Service selects our pods only: its selector names this stack's instance, not the release.
  const outputs = await stack.outputs();
  const services = await kube.list<KubeObject & { spec: { selector: Record<string, string> } }>(
    `/api/v1/namespaces/${NS}/services`,
  );
  const ours = services.items.find((s) => s.metadata.name !== CHART_NAME)!;
  expect(ours.spec.selector["app.kubernetes.io/instance"]).toBe(outputs.instance);
  expect(outputs.instance).not.toBe(RELEASE);

  // 5. Move the traffic: our Ingress with the release's host (an ingress controller publishes its address).
  stopIngressController = standInIngressController(kube, NS);
  succeeded(await stack.pulumi("config", "set", "--path", "ingress.enabled", "true"));
  succeeded(await stack.pulumi("config", "set", "--path", "ingress.hosts[0].host", "api.example.org"));
  succeeded(await stack.up());
  const ingresses = await kube.list<KubeObject>(`/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`);
  expect(ingresses.items).toHaveLength(2);
  expect(await releaseState()).toEqual(release);

  // 6. Remove the release (what helm uninstall deletes); nothing of ours changes, and the
  //    baseline may go with the online preflight.
  for (const collection of [
    `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/${CHART_NAME}`,
    `/api/v1/namespaces/${NS}/services/${CHART_NAME}`,
    `/apis/apps/v1/namespaces/${NS}/deployments/${CHART_NAME}`,
    `/api/v1/namespaces/${NS}/serviceaccounts/${CHART_NAME}`,
    `/api/v1/namespaces/${NS}/secrets/${CHART_NAME}`,
  ])
    await kube.delete(collection);
  succeeded(await stack.preview("--expect-no-changes"));
  // Back to the offline plan with the baseline still set (it is ignored now), then without it.
  await stack.setConfig("migrationPreflight", "offline");
  succeeded(await stack.preview("--expect-no-changes"));
  stack.removeConfig("migrationBaseline");
  succeeded(await stack.preview("--expect-no-changes"));
  expect(await query(db.url, "SELECT count(*)::int AS n FROM publishers")).toEqual([{ n: 2 }]);
});

it("follows the guide's useExistingSecret path: the online preflight reads through MIGRATION_PREFLIGHT_DATABASE_URL, checks the baseline, and the URL shows nowhere", async () => {
  // A v1.3.0 database the user's own Secret points at (a postgres:// URL, as that path requires).
  secretDb = await createDatabase("e2eswitchsecret");
  await runGormOracle(secretDb.url, "v1.3.0");
  const password = decodeURIComponent(new URL(secretDb.url).password);
  expect(password.length).toBeGreaterThan(8);
  await kube.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: SECRET_NS } });
  await kube.post(`/api/v1/namespaces/${SECRET_NS}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: USER_SECRET },
    type: "Opaque",
    stringData: { databaseDSN: secretDb.url, pasetoKey: Buffer.alloc(32, 5).toString("base64") },
  });
  secretStack = await TestStack.create(
    "switchsecret",
    { namespace: SECRET_NS, createNamespace: "false", replicas: "1", migrationDeadlineSeconds: "120" },
    "unused",
  );
  secretStack.removeConfig("databaseDsn");
  const on = secretStack;
  const u = new URL(secretDb.url);
  const fill = {
    "<namespace>": SECRET_NS,
    "<your-secret>": USER_SECRET,
    "<host>": u.hostname,
    "<port>": u.port,
    "<database>": secretDb.name,
  };
  const [, , useSecret] = guideBlocks(2);
  const [giveUrl, baseline] = guideBlocks(3);
  expect(useSecret).toContain("pulumi config set useExistingSecret");
  expect(giveUrl).toContain("export MIGRATION_PREFLIGHT_DATABASE_URL=");
  expect(baseline).toContain(`pulumi config set migrationBaseline ${V3}`);
  const shown: string[] = [];
  const seen = (result: CommandResult): CommandResult => {
    shown.push(result.output);
    return result;
  };

  // 2. The Secret the user manages, and the database it names.
  succeeded(seen(await runGuide(useSecret, "", on, fill)));
  // 3. Without the variable the online preflight says how to give it; with it, another
  //    release's baseline is refused naming the right one, then the guide's block plans.
  await on.setConfig("migrationPreflight", "online");
  const unset = seen(await on.preview());
  expect(unset.code).not.toBe(0);
  expect(unset.output).toContain("MIGRATION_PREFLIGHT_DATABASE_URL, which is not set");
  const withUrl = useSecret.split("\n")[0] + "\n" + giveUrl;
  await on.setConfig("migrationBaseline", V4);
  const wrong = seen(await runGuide("pulumi preview --non-interactive --color never\n", withUrl, on, fill));
  expect(wrong.code).not.toBe(0);
  expect(wrong.output).toContain("it lacks column catalogs.analysis, index idx_catalogs_analysis_gin");
  expect(wrong.output).toContain(`The database has the schema of ${V3}: pulumi config set migrationBaseline ${V3}`);
  const planned = succeeded(seen(await runGuide(baseline, withUrl, on, fill)));
  expect(planned).toContain(`baseline: ${V3} (will be recorded, not run)`);
  expect(planned).toContain(`read from the database at ${u.host}/${secretDb.name}`);

  // The plan reviewers approve (pulumi preview --save-plan, the plan file) and npm run plan.
  const scratch = fs.mkdtempSync(path.join(on.dir, "plan-"));
  const env = { MIGRATION_PREFLIGHT_DATABASE_URL: secretDb.url, MIGRATION_PLAN_FILE: path.join(scratch, "plan.json") };
  const saved = path.join(scratch, "update-plan.json");
  succeeded(seen(await on.command("pulumi", ["preview", "--save-plan", saved, "--non-interactive"], env)));
  const planFiles = [fs.readFileSync(saved, "utf8"), fs.readFileSync(env.MIGRATION_PLAN_FILE, "utf8")];
  expect(JSON.parse(planFiles[1]).baseline).toBe(V3);
  const cliPlan = seen(
    await on.command(
      "npm",
      ["run", "--silent", "plan", "--", "--cwd", on.dir, "--stack", "switchsecret", "--format", "json"],
      { MIGRATION_PREFLIGHT_DATABASE_URL: secretDb.url },
      path.resolve(__dirname, "../.."),
    ),
  );
  expect(JSON.parse(succeeded(cliPlan)).baseline).toBe(V3);

  // 4. up, with the variable in its environment: the baseline is recorded and the rest runs.
  succeeded(
    seen(await on.command("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--color", "never"], env)),
  );
  const revisions = await query<{ version: string; type: string }>(
    secretDb.url,
    "SELECT version, type::text AS type FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version",
  );
  expect(revisions.map((r) => [r.version, r.type])).toEqual([
    [V3, "1"],
    [V4, "2"],
    ["20260612000000", "2"],
  ]);
  expect(await readSchema(secretDb.url)).toEqual(expectedApiSchema);

  // Giving the variable or not never changes the Job: online with it, offline without it.
  succeeded(seen(await on.command("pulumi", ["preview", "--expect-no-changes", "--non-interactive"], env)));
  await on.setConfig("migrationPreflight", "offline");
  succeeded(seen(await on.preview("--expect-no-changes")));

  // The URL's password is in no output, plan file or state.
  // (Named, not quoted, so that a failure does not print the password either.)
  const places: Array<[string, string]> = [
    ...shown.map((text, i): [string, string] => [`command output ${i + 1}`, text]),
    ["update-plan.json (--save-plan)", planFiles[0]],
    ["MIGRATION_PLAN_FILE", planFiles[1]],
    ["the state", await on.stateFiles()],
  ];
  expect(places.filter(([, text]) => text.includes(password)).map(([where]) => where)).toEqual([]);
});
