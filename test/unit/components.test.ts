import * as pulumi from "@pulumi/pulumi";
import { formatHashFile } from "../../lib/migration/atlasSum";
import { JOB_ANNOTATION, KEY_ANNOTATION, migrationKey, type MigrationRunInput } from "../../lib/migration/run";
import { migrationDir, migrationFile } from "../support/migrationFiles";
import { testArgs, type TestOverrides } from "../support/apiArgs";
import { recordResources, Registered, valueOf } from "../support/pulumiMocks";
// The components register nothing at import time, so importing them before the mocks is safe.
import { DevelopersItaliaApi } from "../../components/developersItaliaApi";

const registered: Registered[] = recordResources();

// Pulumi's wire marker for a secret value (sdk/nodejs/runtime/rpc.ts specialSigKey / specialSecretSig).
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270";
const DIGEST = `sha256:${"b".repeat(64)}`;
const URL = "postgres://app:s3cret@db:5432/api?sslmode=disable";
const dir = migrationDir([
  migrationFile("20250909000000", "CREATE TABLE a (id text);"),
  migrationFile("20260410000000", "ALTER TABLE a ADD COLUMN b text;"),
]);

type Api = InstanceType<typeof DevelopersItaliaApi>;
function build(overrides: TestOverrides = {}, name = "dia"): Api {
  registered.length = 0;
  return new DevelopersItaliaApi(
    name,
    testArgs(dir, {
      instance: name,
      database: { url: pulumi.secret(URL) },
      ...overrides,
      workload: {
        image: `ghcr.io/italia/developers-italia-api@${DIGEST}`,
        pasetoKey: pulumi.secret(Buffer.alloc(32, 7).toString("base64")),
        env: { ENVIRONMENT: "production", MAX_REQUESTS: "10" },
        ...overrides.workload,
      },
    }),
  );
}

