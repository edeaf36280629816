/**
 * The test bed's container rules as pure decisions: which image references resolve, who a
 * container runs as (and when the kubelet refuses it), its capabilities and its argv. The
 * e2e suite (test/e2e/testbed.test.ts) proves the same rules on running pods.
 */
import fs from "fs";
import os from "os";
import path from "path";
import { imageTable, parseImageRef, resolveImage, type LocalImage } from "../../testbed/images";
import type { Container, Pod } from "../../testbed/kube";
import { commandLine, containerIdentity, effectiveCapabilities } from "../../testbed/sandbox";
import { StartProblem } from "../../testbed/volumes";

const versionsFile = path.join(__dirname, "../../tools/versions.env");
const atlasVersion = /^ATLAS_VERSION=(.*)$/m.exec(fs.readFileSync(versionsFile, "utf8"))![1];
const table = imageTable(fs.mkdtempSync(path.join(os.tmpdir(), "no-tools-")), versionsFile);
const atlas = table[0];

describe("image references resolve only to the exact build", () => {
  test.each([
    [`arigaio/atlas:${atlasVersion}`],
    [`docker.io/arigaio/atlas:${atlasVersion}`],
    [`index.docker.io/arigaio/atlas:${atlasVersion}`],
  ])("%s is the local Atlas build", (ref) => {
    expect(resolveImage(table, ref)).toEqual({ image: atlas });
  });

  test.each([
    ["arigaio/atlas:0.99.0"],
    ["arigaio/atlas"],
    ["arigaio/atlas:latest"],
    [`arigaio/atlas:${atlasVersion}-alpine`],
    [`arigaio/atlas:${atlasVersion}@sha256:${"0".repeat(64)}`],
    [`ghcr.io/arigaio/atlas:${atlasVersion}`],
    ["busybox:1.36"],
    ["ghcr.io/italia/developers-italia-api:v1.4.0"],
  ])("%s is not in the table: a pull error naming the reference", (ref) => {
    const r = resolveImage(table, ref);
    expect(r).toHaveProperty("error");
    expect((r as { error: string }).error).toContain(`"${parseImageRef(ref).canonical}"`);
    expect((r as { error: string }).error).toContain(`docker.io/arigaio/atlas:${atlasVersion}`);
  });

  test("references are normalised as containerd does", () => {
    expect(parseImageRef("busybox").canonical).toBe("docker.io/library/busybox:latest");
    expect(parseImageRef("localhost:5000/a/b:1@sha256:ab")).toMatchObject({
      registry: "localhost:5000",
      repository: "localhost:5000/a/b",
      tag: "1",
      digest: "sha256:ab",
    });
  });

  test("the Atlas tag is ATLAS_VERSION from tools/versions.env, and the image is laid out like Ariga's", () => {
    expect(atlas.tags).toEqual([atlasVersion]);
    expect(atlas.entrypoint).toEqual(["/atlas"]);
    expect(atlas.files[0]).toMatchObject({ path: "/atlas" });
    expect(atlas.user).toBe("");
    expect(atlas.users.find((u) => u.uid === 0)?.home).toBe("/root");
  });
});

function pod(podSc: Pod["spec"]["securityContext"], containerSc?: Container["securityContext"]): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: "u-1" },
    spec: {
      securityContext: podSc,
      containers: [{ name: "atlas", image: "arigaio/atlas", securityContext: containerSc }],
    },
  };
}

function refusal(p: Pod, image: LocalImage = atlas): StartProblem {
  try {
    containerIdentity(p, p.spec.containers[0], image);
  } catch (e) {
    return e as StartProblem;
  }
  throw new Error("expected a refusal");
}

describe("who the container runs as", () => {
  test("no securityContext: the image's user, root, HOME /root", () => {
    const p = pod(undefined);
    expect(containerIdentity(p, p.spec.containers[0], atlas)).toEqual({ uid: 0, gid: 0, groups: [0], home: "/root" });
  });

  test("the migration Job's context: 65532, its group and fsGroup, HOME from the image's passwd", () => {
    const p = pod({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    expect(containerIdentity(p, p.spec.containers[0], atlas)).toEqual({
      uid: 65532,
      gid: 65532,
      groups: [65532],
      home: "/home/nonroot",
    });
  });

  test("the container's context wins; a uid the image does not know has HOME /", () => {
    const p = pod({ runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000] }, { runAsUser: 4242 });
    expect(containerIdentity(p, p.spec.containers[0], atlas)).toEqual({
      uid: 4242,
      gid: 0,
      groups: [0, 2000, 3000],
      home: "/",
    });
  });

  test("runAsNonRoot with a root image and no runAsUser: the kubelet's CreateContainerConfigError", () => {
    const e = refusal(pod({ runAsNonRoot: true }));
    expect(e).toBeInstanceOf(StartProblem);
    expect(e.reason).toBe("CreateContainerConfigError");
    expect(e.message).toBe(
      'container has runAsNonRoot and image will run as root (pod: "p_ns(u-1)", container: atlas)',
    );
  });

  test("runAsNonRoot with runAsUser 0 breaks the policy", () => {
    expect(refusal(pod({ runAsNonRoot: true }, { runAsUser: 0 })).message).toMatch(
      /^container's runAsUser breaks non-root policy/,
    );
  });

  test("runAsNonRoot with an image user given by name cannot be verified", () => {
    expect(refusal(pod({ runAsNonRoot: true }), { ...atlas, user: "nonroot" }).message).toMatch(
      /^container has runAsNonRoot and image has non-numeric user \(nonroot\)/,
    );
  });
});

describe("capabilities and argv", () => {
  test("drop ALL leaves none; add puts one back; defaults otherwise", () => {
    expect(effectiveCapabilities({ capabilities: { drop: ["ALL"] } })).toEqual([]);
    expect(effectiveCapabilities({ capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } })).toEqual([
      "CAP_NET_BIND_SERVICE",
    ]);
    const defaults = effectiveCapabilities({});
    expect(defaults).toContain("CAP_CHOWN");
    expect(effectiveCapabilities({ capabilities: { drop: ["CHOWN"] } })).toEqual(
      defaults.filter((c) => c !== "CAP_CHOWN"),
    );
  });

  test("command replaces the entrypoint, args the cmd; $(VAR) only in the pod's strings", () => {
    const image = { ...atlas, entrypoint: ["/atlas"], cmd: ["version"] };
    const expand = (s: string) => s.replace("$(X)", "x");
    expect(commandLine({ name: "c" }, image, expand)).toEqual(["/atlas", "version"]);
    expect(commandLine({ name: "c", args: ["migrate", "$(X)"] }, image, expand)).toEqual(["/atlas", "migrate", "x"]);
    expect(commandLine({ name: "c", command: ["/atlas"] }, image, expand)).toEqual(["/atlas"]);
  });
});
