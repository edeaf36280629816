/**
 * The product's migration pod, exactly as lib/migration/run.ts renders it, run by the test
 * bed's container rules (testbed/sandbox.ts: image layout, volumes at their mount paths,
 * uid 65532, read-only root, no capabilities) against the real PostgreSQL, without a cluster.
 * The e2e suite runs the same code through the executor on the local control plane.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { formatHashFile } from "../../lib/migration/atlasSum";
import { loadMigrationDir } from "../../lib/migration/dir";
import { configMapData, configMapItems, migrationKey, migrationPodSpec, SECRET_KEY } from "../../lib/migration/run";
import { imageTable } from "../../testbed/images";
import type { Pod, PodSpec } from "../../testbed/kube";
import { prepareContainer, type PreparedContainer } from "../../testbed/sandbox";
import { StartProblem, type FetchData } from "../../testbed/volumes";
import { runInput } from "../support/atlasJob";
import { createDatabase, query, TestDatabase } from "../../testbed/pg";

jest.setTimeout(120_000);

const versionsFile = path.join(__dirname, "../../tools/versions.env");
const atlasVersion = /^ATLAS_VERSION=(.*)$/m.exec(fs.readFileSync(versionsFile, "utf8"))![1];
const images = imageTable(process.env.TOOLS_BIN ?? "", versionsFile);
const dir = loadMigrationDir(path.join(__dirname, "../../migrations"));
const input = runInput(dir, { atlasImage: `arigaio/atlas:${atlasVersion}` });
const data = configMapData(dir, formatHashFile(dir.hashFile));

/** The Job's pod as the API server would hand it to a kubelet. */
function migrationPod(edit: (spec: PodSpec) => void = () => undefined): Pod {
  const template = migrationPodSpec(
    input,
    { serviceAccount: "sa", secret: "db", configMap: "files" },
    configMapItems(data),
    migrationKey(input),
    "IfNotPresent",
  ) as unknown as { spec: PodSpec };
  const spec = JSON.parse(JSON.stringify(template.spec)) as PodSpec;
  edit(spec);
  return { metadata: { name: "migrate-abc12", namespace: "ns", uid: "uid-1" }, spec: { ...spec, nodeName: "n" } };
}

function fetcher(databaseUrl: string): FetchData {
  return async (kind, name) => {
    if (kind === "ConfigMap" && name === "files") {
      return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)]));
    }
    if (kind === "Secret" && name === "db") return { [SECRET_KEY]: Buffer.from(databaseUrl) };
    return undefined;
  };
}

let scratch: string;
let db: TestDatabase;
beforeEach(async () => {
  // Reachable by the container's uid (65532), like the executor's work folders.
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "testbed-sandbox-"));
  fs.chmodSync(scratch, 0o755);
  db = await createDatabase("sandbox");
});
afterEach(async () => {
  await db?.drop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function prepare(pod: Pod): Promise<PreparedContainer> {
  const prepared = await prepareContainer(
    pod,
    path.join(scratch, "pod"),
    fetcher(db.url),
    images,
    path.join(scratch, "images"),
  );
  if ("pullError" in prepared) throw new Error(prepared.pullError);
  return prepared;
}

function run(prepared: PreparedContainer): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(prepared.file, prepared.args, { env: prepared.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

test("the Job's pod runs as a container and applies every migration", async () => {
  const prepared = await prepare(migrationPod());
  // Kubernetes' argv: no host path in it, the mount paths as rendered.
  expect(prepared.argv[0]).toBe("/atlas");
  expect(prepared.argv).toContain("file:///etc/atlas/migrations");
  // The secret reaches the process through its environment, never through argv.
  expect(prepared.env.DATABASE_URL).toBe(db.url);
  expect(prepared.args.join(" ")).not.toContain(new URL(db.url).password);
  // Non-root with its groups (the read-only root is proven by a write, below).
  expect(prepared.args).toEqual(expect.arrayContaining(["--reuid=65532", "--regid=65532", "--groups=65532"]));
  const result = await run(prepared);
  expect(result.output).toContain(`Migrating to version ${dir.files[dir.files.length - 1].version}`);
  expect(result.code).toBe(0);
  const applied = await query<{ n: number }>(
    db.url,
    "SELECT count(*)::int AS n FROM atlas_schema_revisions.atlas_schema_revisions",
  );
  expect(applied).toEqual([{ n: dir.files.length }]);
});

test("a ConfigMap volume is read-only even when the mount does not say so, as the kubelet mounts it", async () => {
  const prepared = await prepare(
    migrationPod((spec) => {
      spec.containers[0].args = ["migrate", "hash", "--dir", "file:///etc/atlas/migrations"];
      for (const m of spec.containers[0].volumeMounts ?? []) delete m.readOnly;
    }),
  );
  const result = await run(prepared);
  expect(result.code).not.toBe(0);
  expect(result.output).toContain("/etc/atlas/migrations/atlas.sum: read-only file system");
});

test("with the Job's hardening, a write into its emptyDir (/tmp) works and a write elsewhere hits the read-only root", async () => {
  const hashInto = (d: string) =>
    prepare(
      migrationPod((spec) => {
        spec.containers[0].args = ["migrate", "hash", "--dir", `file://${d}`];
      }),
    ).then(run);
  const inEmptyDir = await hashInto("/tmp");
  expect(inEmptyDir.output).toBe("");
  expect(inEmptyDir.code).toBe(0);
  const inRoot = await hashInto("/etc");
  expect(inRoot.code).not.toBe(0);
  expect(inRoot.output).toContain("/etc/atlas.sum: read-only file system");
});

test("without HOME in the pod, HOME comes from the image's /etc/passwd: /home/nonroot for 65532", async () => {
  const prepared = await prepare(
    migrationPod((spec) => {
      spec.containers[0].env = spec.containers[0].env?.filter((e) => e.name !== "HOME");
    }),
  );
  expect(prepared.env.HOME).toBe("/home/nonroot");
});

test("without runAsUser, runAsNonRoot refuses Atlas's root image before anything runs", async () => {
  await expect(
    prepare(
      migrationPod((spec) => {
        delete spec.securityContext?.runAsUser;
      }),
    ),
  ).rejects.toMatchObject({
    constructor: StartProblem,
    reason: "CreateContainerConfigError",
    message: expect.stringContaining("container has runAsNonRoot and image will run as root"),
  });
});