/** Waits until every registration the component started has reached the mocks. */
async function settled(api: Api) {
  await valueOf(pulumi.all([api.deployment.urn, api.service.urn, api.migration.job.urn, api.deployment.metadata.name]));
  await new Promise((r) => setImmediate(r));
}
const byType = (type: string) => registered.filter((r) => r.type === type);
const one = (type: string) => {
  const found = byType(type);
  expect(found).toHaveLength(1);
  return found[0];
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const inputs = (type: string) => one(type).inputs as any;

describe("DevelopersItaliaApi", () => {
  it("creates exactly these resources for the config's defaults, named after the component and parented to it", async () => {
    const api = build();
    await settled(api);
    expect(registered.map((r) => [r.type, r.name, r.parent ?? null]).sort()).toEqual(
      [
        ["developers-italia:app:DevelopersItaliaApi", "dia", null],
        ["developers-italia:migrations:AtlasMigration", "dia-migrate", "dia"],
        ["kubernetes:apps/v1:Deployment", "dia-api", "dia"],
        ["kubernetes:batch/v1:Job", "dia-migrate-job", "dia-migrate"],
        ["kubernetes:core/v1:ConfigMap", "dia-migrate-files", "dia-migrate"],
        ["kubernetes:core/v1:Namespace", "dia-ns", "dia"],
        ["kubernetes:core/v1:Secret", "dia-env", "dia"],
        ["kubernetes:core/v1:Secret", "dia-migrate-db", "dia-migrate"],
        ["kubernetes:core/v1:Service", "dia-svc", "dia"],
        ["kubernetes:core/v1:ServiceAccount", "dia-migrate-sa", "dia-migrate"],
        ["kubernetes:core/v1:ServiceAccount", "dia-api-sa", "dia"],
        // Two replicas by default: a drain keeps one serving.
        ["kubernetes:policy/v1:PodDisruptionBudget", "dia-pdb", "dia"],
      ].sort(),
    );
  });

  it("makes the Job depend on everything it uses, so a first install works", async () => {
    await settled(build());
    const job = registered.find((r) => r.name === "dia-migrate-job")!;
    expect(job.dependsOn).toEqual(
      expect.arrayContaining(["dia-migrate-sa", "dia-migrate-db", "dia-migrate-files", "dia-ns"]),
    );
  });

  it("makes the Deployment depend on the Job, and records the run on its pod template", async () => {
    const api = build();
    await settled(api);
    const deployment = registered.find((r) => r.name === "dia-api")!;
    expect(deployment.dependsOn).toContain("dia-migrate-job");
    const annotations = inputs("kubernetes:apps/v1:Deployment").spec.template.metadata.annotations;
    expect(annotations[JOB_ANNOTATION]).toBe("dia-migrate-job-x1y2z3");
    expect(annotations[KEY_ANNOTATION]).toBe(api.migration.key);
  });

  it("configures the Job as a gate: no retries, a deadline below Pulumi's timeout, replaced when it failed", async () => {
    await settled(build({ migration: { deadlineSeconds: 240 } }));
    const job = inputs("kubernetes:batch/v1:Job");
    expect(job.metadata.name).toBeUndefined(); // autonamed: create-before-delete, no immutable-name clash
    expect(job.metadata.annotations).toEqual({ "pulumi.com/replaceUnready": "true" });
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.activeDeadlineSeconds).toBe(240);
    // Pulumi waits longer than Kubernetes, so the Job's own DeadlineExceeded is what fails the up.
    expect(registered.find((r) => r.name === "dia-migrate-job")!.createTimeout).toBe("360s");
    expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe("dia-migrate-sa-x1y2z3");
    const [container] = pod.containers;
    expect(container.terminationMessagePolicy).toBe("FallbackToLogsOnError");
    expect(container.image).toBe("arigaio/atlas:0.13.1");
    expect(container.command).toEqual(["/atlas"]);
    expect(container.args).toEqual([
      "migrate",
      "apply",
      "--config",
      "file:///etc/atlas/atlas.hcl",
      "--env",
      "deploy",
      "--dir",
      "file:///etc/atlas/migrations",
      "--tx-mode",
      "file",
      "--lock-timeout",
      "10s",
    ]);
    // No --exec-order (Atlas 0.13 lacks it; later releases default to linear, the key's
    // order). Both the tested release and the default stay quiet and write only to /tmp.
    expect(container.env.filter((e: { value?: string }) => e.value !== undefined)).toEqual([
      { name: "ATLAS_NO_UPDATE_NOTIFIER", value: "1" },
      { name: "ATLAS_NO_UPGRADE_SUGGESTIONS", value: "1" },
      { name: "ATLAS_NO_ANON_TELEMETRY", value: "true" },
      { name: "HOME", value: "/tmp" },
    ]);
  });

  it("hardens the migration and API pods", async () => {
    await settled(build());
    for (const pod of [
      inputs("kubernetes:batch/v1:Job").spec.template.spec,
      inputs("kubernetes:apps/v1:Deployment").spec.template.spec,
    ]) {
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 65532,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.containers[0].securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ["ALL"] },
      });
    }
    for (const sa of byType("kubernetes:core/v1:ServiceAccount")) {
      expect(sa.inputs.automountServiceAccountToken).toBe(false);
    }
  });

  it("passes --baseline only when configured", async () => {
    await settled(build({ migration: { baseline: "20250909000000" } }));
    expect(inputs("kubernetes:batch/v1:Job").spec.template.spec.containers[0].args.slice(-2)).toEqual([
      "--baseline",
      "20250909000000",
    ]);
    await settled(build());
    expect(inputs("kubernetes:batch/v1:Job").spec.template.spec.containers[0].args).not.toContain("--baseline");
  });

  it("keeps the database URL secret: in a Secret, referenced by name, never in args or env values", async () => {
    await settled(build());
    const job = JSON.stringify(inputs("kubernetes:batch/v1:Job"));
    const deployment = JSON.stringify(inputs("kubernetes:apps/v1:Deployment"));
    for (const spec of [job, deployment]) {
      expect(spec).not.toContain("s3cret");
      expect(spec).not.toContain("postgres://");
    }
    const env = inputs("kubernetes:batch/v1:Job").spec.template.spec.containers[0].env;
    expect(env[0]).toEqual({
      name: "DATABASE_URL",
      valueFrom: { secretKeyRef: { name: "dia-migrate-db-x1y2z3", key: "databaseUrl" } },
    });
    const secrets = byType("kubernetes:core/v1:Secret");
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const stringData = secrets.map((s) => (s.inputs as any).stringData);
    // The mock monitor receives secrets in Pulumi's wire form: {<secret signature>, value}.
    for (const data of stringData) expect(data[SECRET_SIG]).toBe(SECRET_MARK);
    expect(stringData.map((d) => Object.keys(d.value)).sort()).toEqual([
      ["DATABASE_DSN", "PASETO_KEY"],
      ["databaseUrl"],
    ]);
    // The API gets the user's URL; only the Job's adds the migration session's settings.
    const [apiData, jobData] = [...stringData].sort((a, b) =>
      a.value.DATABASE_DSN ? -1 : b.value.DATABASE_DSN ? 1 : 0,
    );
    expect(apiData.value.DATABASE_DSN).toBe(URL);
    expect(jobData.value.databaseUrl).toBe(
      `${URL}&lock_timeout=5s&statement_timeout=295s&client_connection_check_interval=2s` +
        "&application_name=developers-italia-migration",
    );
  });

  it("derives the session's statement_timeout from the deadline and takes its lock_timeout", async () => {
    await settled(build({ migration: { deadlineSeconds: 60, postgresLockTimeout: "0" } }));
    const secret = byType("kubernetes:core/v1:Secret").find((s) => s.name === "dia-migrate-db")!;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const url = (secret.inputs as any).stringData.value.databaseUrl as string;
    expect(new globalThis.URL(url).searchParams.get("statement_timeout")).toBe("55s");
    expect(new globalThis.URL(url).searchParams.get("lock_timeout")).toBe("0");
  });

  it("holds the migration run on a rollback: the Job, its Secret and ConfigMap ignore every change", async () => {
    await settled(build({ hold: true }));
    const ignored = (name: string) => registered.find((r) => r.name === name)!.ignoreChanges;
    expect(ignored("dia-migrate-job")).toEqual(["metadata", "spec"]);
    expect(ignored("dia-migrate-db")).toEqual(["stringData", "data"]);
    expect(ignored("dia-migrate-files")).toEqual(["data"]);
    await settled(build());
    expect(ignored("dia-migrate-job")).toEqual([]);
    expect(ignored("dia-migrate-db")).toEqual([]);
  });

  it("ships the migrations, atlas.sum and atlas.hcl in an immutable ConfigMap mapped under /etc/atlas", async () => {
    await settled(build());
    const cm = inputs("kubernetes:core/v1:ConfigMap");
    expect(cm.immutable).toBe(true);
    expect(Object.keys(cm.data).sort()).toEqual([
      "20250909000000_m.sql",
      "20260410000000_m.sql",
      "atlas.hcl",
      "atlas.sum",
    ]);
    expect(cm.data["atlas.sum"]).toBe(formatHashFile(dir.hashFile));
    expect(cm.data["atlas.hcl"]).toContain('url = getenv("DATABASE_URL")');
    const volume = inputs("kubernetes:batch/v1:Job").spec.template.spec.volumes[0];
    expect(volume.configMap.items).toEqual([
      { key: "20250909000000_m.sql", path: "migrations/20250909000000_m.sql" },
      { key: "20260410000000_m.sql", path: "migrations/20260410000000_m.sql" },
      { key: "atlas.hcl", path: "atlas.hcl" },
      { key: "atlas.sum", path: "migrations/atlas.sum" },
    ]);
  });

  describe("with a database CA bundle", () => {
    const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const caVolume = {
      name: "database-ca",
      configMap: { name: "dia-db-ca-x1y2z3", items: [{ key: "ca.crt", path: "ca.crt" }] },
    };
    const caMount = { name: "database-ca", mountPath: "/etc/developers-italia/database-ca", readOnly: true };
    const caConfigMap = () => byType("kubernetes:core/v1:ConfigMap").find((r) => r.name === "dia-db-ca")!;

    it("ships it in one ConfigMap, mounted read-only at the same path in the Job and the API", async () => {
      await settled(build({ database: { url: pulumi.secret(URL), caCert: CA } }));
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const cm = caConfigMap().inputs as any;
      expect(caConfigMap().parent).toBe("dia");
      expect(cm.data).toEqual({ "ca.crt": CA });
      // Mutable: a new CA keeps the ConfigMap's name, so it does not re-run the Job.
      expect(cm.immutable).toBeUndefined();
      for (const type of ["kubernetes:batch/v1:Job", "kubernetes:apps/v1:Deployment"]) {
        const pod = inputs(type).spec.template.spec;
        expect(pod.volumes).toContainEqual(caVolume);
        expect(pod.containers[0].volumeMounts).toContainEqual(caMount);
      }
      const job = registered.find((r) => r.name === "dia-migrate-job")!;
      expect(job.dependsOn).toContain("dia-db-ca");
    });

    it("rolls the API when the CA changes (pgx reads it at startup), without touching the Job's key", async () => {
      const first = build({ database: { url: pulumi.secret(URL), caCert: CA } });
      await settled(first);
      const before = inputs("kubernetes:apps/v1:Deployment").spec.template.metadata.annotations;
      const other = build({ database: { url: pulumi.secret(URL), caCert: CA.replace("MIIB", "MIIC") } });
      await settled(other);
      const after = inputs("kubernetes:apps/v1:Deployment").spec.template.metadata.annotations;
      expect(before["deploy.developers.italia.it/database-ca"]).toMatch(/^[0-9a-f]{16}$/);
      expect(after["deploy.developers.italia.it/database-ca"]).not.toBe(
        before["deploy.developers.italia.it/database-ca"],
      );
      expect(other.migration.key).toBe(first.migration.key);
    });

    it("adds nothing without one", async () => {
      await settled(build());
      expect(caConfigMap()).toBeUndefined();
      const api = inputs("kubernetes:apps/v1:Deployment").spec.template;
      expect(api.spec.volumes).toBeUndefined();
      expect(api.metadata.annotations).not.toHaveProperty("deploy.developers.italia.it/database-ca");
      expect(JSON.stringify(inputs("kubernetes:batch/v1:Job"))).not.toContain("database-ca");
    });
  });

  it("rolls the API without downtime, probing what app.md documents", async () => {
    await settled(build({ scaling: { replicas: 3 } }));
    const spec = inputs("kubernetes:apps/v1:Deployment").spec;
    expect(spec.replicas).toBe(3);
    expect(spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    // Kubernetes' default deadline, written out; Pulumi waits a little longer, so a failed
    // rollout fails the up with the Deployment's ProgressDeadlineExceeded (test/e2e/rollout.test.ts).
    expect(spec.progressDeadlineSeconds).toBe(600);
    const deployment = registered.find((r) => r.name === "dia-api")!;
    expect([deployment.createTimeout, deployment.updateTimeout]).toEqual(["610s", "610s"]);
    const c = spec.template.spec.containers[0];
    expect(c.ports).toEqual([{ name: "http", containerPort: 3000, protocol: "TCP" }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/livez", port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(c.env.map((e: { name: string }) => e.name)).toEqual([
      "ENVIRONMENT",
      "MAX_REQUESTS",
      "DATABASE_DSN",
      "PASETO_KEY",
    ]);
    expect(inputs("kubernetes:core/v1:Service").spec.ports).toEqual([
      { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
    ]);
  });

  it("never deletes the Namespace it creates: one that existed is adopted, and destroy would take its contents", async () => {
    await settled(build());
    expect(one("kubernetes:core/v1:Namespace").retainOnDelete).toBe(true);
    // Only the namespace: the stack's own objects are still deleted by destroy.
    expect(registered.filter((r) => r.retainOnDelete).map((r) => r.name)).toEqual(["dia-ns"]);
  });

  it("skips the Namespace when it is managed elsewhere", async () => {
    await settled(build({ createNamespace: false }));
    expect(byType("kubernetes:core/v1:Namespace")).toHaveLength(0);
    expect(inputs("kubernetes:batch/v1:Job").metadata.namespace).toBe("developers-italia");
  });
});

