/**
 * The test bed's image table: the only "registry" its Job pods can pull from.
 *
 * A kubelet pulls the image a container names; here an image reference resolves to a local
 * build only when it names exactly the version that build is (tag, or a digest recorded
 * here). Anything else is a pull failure (ErrImagePull, then ImagePullBackOff), as a
 * kubelet would report for a tag that does not exist: a Job that names an image the test
 * bed does not have waits, and fails by its deadline, instead of running some other build.
 *
 * Each image is described like the real one: where its files are, its default user, the
 * users and groups its /etc/passwd knows (which give HOME), its entrypoint, cmd, env and
 * working directory. testbed/sandbox.ts lays that out as the container's root filesystem.
 *
 * This is the ONE place that says which images exist. The Atlas version comes from
 * tools/versions.env (ATLAS_VERSION), the version tools/build.sh builds, so changing the
 * Atlas release there changes the image the test bed serves.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** A file of the image, taken read-only from this machine. */
export interface ImageFile {
  /** Path inside the container, absolute. */
  readonly path: string;
  /** The file on this machine. */
  readonly source: string;
}

export interface ImageUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export interface LocalImage {
  /** Normalised repository, e.g. docker.io/arigaio/atlas. */
  readonly repository: string;
  /** The tags that name exactly this build. */
  readonly tags: readonly string[];
  /** The digests (sha256:...) that name exactly this build; none known offline. */
  readonly digests: readonly string[];
  readonly files: readonly ImageFile[];
  /** Directories of the image (created in the container's layer), with their mode and owner. */
  readonly dirs: readonly { path: string; mode: number; uid?: number; gid?: number }[];
  /** /etc/passwd of the image. */
  readonly users: readonly ImageUser[];
  /** /etc/group of the image. */
  readonly groups: readonly { name: string; gid: number }[];
  /** The image config's User ("" = root), Entrypoint, Cmd, Env and WorkingDir. */
  readonly user: string;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir: string;
}

export interface ImageRef {
  /** Registry host, docker.io when none is written. */
  readonly registry: string;
  /** Repository with its registry, docker.io/library/... for official images. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
  /** How containerd names it: docker.io/arigaio/atlas:0.13.1. */
  readonly canonical: string;
}

/** Parses an image reference the way the container runtime normalises it. */
export function parseImageRef(image: string): ImageRef {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  // A first component with a dot or a colon, or "localhost", is a registry host.
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost")) {
    registry = parts.shift() as string;
    if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = "docker.io";
  }
  if (registry === "docker.io" && parts.length === 1) parts.unshift("library");
  if (tag === undefined && digest === undefined) tag = "latest";
  const repository = `${registry}/${parts.join("/")}`;
  const canonical = `${repository}${tag !== undefined ? `:${tag}` : ""}${digest !== undefined ? `@${digest}` : ""}`;
  return { registry, repository, tag, digest, canonical };
}

export type Resolution = { image: LocalImage } | { error: string };

/**
 * Finds the build an image reference names. With a digest, the digest decides (as a pull by
 * digest does); otherwise the tag must be one of the image's tags.
 */
export function resolveImage(table: readonly LocalImage[], image: string): Resolution {
  const ref = parseImageRef(image);
  const candidates = table.filter((i) => i.repository === ref.repository);
  const match = candidates.find((i) =>
    ref.digest !== undefined ? i.digests.includes(ref.digest) : i.tags.includes(ref.tag as string),
  );
  if (match) return { image: match };
  const have = table.flatMap((i) => i.tags.map((t) => `${i.repository}:${t}`)).join(", ");
  return {
    error:
      `failed to pull and unpack image "${ref.canonical}": ${ref.canonical}: not found ` +
      `(the test bed's image table, testbed/images.ts, holds only ${have})`,
  };
}

/** KEY=value lines of a shell env file (tools/versions.env); comments and blanks skipped. */
export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim().replace(/^"(.*)"$/, "$1");
  }
  return out;
}

/** The shared libraries a dynamically linked binary loads (ldd), so the image can carry them. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync("ldd", [binary], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return []; // "not a dynamic executable": a static binary needs nothing
  }
  const libs = new Set<string>();
  for (const line of out.split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (m) libs.add(m[1]);
  }
  return [...libs].sort();
}

/**
 * A distroless base as Google's images ship it (gcr.io/distroless/base-debian12): root,
 * nonroot (65532) and nobody users, a sticky /tmp, no shell. A dynamically linked binary
 * brings the C library it was linked against (distroless/base carries glibc).
 */
const DISTROLESS_USERS: ImageUser[] = [
  { name: "root", uid: 0, gid: 0, home: "/root" },
  { name: "nobody", uid: 65534, gid: 65534, home: "/nonexistent" },
  { name: "nonroot", uid: 65532, gid: 65532, home: "/home/nonroot" },
];
const DISTROLESS_GROUPS = [
  { name: "root", gid: 0 },
  { name: "tty", gid: 5 },
  { name: "staff", gid: 50 },
  { name: "nonroot", gid: 65532 },
  { name: "nogroup", gid: 65534 },
];
const DISTROLESS_DIRS = [
  { path: "/etc", mode: 0o755 },
  { path: "/etc/ssl/certs", mode: 0o755 },
  { path: "/root", mode: 0o700 },
  { path: "/home", mode: 0o755 },
  { path: "/home/nonroot", mode: 0o700, uid: 65532, gid: 65532 },
  { path: "/tmp", mode: 0o1777 },
  { path: "/var", mode: 0o755 },
  { path: "/proc", mode: 0o555 },
  { path: "/dev", mode: 0o755 },
];
const DISTROLESS_ENV = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  SSL_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt",
};

/**
 * The image table. `arigaio/atlas:<ATLAS_VERSION>` is Ariga's distroless Atlas image: the
 * binary at /atlas as its entrypoint, no USER (so root, HOME /root: Atlas's docs mount
 * `~/.atlas` at `/root/.atlas`), working directory /. Its tag is exactly the release that
 * tools/build.sh builds; no digest is recorded, since none can be checked offline.
 */
export function imageTable(toolsBin: string, versionsFile: string): LocalImage[] {
  const versions = readEnvFile(versionsFile);
  const atlasVersion = versions.ATLAS_VERSION;
  if (!atlasVersion) throw new Error(`${versionsFile}: ATLAS_VERSION is not set: it names the Atlas image's tag`);
  const atlas = path.join(toolsBin, "atlas");
  const binary = fs.existsSync(atlas) ? fs.realpathSync(atlas) : atlas;
  return [
    {
      repository: "docker.io/arigaio/atlas",
      tags: [atlasVersion],
      digests: [],
      files: [{ path: "/atlas", source: binary }, ...sharedLibraries(binary).map((l) => ({ path: l, source: l }))],
      dirs: DISTROLESS_DIRS,
      users: DISTROLESS_USERS,
      groups: DISTROLESS_GROUPS,
      user: "",
      entrypoint: ["/atlas"],
      cmd: [],
      env: DISTROLESS_ENV,
      workingDir: "/",
    },
  ];
}