describe("migrationKey", () => {
  const base = {
    atlasImage: "arigaio/atlas:0.13.1",
    atlasLockTimeout: "10s",
    postgresLockTimeout: "5s",
    deadlineSeconds: 300,
    sumTotal: dir.hashFile.total,
  };
  const key = migrationKey(base);

  it.each([
    ["the migrations", { sumTotal: "other" }],
    ["the Atlas image", { atlasImage: "arigaio/atlas:0.14.0" }],
    ["the baseline", { baseline: "20250909000000" }],
    ["the lock timeout", { atlasLockTimeout: "30s" }],
    ["the revisions schema", { revisionsSchema: "atlas" }],
    ["the database", { databaseIdentity: "0123456789abcdef" }],
    ["the session's lock_timeout", { postgresLockTimeout: "1s" }],
    ["the deadline (statement_timeout)", { deadlineSeconds: 60 }],
  ])("changes with %s", (_, change) => {
    expect(migrationKey({ ...base, ...change })).not.toBe(key);
  });

  it("does not change with anything else", () => {
    expect(migrationKey({ ...base })).toBe(key);
  });

  it.each<[string, Partial<MigrationRunInput>, string]>([
    // Computed before the image source was removed: no stack's Job is re-run by that change.
    ["the config's defaults (5s, 300 s)", {}, "4666e777ae0ea0ca"],
    [
      "every input set",
      {
        baseline: "20250909000000",
        revisionsSchema: "atlas",
        databaseIdentity: "0123456789abcdef",
        postgresLockTimeout: "1s",
        deadlineSeconds: 60,
      },
      "b1467b0f160cbe5d",
    ],
  ])("is the key existing stacks carry, with %s", (_, change, expected) => {
    const input = {
      atlasImage: "arigaio/atlas:1.2.3-community",
      atlasLockTimeout: "10s",
      postgresLockTimeout: "5s",
      deadlineSeconds: 300,
      sumTotal: "h1:abc=",
    };
    expect(migrationKey({ ...input, ...change })).toBe(expected);
  });
});
